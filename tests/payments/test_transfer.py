"""转账支付: the unit submits the remittance and voucher; finance confirms or rejects it."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from ciie_portal.models import AuditEntry
from credentials.models import CredentialOrder
from payments.models import Method, Payment, TransferRemittance
from payments.services import transfer_confirm, transfer_remittance_submit
from registration.models import Visitor
from tests.payments.factories import open_for_payment, pending_order

S = CredentialOrder.Status
CHANGELIST = "/admin/payments/payment/"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _private_media(private_media):
    return private_media


@pytest.fixture
def client():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def finance_clerk(finance):
    """Finance with the permissions ciie_portal/roles.py is to give the role."""
    finance.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="payments", codename__in=["view_payment", "confirm_transfer"]
        )
    )
    return finance


@pytest.fixture
def signed_in(client, contact, edition):
    open_for_payment(edition)
    client.force_login(contact)
    return client


def jpeg(name="voucher.jpg") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buffer, format="JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def form_data(order, **changes) -> dict:
    data = {
        "payer_kind": "unit",
        "payer_name": "广州示例贸易有限公司",
        "bank_branch": "中国银行广州天河支行",
        "account_number": "6217 0000 1234 5678",
        "phone": "020-12345678",
        "amount": str(order.total),
        "remitted_on": timezone.localdate().isoformat(),
        "voucher": jpeg(),
    }
    data.update(changes)
    return data


def submitted(unit, contact, *, amount=None) -> Payment:
    """A transfer awaiting finance, submitted through the service."""
    order = pending_order(unit)
    return transfer_remittance_submit(
        order=order,
        actor=contact,
        remittance={
            "payer_kind": "unit",
            "payer_name": "广州示例贸易有限公司",
            "bank_branch": "中国银行广州天河支行",
            "account_number": "6217000012345678",
            "phone": "02012345678",
            "amount": order.total if amount is None else amount,
            "remitted_on": timezone.localdate(),
            "voucher": jpeg(),
        },
    )


def admin_action(client, action, payments, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [p.pk for p in payments], **extra}
    return client.post(CHANGELIST, data)


# --- The unit ----------------------------------------------------------------------------------


def test_the_transfer_page_shows_the_account_with_the_order_number_as_reference(signed_in, unit):
    order = pending_order(unit)
    page = signed_in.get(f"/payments/orders/{order.number}/transfer/")
    content = page.content.decode()
    assert page.status_code == 200
    assert "中国国际进口博览局 (demo)" in content
    assert f'id="transfer-reference">{order.number}<' in content
    assert f"¥{order.total}" in content and 'id="transfer-form"' in content


def test_the_receiving_account_comes_from_the_settings(signed_in, unit, settings):
    settings.PAYMENT_TRANSFER_ACCOUNT = {"name": "某某局", "bank": "某银行", "account_number": "42"}
    order = pending_order(unit)
    content = signed_in.get(f"/payments/orders/{order.number}/transfer/").content.decode()
    assert "某某局" in content and "某银行" in content and "(demo)" not in content


def test_submitting_a_remittance_with_an_image_voucher(signed_in, unit, contact):
    order = pending_order(unit)
    response = signed_in.post(f"/payments/orders/{order.number}/transfer/", form_data(order))
    assert response.status_code == 302
    payment = Payment.objects.get(order=order)
    assert payment.method == Method.TRANSFER and payment.status == Payment.Status.CREATED
    assert payment.amount == order.total and payment.created_by == contact
    remittance = payment.remittance
    assert remittance.amount == order.total and remittance.voucher.name.endswith(".jpg")
    assert remittance.payer_name == "广州示例贸易有限公司"
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT
    assert AuditEntry.objects.filter(action="payment.transfer_submitted").count() == 1
    page = signed_in.get(response["Location"]).content.decode()
    assert 'id="transfer-awaiting"' in page and 'id="transfer-form"' not in page

    voucher = signed_in.get(f"/payments/transfers/{payment.pk}/voucher/")
    assert voucher.status_code == 200 and voucher["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(b"".join(voucher.streaming_content))) as image:
        assert image.format == "JPEG"


def test_a_second_remittance_waits_for_finance(signed_in, unit):
    order = pending_order(unit)
    signed_in.post(f"/payments/orders/{order.number}/transfer/", form_data(order))
    response = signed_in.post(f"/payments/orders/{order.number}/transfer/", form_data(order))
    assert response.status_code == 200
    assert "already awaits confirmation" in response.content.decode()
    assert Payment.objects.filter(order=order).count() == 1


def test_submitting_a_remittance_with_a_pdf_voucher(signed_in, unit):
    order = pending_order(unit)
    pdf = SimpleUploadedFile("回单.pdf", PDF, content_type="application/pdf")
    response = signed_in.post(
        f"/payments/orders/{order.number}/transfer/", form_data(order, voucher=pdf)
    )
    assert response.status_code == 302
    remittance = TransferRemittance.objects.get(payment__order=order)
    assert remittance.voucher.name.startswith("payment-vouchers/voucher")
    assert remittance.voucher_is_pdf
    voucher = signed_in.get(f"/payments/transfers/{remittance.payment_id}/voucher/")
    assert voucher["Content-Type"] == "application/pdf"
    assert b"".join(voucher.streaming_content) == PDF


@pytest.mark.parametrize(
    "upload",
    [
        SimpleUploadedFile("voucher.pdf", b"#!/bin/sh\nrm -rf /\n", content_type="application/pdf"),
        SimpleUploadedFile("voucher.jpg", b"<script>alert(1)</script>", content_type="image/jpeg"),
        SimpleUploadedFile("voucher.pdf", b"%PDF-1.4 <html>no trailer", content_type="text/html"),
    ],
    ids=["script-as-pdf", "page-as-jpg", "pdf-without-trailer"],
)
def test_a_renamed_file_is_refused_and_what_was_typed_is_kept(signed_in, unit, upload):
    order = pending_order(unit)
    data = form_data(order, voucher=upload, payer_name="保留的付款单位")
    response = signed_in.post(f"/payments/orders/{order.number}/transfer/", data)
    content = response.content.decode()
    assert response.status_code == 200
    assert "The voucher must be a JPG or PNG image or a PDF file." in content
    assert 'value="保留的付款单位"' in content
    assert not Payment.objects.exists() and not TransferRemittance.objects.exists()


def test_a_voucher_over_2_mb_is_refused(signed_in, unit):
    order = pending_order(unit)
    big = SimpleUploadedFile("voucher.pdf", PDF + b"0" * (2 * 1024 * 1024), "application/pdf")
    response = signed_in.post(
        f"/payments/orders/{order.number}/transfer/", form_data(order, voucher=big)
    )
    assert "The file is larger than 2 MB." in response.content.decode()
    assert not Payment.objects.exists()


def test_a_remittance_after_the_transfer_deadline_is_refused(signed_in, unit, edition):
    order = pending_order(unit)
    edition.transfer_deadline = timezone.now() - timedelta(minutes=1)
    edition.save(update_fields=["transfer_deadline"])
    page = signed_in.get(f"/payments/orders/{order.number}/transfer/").content.decode()
    assert 'id="transfer-closed"' in page and 'id="transfer-form"' not in page
    response = signed_in.post(f"/payments/orders/{order.number}/transfer/", form_data(order))
    assert response.status_code == 200
    assert "Payment by Bank transfer closed on" in response.content.decode()
    assert not Payment.objects.exists()


def test_the_pay_button_does_not_start_a_transfer_without_a_remittance(signed_in, unit):
    order = pending_order(unit)
    response = signed_in.post(f"/payments/orders/{order.number}/pay/", {"method": "transfer"})
    assert response["Location"] == f"/payments/orders/{order.number}/transfer/"
    assert not Payment.objects.exists()


def test_another_units_order_and_voucher_are_not_found(client, unit, contact, other_contact):
    open_for_payment(unit.edition)
    payment = submitted(unit, contact)
    client.force_login(other_contact)
    assert client.get(f"/payments/orders/{payment.order.number}/transfer/").status_code == 404
    assert client.get(f"/payments/transfers/{payment.pk}/voucher/").status_code == 404


def test_a_secretary_cannot_see_the_voucher(client, unit, contact, secretary):
    open_for_payment(unit.edition)
    payment = submitted(unit, contact)
    client.force_login(secretary)
    assert client.get(f"/payments/transfers/{payment.pk}/voucher/").status_code == 404


@pytest.mark.parametrize("who", ["finance_clerk", "organiser"])
def test_finance_and_organisers_see_the_voucher(client, unit, contact, who, request):
    open_for_payment(unit.edition)
    payment = submitted(unit, contact)
    client.force_login(request.getfixturevalue(who))
    assert client.get(f"/payments/transfers/{payment.pk}/voucher/").status_code == 200


# --- Finance -----------------------------------------------------------------------------------


def test_finance_confirms_a_transfer_and_the_order_is_paid(client, unit, contact, finance_clerk):
    open_for_payment(unit.edition)
    payment = submitted(unit, contact)
    client.force_login(finance_clerk)
    listed = client.get(CHANGELIST, {"transfer": "awaiting"})
    assert listed.status_code == 200 and payment.order.number in listed.content.decode()
    assert "confirm_transfer" in listed.content.decode()

    response = admin_action(client, "confirm_transfer", [payment])
    assert response.status_code == 302
    payment.refresh_from_db()
    order = payment.order
    order.refresh_from_db()
    assert payment.status == Payment.Status.CONFIRMED and payment.confirmed_at
    assert payment.received_amount == order.total and not payment.flagged
    assert order.status == S.PAID
    statuses = set(Visitor.objects.filter(unit=unit).values_list("status", flat=True))
    assert statuses == {Visitor.Status.PENDING_REVIEW}
    entry = AuditEntry.objects.get(action="payment.confirmed")
    assert entry.actor == finance_clerk
    assert client.get(CHANGELIST, {"transfer": "awaiting"}).context["cl"].result_count == 0


def test_confirming_twice_confirms_once(client, unit, contact, finance_clerk):
    open_for_payment(unit.edition)
    payment = submitted(unit, contact)
    assert transfer_confirm(payment_id=payment.pk, actor=finance_clerk) == "confirmed"
    assert transfer_confirm(payment_id=payment.pk, actor=finance_clerk) == "skipped"
    client.force_login(finance_clerk)
    admin_action(client, "confirm_transfer", [payment])
    assert AuditEntry.objects.filter(action="payment.confirmed").count() == 1
    assert AuditEntry.objects.filter(action="order.paid").count() <= 1
    payment.order.refresh_from_db()
    assert payment.order.status == S.PAID


def test_a_different_amount_is_flagged_not_confirmed(client, unit, contact, finance_clerk):
    open_for_payment(unit.edition)
    payment = submitted(unit, contact, amount=Decimal("150.00"))
    client.force_login(finance_clerk)
    admin_action(client, "confirm_transfer", [payment])
    payment.refresh_from_db()
    payment.order.refresh_from_db()
    assert payment.status == Payment.Status.CREATED and payment.flagged
    assert payment.received_amount == Decimal("150.00")
    assert "150.00 CNY remitted" in payment.flag_reason
    assert payment.order.status == S.PENDING_PAYMENT
    assert Visitor.objects.filter(unit=unit, status=Visitor.Status.PENDING_REVIEW).count() == 0


def test_finance_rejects_a_transfer_with_a_reason(client, unit, contact, finance_clerk):
    open_for_payment(unit.edition)
    payment = submitted(unit, contact)
    client.force_login(finance_clerk)
    page = admin_action(client, "reject_transfer", [payment])
    assert page.status_code == 200 and 'name="reason"' in page.content.decode()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED  # nothing happens without a reason

    response = admin_action(client, "reject_transfer", [payment], reason="未查到到账记录")
    assert response.status_code == 302
    payment.refresh_from_db()
    payment.order.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert payment.flag_reason == "未查到到账记录"
    assert payment.order.status == S.PENDING_PAYMENT
    assert AuditEntry.objects.get(action="payment.failed").reason == "未查到到账记录"

    # The unit sees why, and may submit a new remittance.
    client.force_login(contact)
    page = client.get(f"/payments/orders/{payment.order.number}/transfer/").content.decode()
    assert "未查到到账记录" in page and 'id="transfer-form"' in page
    order = payment.order
    response = client.post(f"/payments/orders/{order.number}/transfer/", form_data(order))
    assert response.status_code == 302
    assert Payment.objects.filter(order=order, status=Payment.Status.CREATED).count() == 1


def test_only_transfers_awaiting_confirmation_are_acted_on(client, unit, contact, finance_clerk):
    open_for_payment(unit.edition)
    qr = Payment.objects.create(
        order=pending_order(unit), method=Method.QR_ALIPAY, amount=Decimal("200.00")
    )
    client.force_login(finance_clerk)
    admin_action(client, "confirm_transfer", [qr])
    admin_action(client, "reject_transfer", [qr], reason="x")
    qr.refresh_from_db()
    assert qr.status == Payment.Status.CREATED
    assert qr.order.status == S.PENDING_PAYMENT


@pytest.mark.parametrize("who", ["secretary", "contact", "organiser", "finance"])
def test_without_the_permission_nobody_confirms(client, unit, contact, who, request):
    from django.contrib.auth.models import Permission

    open_for_payment(unit.edition)
    payment = submitted(unit, contact)
    user = request.getfixturevalue(who)
    # Finance holds the permission through its role: take it away for this check.
    confirm = Permission.objects.get(codename="confirm_transfer")
    for group in user.groups.all():
        group.permissions.remove(confirm)
    user.user_permissions.remove(confirm)
    client.force_login(user)
    listed = client.get(CHANGELIST)
    assert listed.status_code != 200 or "confirm_transfer" not in listed.content.decode()
    response = admin_action(client, "confirm_transfer", [payment])
    assert response.status_code in (200, 302, 403, 404)  # the changelist without the action
    admin_action(client, "reject_transfer", [payment], reason="x")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED
    payment.order.refresh_from_db()
    assert payment.order.status == S.PENDING_PAYMENT


def test_an_order_with_a_transfer_awaiting_finance_is_not_closed_by_expiry(unit, contact):

    from credentials.orders.services import orders_expire

    open_for_payment(unit.edition)
    payment = submitted(unit, contact)
    assert orders_expire(now=payment.order.expires_at) == 0  # its window has ended
    payment.order.refresh_from_db()
    assert payment.order.status == S.PENDING_PAYMENT
