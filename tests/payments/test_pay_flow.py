from datetime import timedelta
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from ciie_portal.models import AuditEntry
from credentials.models import CredentialOrder
from credentials.orders.services import order_cancel
from payments.models import Payment, PaymentNotification
from registration.models import Visitor
from tests.payments.factories import open_for_payment, pending_order

S = CredentialOrder.Status


@pytest.fixture
def signed_in(client, contact, edition):
    open_for_payment(edition)
    client.force_login(contact)
    return client


def test_paying_in_the_sandbox_confirms_the_payment_and_the_order(
    signed_in, unit, django_capture_on_commit_callbacks
):
    order = pending_order(unit, visitors=2)
    response = signed_in.post(f"/payments/orders/{order.number}/pay/", {"method": "qr_alipay"})
    payment = Payment.objects.get(order=order)
    assert response.status_code == 302
    assert response["Location"] == f"/payments/sandbox/{payment.pk}/"
    assert payment.method == "qr_alipay"
    assert payment.amount == order.total == Decimal("400.00")
    assert payment.status == Payment.Status.CREATED

    page = signed_in.get(response["Location"])
    content = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in content and order.number in content and "¥400.00" in content
    assert 'id="payment-countdown"' in content

    # The gateway notifies the portal once the "pay" request has committed.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = signed_in.post(f"/payments/sandbox/{payment.pk}/", {"outcome": "pay"})
    assert len(callbacks) == 1
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/orders/{order.number}/"
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.CONFIRMED
    assert payment.provider_reference and payment.confirmed_at
    assert payment.received_amount == Decimal("400.00")
    assert order.status == S.PAID
    statuses = set(Visitor.objects.filter(unit=unit).values_list("status", flat=True))
    assert statuses == {Visitor.Status.PENDING_REVIEW}
    notification = PaymentNotification.objects.get()
    assert notification.signature_valid
    assert notification.result == PaymentNotification.Result.CONFIRMED
    assert notification.payment == payment
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"payment.created", "payment.confirmed", "payment_notification.confirmed"} <= actions
    assert "order.paid" in actions


def test_b2b_goes_to_the_bank_page_without_a_qr_code(signed_in, unit):
    order = pending_order(unit)
    response = signed_in.post(f"/payments/orders/{order.number}/pay/", {"method": "b2b"})
    page = signed_in.get(response["Location"]).content.decode()
    assert "B2B" in page or "网上" in page
    assert "<svg" not in page


def test_a_failed_payment_leaves_the_order_pending(
    signed_in, unit, django_capture_on_commit_callbacks
):
    order = pending_order(unit)
    signed_in.post(f"/payments/orders/{order.number}/pay/", {"method": "qr_wechat"})
    payment = Payment.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(f"/payments/sandbox/{payment.pk}/", {"outcome": "fail"})
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert order.status == S.PENDING_PAYMENT


def test_after_the_methods_deadline_the_payment_is_refused_at_start(signed_in, unit, edition):
    order = pending_order(unit)
    edition.online_payment_deadline = timezone.now() - timedelta(minutes=1)
    edition.save()
    response = signed_in.post(
        f"/payments/orders/{order.number}/pay/", {"method": "qr_unionpay"}, follow=True
    )
    assert not Payment.objects.exists()
    assert response.redirect_chain[-1][0] == f"/accounts/orders/{order.number}/"
    messages = [str(message) for message in response.context["messages"]]
    deadline = timezone.localtime(edition.online_payment_deadline).strftime("%Y-%m-%d %H:%M")
    assert any(deadline in message for message in messages), messages


def test_a_cancelled_order_cannot_be_paid(signed_in, unit, contact):
    order = pending_order(unit)
    order_cancel(order=order, actor=contact)
    signed_in.post(f"/payments/orders/{order.number}/pay/", {"method": "qr_alipay"})
    assert not Payment.objects.exists()


def test_another_units_order_and_payment_do_not_exist(signed_in, other_unit):
    order = pending_order(other_unit)
    response = signed_in.post(f"/payments/orders/{order.number}/pay/", {"method": "qr_alipay"})
    assert response.status_code == 404
    assert not Payment.objects.exists()
    payment = Payment.objects.create(order=order, method="qr_alipay", amount=order.total)
    assert signed_in.get(f"/payments/sandbox/{payment.pk}/").status_code == 404
    assert signed_in.post(f"/payments/sandbox/{payment.pk}/", {"outcome": "pay"}).status_code == 404
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT


def test_the_pages_need_a_login(client, unit, edition):
    open_for_payment(edition)
    order = pending_order(unit)
    response = client.post(f"/payments/orders/{order.number}/pay/", {"method": "qr_alipay"})
    assert response.status_code == 302 and "/login" in response["Location"]
    assert not Payment.objects.exists()


def test_the_methods_show_for_a_pending_order_with_their_deadline(rf, unit, edition, contact):
    open_for_payment(edition)
    order = pending_order(unit)
    request = rf.get("/")
    request.user = contact
    html = render_to_string("payments/_methods.html", {"order": order}, request=request)
    for method in ("qr_alipay", "qr_wechat", "qr_unionpay", "b2b"):
        assert f'data-method="{method}"' in html
    deadline = timezone.localtime(edition.online_payment_deadline).strftime("%Y-%m-%d %H:%M")
    assert deadline in html
    assert f"/payments/orders/{order.number}/pay/" in html
    order_cancel(order=order, actor=contact)
    order.refresh_from_db()
    html = render_to_string("payments/_methods.html", {"order": order}, request=request)
    assert "data-method" not in html
