import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ciie_portal.models import AuditEntry
from credentials.models import CredentialOrder
from credentials.orders.services import order_cancel
from payments.models import Payment, PaymentNotification
from payments.services import payment_create, payment_notification_handle
from registration.models import Visitor
from tests.payments.factories import open_for_payment, pending_order, signed_notification

S = CredentialOrder.Status
R = PaymentNotification.Result


@pytest.fixture
def payment(unit, edition):
    open_for_payment(edition)
    order = pending_order(unit)
    return payment_create(order=order, method="qr_alipay", actor=unit.account)


def _post(client, provider, body, headers):
    return client.post(
        f"/payments/notify/{provider}/",
        data=body,
        content_type="application/json",
        headers=headers,
    )


def test_a_signed_notification_through_the_callback_confirms_the_payment(client, payment):
    response = _post(client, *signed_notification(payment))
    assert response.status_code == 200
    assert response.content == b"success"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CONFIRMED
    assert payment.order.__class__.objects.get(pk=payment.order_id).status == S.PAID


def test_the_same_notification_twice_confirms_one_payment_once(client, payment):
    provider, body, headers = signed_notification(payment)
    assert _post(client, provider, body, headers).status_code == 200
    assert _post(client, provider, body, headers).status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CONFIRMED
    notification = PaymentNotification.objects.get()
    assert notification.times_received == 2
    assert notification.result == R.CONFIRMED
    assert AuditEntry.objects.filter(action="payment.confirmed").count() == 1
    assert AuditEntry.objects.filter(action="order.paid").count() == 1


def test_a_bad_signature_is_refused_and_recorded(client, payment):
    provider, body, _headers = signed_notification(payment)
    response = _post(client, provider, body, {"X-Sandbox-Signature": "0" * 64})
    assert response.status_code == 400
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED
    assert CredentialOrder.objects.get(pk=payment.order_id).status == S.PENDING_PAYMENT
    record = PaymentNotification.objects.get()
    assert record.signature_valid is False
    assert record.result == R.INVALID
    assert record.provider_transaction_id is None
    assert record.body["order_number"] == payment.order.number
    # The genuine notification is still accepted afterwards.
    assert _post(client, *signed_notification(payment)).status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CONFIRMED


def test_an_unsigned_notification_is_refused(client, payment):
    provider, body, _headers = signed_notification(payment)
    assert _post(client, provider, body, {}).status_code == 400
    assert not Payment.objects.filter(status=Payment.Status.CONFIRMED).exists()


def test_an_unknown_gateway_is_not_found(client, payment):
    _provider, body, headers = signed_notification(payment)
    assert _post(client, "nosuchpay", body, headers).status_code == 404


def test_a_wrong_amount_is_flagged_and_the_order_stays_unpaid(payment):
    record = payment_notification_handle(
        **dict(
            zip(
                ("provider", "body", "headers"),
                signed_notification(payment, amount="1.00"),
                strict=True,
            )
        )
    )
    assert record.result == R.FLAGGED
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED
    assert payment.flagged
    assert payment.received_amount == Decimal("1.00")
    assert "1.00" in payment.flag_reason
    order = CredentialOrder.objects.get(pk=payment.order_id)
    assert order.status == S.PENDING_PAYMENT
    assert Visitor.objects.filter(status=Visitor.Status.PENDING_REVIEW).count() == 0
    assert AuditEntry.objects.filter(action="payment.flagged").count() == 1


def _handle(payment, **kwargs):
    provider, body, headers = signed_notification(payment, **kwargs)
    return payment_notification_handle(provider=provider, body=body, headers=headers)


def test_money_after_the_order_was_cancelled_is_flagged_not_accepted(payment, contact):
    order_cancel(order=payment.order, actor=contact)
    record = _handle(payment)
    assert record.result == R.FLAGGED
    payment.refresh_from_db()
    assert payment.flagged and payment.status == Payment.Status.CREATED
    assert payment.provider_reference  # finance can find the money at the gateway
    assert CredentialOrder.objects.get(pk=payment.order_id).status == S.CANCELLED


def test_money_after_the_order_closed_is_flagged_not_accepted(payment):
    from credentials.orders.services import orders_expire

    orders_expire(now=payment.order.expires_at + timedelta(seconds=1))
    assert CredentialOrder.objects.get(pk=payment.order_id).status == S.CLOSED
    record = _handle(payment, paid_at=payment.order.expires_at + timedelta(seconds=5))
    assert record.result == R.FLAGGED
    payment.refresh_from_db()
    assert payment.flagged and payment.status == Payment.Status.CREATED
    assert "closed" in payment.flag_reason.lower() or "关闭" in payment.flag_reason


def test_money_paid_after_the_methods_deadline_is_flagged(payment, edition):
    edition.online_payment_deadline = timezone.now() - timedelta(minutes=1)
    edition.save()
    record = _handle(payment)
    assert record.result == R.FLAGGED
    assert CredentialOrder.objects.get(pk=payment.order_id).status == S.PENDING_PAYMENT


def test_a_second_payment_for_a_paid_order_is_flagged(payment, unit):
    other = Payment.objects.create(order=payment.order, method="qr_wechat", amount=payment.amount)
    assert _handle(payment).result == R.CONFIRMED
    assert _handle(other).result == R.FLAGGED
    other.refresh_from_db()
    assert other.flagged and other.status == Payment.Status.CREATED


def test_a_notification_for_an_unknown_payment_is_recorded(payment):
    record = _handle(payment, payment_id=payment.pk + 1000)
    assert record.result == R.UNKNOWN_PAYMENT
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED
    assert json.loads(json.dumps(record.body))["payment_id"] == payment.pk + 1000


def test_the_admin_shows_payments_read_only_to_finance(client, finance, payment):
    from django.contrib.auth.models import Permission

    finance.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="payments", codename__startswith="view_")
    )
    _handle(payment, amount="1.00")
    client.force_login(finance)
    page = client.get("/admin/payments/payment/?flagged__exact=1")
    assert page.status_code == 200
    assert payment.order.number in page.content.decode()
    search = client.get(f"/admin/payments/payment/?q={payment.order.number}")
    assert payment.order.number in search.content.decode()
    change = client.get(f"/admin/payments/payment/{payment.pk}/change/")
    assert change.status_code == 200
    assert 'name="amount"' not in change.content.decode()
    assert client.post(f"/admin/payments/payment/{payment.pk}/delete/").status_code == 403
    assert Payment.objects.filter(pk=payment.pk).exists()
    assert client.get("/admin/payments/paymentnotification/").status_code == 200
