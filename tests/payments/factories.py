from datetime import timedelta

from django.utils import timezone

from credentials.models import CredentialOrder
from credentials.orders.services import order_create
from payments.providers import SIGNATURE_HEADER, provider_for, sandbox_sign
from tests.credentials.factories import payable_visitor


def open_for_payment(edition, *, days: int = 30):
    """The test editions' deadlines lie in the past: move the online deadline ahead."""
    edition.online_payment_deadline = timezone.now() + timedelta(days=days)
    edition.transfer_deadline = edition.online_payment_deadline
    edition.save(update_fields=["online_payment_deadline", "transfer_deadline"])
    return edition


def pending_order(unit, *, visitors: int = 1) -> CredentialOrder:
    """An order made as a unit contact makes it: through the credentials service."""
    ids = [payable_visitor(unit).pk for _ in range(visitors)]
    return order_create(unit=unit, visitor_ids=ids, actor=unit.account)


def signed_notification(payment, *, paid_at=None, succeeded=True, **changes):
    """The body and headers the sandbox gateway would send for ``payment``, with ``changes``
    applied to the body before signing (a wrong amount is still correctly signed)."""
    import json

    provider = provider_for(payment.method)
    body = provider.notification_body(
        payment, succeeded=succeeded, paid_at=paid_at or timezone.now()
    )
    if changes:
        data = json.loads(body)
        data.update(changes)
        body = json.dumps(data, sort_keys=True).encode()
    return provider.name, body, {SIGNATURE_HEADER: sandbox_sign(body)}


def paid_delegation_order(edition, guangdong, unit, group_secretary, finance):
    """广东交易团 paid its consolidated order for two visitors of 广州; one failed the review."""
    from django.contrib.auth.models import Group, Permission

    from ciie_portal.roles import SECRETARY
    from credentials.orders.delegation import delegation_order_create
    from payments.models import Method, Payment, TransferRemittance
    from payments.services import transfer_confirm
    from registration.models import VISITOR_STATES, Visitor
    from tests.credentials.factories import delegation_paid_visitor

    Group.objects.get(name=SECRETARY).permissions.add(
        *Permission.objects.filter(
            content_type__app_label="credentials",
            codename__in=["view_credentialorder", "settle_delegation_order"],
        )
    )
    open_for_payment(edition)
    failed = delegation_paid_visitor(unit)
    delegation_paid_visitor(unit)  # passes the review: not refundable
    order = delegation_order_create(delegation=guangdong, actor=group_secretary)
    payment = Payment.objects.create(
        order=order, method=Method.TRANSFER, amount=order.total, created_by=group_secretary
    )
    TransferRemittance.objects.create(
        payment=payment,
        payer_name="广东省商务厅",
        bank_branch="工商银行广州分行",
        phone="020-12345678",
        account_number="6222020202020202",
        amount=order.total,
        remitted_on=payment.created_at.date(),
        voucher="payment-vouchers/v.pdf",
    )
    assert transfer_confirm(payment_id=payment.pk, actor=finance) == "confirmed"
    VISITOR_STATES.move(failed, Visitor.Status.REVIEW_FAILED, actor=None, reason="背审")
    order.refresh_from_db()
    return order, order.lines.get(visitor=failed)
