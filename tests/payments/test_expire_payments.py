"""Gateway payments started but never paid expire once their order is no longer payable."""

from ciie_portal.models import AuditEntry
from credentials.models import CredentialOrder
from credentials.orders.services import order_cancel
from payments.models import Method, Payment, PaymentNotification
from payments.services import payment_create, payment_notification_handle, payments_expire
from tests.payments.factories import open_for_payment, pending_order, signed_notification

P = Payment.Status


def started(unit, method=Method.QR_WECHAT):
    open_for_payment(unit.edition)
    order = pending_order(unit)
    return payment_create(order=order, method=method, actor=unit.account)


def test_payments_of_cancelled_closed_or_paid_orders_expire(unit):
    cancelled = started(unit)
    order_cancel(order=cancelled.order, actor=unit.account)
    late = started(unit)  # its window ends first of the payable orders' (see below)
    paid = started(unit)
    spare = payment_create(order=paid.order, method=Method.QR_ALIPAY, actor=unit.account)
    provider, body, headers = signed_notification(paid)
    payment_notification_handle(provider=provider, body=body, headers=headers)
    live = started(unit)
    transfer_order = pending_order(unit)
    CredentialOrder.objects.filter(pk=transfer_order.pk).update(status="cancelled")
    transfer = Payment.objects.create(
        order=transfer_order, method=Method.TRANSFER, amount=transfer_order.total
    )

    assert late.order.expires_at < live.order.expires_at
    assert payments_expire(now=late.order.expires_at) == 3  # late's window has just ended

    statuses = {p.pk: p.status for p in Payment.objects.all()}
    assert statuses[cancelled.pk] == statuses[late.pk] == statuses[spare.pk] == P.EXPIRED
    assert statuses[paid.pk] == P.CONFIRMED
    assert statuses[live.pk] == P.CREATED  # its order is still payable
    assert statuses[transfer.pk] == P.CREATED  # transfers are finance's to decide
    assert AuditEntry.objects.filter(action="payment.expired").count() == 3
    assert payments_expire() == 0  # safe to run twice


def test_money_for_an_expired_payment_is_flagged_not_lost(unit):
    payment = started(unit)
    order_cancel(order=payment.order, actor=unit.account)
    payments_expire()
    provider, body, headers = signed_notification(payment)
    record = payment_notification_handle(provider=provider, body=body, headers=headers)
    payment.refresh_from_db()
    assert record.result == PaymentNotification.Result.FLAGGED
    assert (payment.status, payment.flagged) == (P.EXPIRED, True)
    assert payment.received_amount == payment.amount
