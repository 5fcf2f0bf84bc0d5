"""交易团代付: the secretary requests and downloads the consolidated order's invoice."""

import io

import pytest
from django.utils import translation
from pypdf import PdfReader

from invoicing.models import Invoice
from tests.payments.factories import paid_delegation_order


@pytest.fixture
def delegation_paid(edition, guangdong, unit, group_secretary, finance):
    return paid_delegation_order(edition, guangdong, unit, group_secretary, finance)


@pytest.fixture(autouse=True)
def _in_english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def test_the_secretary_requests_the_invoice_titled_to_the_payer(
    client, delegation_paid, group_secretary, unit, django_capture_on_commit_callbacks
):
    order, _line = delegation_paid
    client.force_login(group_secretary)
    url = f"/invoices/delegation-orders/{order.number}/"
    page = client.get(url).content.decode()
    assert 'id="invoice-request-form"' in page and "广东省商务厅" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "kind": "electronic",
                "title_kind": "unit",
                "title": "Someone else",  # locked: the transfer's payer wins
                "tax_number": unit.uscc,  # a valid USCC stands in for the department's
                "email": "finance@gd.example.com",
            },
        )
    assert response.status_code == 302
    invoice = Invoice.objects.get(order=order)
    assert (invoice.title, invoice.status) == ("广东省商务厅", Invoice.Status.ISSUED)
    page = client.get(url).content.decode()
    assert invoice.number in page and 'id="invoice-request-form"' not in page
    pdf = client.get(f"{url}{invoice.pk}/pdf/")
    assert pdf["Content-Type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert invoice.number in text and "广东省商务厅" in text


def test_other_secretaries_and_units_get_nothing(
    client,
    delegation_paid,
    other_secretary,
    secretary,
    contact,
):
    order, _line = delegation_paid
    url = f"/invoices/delegation-orders/{order.number}/"
    for user in (other_secretary, secretary):
        client.force_login(user)
        assert client.get(url).status_code in (403, 404)
        assert client.post(url, {"kind": "electronic"}).status_code in (403, 404)
    client.force_login(contact)
    assert client.get(url).status_code == 302  # not staff: to the admin login
    assert not Invoice.objects.exists()
