"""A signed notification whose amount is not money is answered 400 and recorded, never a 500."""

import json

import pytest

from payments.models import Payment, PaymentNotification
from payments.providers import SIGNATURE_HEADER, provider_for, sandbox_sign
from payments.services import payment_create
from tests.payments.factories import open_for_payment, pending_order


@pytest.fixture
def payment(unit, edition):
    open_for_payment(edition)
    return payment_create(order=pending_order(unit), method="qr_alipay", actor=unit.account)


def _signed_with_amount(payment, amount, *, raw: bytes | None = None):
    provider = provider_for(payment.method)
    from django.utils import timezone

    body = provider.notification_body(payment, succeeded=True, paid_at=timezone.now())
    data = json.loads(body)
    data["amount"] = amount
    body = raw or json.dumps(data, sort_keys=True).encode()
    return provider.name, body, {SIGNATURE_HEADER: sandbox_sign(body)}


def _post(client, provider, body, headers):
    return client.post(
        f"/payments/notify/{provider}/", data=body, content_type="application/json",
        headers=headers,
    )  # fmt: skip


@pytest.mark.parametrize(
    "amount",
    ["NaN", "nan", "Infinity", "-Infinity", "1e400", "-1.00", "0.001", "abc", "", None, [], {}],
)
def test_a_signed_notification_with_an_amount_that_is_not_money_is_refused_and_recorded(
    client, payment, amount
):
    provider, body, headers = _signed_with_amount(payment, amount)

    response = _post(client, provider, body, headers)

    assert response.status_code == 400
    record = PaymentNotification.objects.get()
    assert record.result == PaymentNotification.Result.INVALID
    assert record.signature_valid is True
    assert "amount" in record.detail or "unreadable" in record.detail
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_a_bare_json_constant_is_refused_and_kept_as_text(client, payment, token):
    provider, body, _headers = _signed_with_amount(payment, "PLACEHOLDER")
    body = body.replace(b'"PLACEHOLDER"', token)
    headers = {SIGNATURE_HEADER: sandbox_sign(body)}

    response = _post(client, provider, body, headers)

    assert response.status_code == 400
    record = PaymentNotification.objects.get()
    assert record.result == PaymentNotification.Result.INVALID
    assert record.body == {"raw": body.decode()}
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED


def test_an_amount_with_two_decimals_still_confirms(client, payment):
    provider, body, headers = _signed_with_amount(payment, str(payment.amount))
    response = _post(client, provider, body, headers)
    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CONFIRMED


def test_with_the_sandbox_off_its_callback_answers_404_and_pays_nothing(client, payment, settings):
    provider, body, headers = _signed_with_amount(payment, str(payment.amount))
    settings.PAYMENT_SANDBOX_ENABLED = False

    response = _post(client, provider, body, headers)

    assert response.status_code == 404
    assert not PaymentNotification.objects.exists()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED
