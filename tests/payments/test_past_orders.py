"""往届订单: the unit sees the orders of its earlier editions (the same account and USCC, brought
forward) and finishes what their rules still allow — invoice a paid order, reverse the invoice,
ask a refund for a failed or cancelled visitor; paying after that edition's deadlines is refused
with the reason. Another organisation's past order does not exist."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from credentials.models import CredentialOrder
from invoicing.models import Invoice, InvoiceProfile
from payments.models import Method, Payment, Refund, TransferRemittance
from registration.models import Visitor
from registration.selectors import earlier_units
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.credentials.factories import order_with_lines
from tests.invoicing.factories import BUYER, issued_invoice, paid_order
from tests.payments.factories import open_for_payment, pending_order
from tests.registration.factories import ApprovedUnitFactory, UserFactory

S = CredentialOrder.Status
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def previous_edition(db):
    """The 9th expo: its payment deadlines (October 2016) lie long in the past."""
    edition = EditionFactory(number=9)
    EntryPeriodFactory(edition=edition)
    return edition


@pytest.fixture
def past_unit(unit, previous_edition):
    """The unit as registered for the 9th expo, brought forward into the 10th: same account,
    same USCC, ``previous`` set."""
    earlier = ApprovedUnitFactory(
        edition=previous_edition,
        account=unit.account,
        uscc=unit.uscc,
        name=unit.name,
        delegation=unit.delegation,
    )
    unit.previous = earlier
    unit.save(update_fields=["previous"])
    return earlier


@pytest.fixture
def stranger_past_order(previous_edition):
    """Another organisation's order of the 9th expo, paid."""
    return paid_order(ApprovedUnitFactory(edition=previous_edition))


@pytest.fixture
def signed_in(client, contact):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(contact)
    return client


def unpaid_past_order(past_unit) -> CredentialOrder:
    """An order of the 9th expo left unpaid: made the day before its online deadline."""
    created = datetime(2016, 10, 14, 10, 0, tzinfo=SHANGHAI)
    return order_with_lines(past_unit, created_at=created, expires_at=created + timedelta(hours=1))


def test_earlier_units_are_the_same_accounts_with_the_same_code(unit, past_unit, previous_edition):
    older_edition = EditionFactory(number=8)
    older = ApprovedUnitFactory(edition=older_edition, account=unit.account, uscc=unit.uscc)
    # The same USCC under another account (someone registered anew): not this account's.
    ApprovedUnitFactory(edition=EditionFactory(number=7), uscc=unit.uscc)
    # The same account under another code, and a later edition: neither.
    ApprovedUnitFactory(edition=EditionFactory(number=6), account=unit.account)
    later = EditionFactory(number=11)
    ApprovedUnitFactory(edition=later, account=unit.account, uscc=unit.uscc)
    assert list(earlier_units(unit)) == [past_unit, older]
    assert list(earlier_units(ApprovedUnitFactory(edition=unit.edition))) == []


def test_the_dashboard_lists_the_earlier_editions_orders(signed_in, unit, past_unit):
    paid = paid_order(past_unit, lines=2)
    invoice = issued_invoice(paid)
    unpaid = unpaid_past_order(past_unit)
    current = order_with_lines(unit)
    page = signed_in.get("/accounts/").content.decode()
    assert 'id="past-orders"' in page
    assert f'data-edition="{past_unit.edition.number}"' in page
    assert past_unit.edition.name in page
    for order in (paid, unpaid):
        assert f'href="/accounts/orders/{order.number}/"' in page
    assert f'data-number="{paid.number}" data-status="paid"' in page
    assert f'data-number="{unpaid.number}" data-status="pending_payment"' in page
    assert all(line.visitor.name in page for line in paid.lines.all())
    assert invoice.number in page and "¥400.00" in page
    assert current.number not in page  # the current edition's orders are under Orders
    assert "no orders" not in page


def test_an_unpaid_past_order_cannot_be_paid_and_the_page_says_why(
    signed_in, unit, past_unit, previous_edition
):
    order = unpaid_past_order(past_unit)
    page = signed_in.get(f"/accounts/orders/{order.number}/").content.decode()
    assert 'id="past-order"' in page and previous_edition.name in page
    assert 'id="payment-refused"' in page
    assert 'id="online-payment-methods"' not in page and "data-method=" not in page
    assert 'id="payment-countdown"' not in page and 'id="payment-ended"' not in page
    online = timezone.localtime(previous_edition.online_payment_deadline)
    transfer = timezone.localtime(previous_edition.transfer_deadline)
    assert f"closed on {online:%Y-%m-%d %H:%M}" in page
    assert f"closed on {transfer:%Y-%m-%d %H:%M}" in page

    # A direct POST is refused by the service, with the reason; nothing is recorded.
    response = signed_in.post(
        f"/payments/orders/{order.number}/pay/", {"method": Method.QR_ALIPAY}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"/accounts/orders/{order.number}/"
    messages = [str(message) for message in response.context["messages"]]
    assert any(f"closed on {online:%Y-%m-%d %H:%M}" in m for m in messages), messages
    transfer_page = signed_in.get(f"/payments/orders/{order.number}/transfer/").content.decode()
    assert 'id="transfer-closed"' in transfer_page and 'id="transfer-form"' not in transfer_page
    response = signed_in.post(
        f"/payments/orders/{order.number}/transfer/",
        {
            "payer_kind": "unit",
            "payer_name": past_unit.name,
            "bank_branch": "工商银行广州分行",
            "phone": "020-12345678",
            "account_number": "6222020202020202",
            "amount": str(order.total),
            "remitted_on": "2016-10-11",
        },
    )
    assert response.status_code == 200
    assert not Payment.objects.exists() and not TransferRemittance.objects.exists()
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT


def test_the_current_editions_deadlines_do_not_open_a_past_order(
    signed_in, unit, past_unit, edition
):
    """The 10th expo's payment is open; the 9th's order still follows the 9th's deadlines."""
    open_for_payment(edition)
    order = unpaid_past_order(past_unit)
    response = signed_in.post(f"/payments/orders/{order.number}/pay/", {"method": Method.B2B})
    assert response.status_code == 302
    assert not Payment.objects.exists()
    # …and the current edition's orders are paid as before.
    current = pending_order(unit)
    page = signed_in.get(f"/accounts/orders/{current.number}/").content.decode()
    assert 'id="past-order"' not in page and 'id="payment-refused"' not in page
    assert 'id="payment-countdown"' in page and 'data-method="qr_alipay"' in page
    response = signed_in.post(f"/payments/orders/{current.number}/pay/", {"method": "qr_alipay"})
    assert response.status_code == 302
    assert Payment.objects.get().order == current


def test_a_paid_past_order_is_invoiced_and_its_invoice_reversed(
    signed_in, unit, past_unit, django_capture_on_commit_callbacks
):
    order = paid_order(past_unit)
    page = signed_in.get(f"/accounts/orders/{order.number}/").content.decode()
    assert 'id="past-order"' in page
    assert f'href="/invoices/orders/{order.number}/request/"' in page
    assert signed_in.get(f"/invoices/orders/{order.number}/request/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(
            f"/invoices/orders/{order.number}/request/",
            {"kind": "electronic", **BUYER, "remark": "", "save_profile": "on"},
        )
    assert response.status_code == 302
    invoice = Invoice.objects.get(order=order)
    assert invoice.status == Invoice.Status.ISSUED
    assert invoice.edition == past_unit.edition  # numbered in its own edition's sequence
    assert invoice.number.startswith(f"{past_unit.edition.number:02d}")
    # The details are kept for the contact's current unit, where the form offers them.
    assert InvoiceProfile.objects.filter(unit=unit, title=BUYER["title"]).exists()
    assert not InvoiceProfile.objects.filter(unit=past_unit).exists()
    assert signed_in.get(f"/invoices/{invoice.pk}/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(f"/invoices/{invoice.pk}/reverse/", {"reason": "人员未通过审核"})
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.REVERSED
    assert invoice.credit_notes.get().status == Invoice.Status.ISSUED


def test_a_refund_is_asked_for_a_failed_visitor_of_a_past_order(signed_in, unit, past_unit):
    order = paid_order(past_unit, lines=2)
    failed, passed = (line.visitor for line in order.lines.order_by("pk"))
    Visitor.objects.filter(pk=failed.pk).update(status=Visitor.Status.REVIEW_FAILED)
    Visitor.objects.filter(pk=passed.pk).update(status=Visitor.Status.REVIEW_PASSED)
    detail = signed_in.get(f"/accounts/orders/{order.number}/").content.decode()
    assert f'href="/payments/refunds/new/?order={order.number}"' in detail

    page = signed_in.get(f"/payments/refunds/new/?order={order.number}").content.decode()
    assert f'data-number="{order.number}"' in page and past_unit.edition.name in page
    line = order.lines.get(visitor=failed)
    assert f'value="{line.pk}"' in page and "checked" in page
    other = order.lines.get(visitor=passed)
    assert f'value="{other.pk}"' not in page

    response = signed_in.post(
        "/payments/refunds/new/", {"lines": [line.pk, other.pk], "route": "original"}
    )
    assert response.status_code == 200  # the passed visitor is not refundable: nothing asked
    assert not Refund.objects.exists()
    response = signed_in.post("/payments/refunds/new/", {"lines": [line.pk], "route": "original"})
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/orders/{order.number}/"
    refund = Refund.objects.get()
    assert refund.order == order and refund.amount == line.fee
    assert refund.status == Refund.Status.REQUESTED
    assert refund.number in signed_in.get("/accounts/").content.decode()


def test_an_invoice_not_reversed_still_blocks_a_past_orders_refund(signed_in, past_unit):
    order = paid_order(past_unit)
    issued_invoice(order)
    line = order.lines.get()
    Visitor.objects.filter(pk=line.visitor_id).update(status=Visitor.Status.CANCELLED)
    response = signed_in.post("/payments/refunds/new/", {"lines": [line.pk], "route": "original"})
    assert response.status_code == 200
    assert "reverse the invoice" in response.content.decode()
    assert not Refund.objects.exists()


def test_another_organisations_past_order_does_not_exist(
    signed_in, unit, past_unit, stranger_past_order
):
    order = stranger_past_order
    invoice = issued_invoice(order)
    line = order.lines.get()
    Visitor.objects.filter(pk=line.visitor_id).update(status=Visitor.Status.REVIEW_FAILED)
    for url in (
        f"/accounts/orders/{order.number}/",
        f"/payments/orders/{order.number}/transfer/",
        f"/invoices/orders/{order.number}/",
        f"/invoices/orders/{order.number}/request/",
        f"/invoices/{invoice.pk}/",
        f"/invoices/{invoice.pk}/reverse/",
    ):
        assert signed_in.get(url).status_code == 404, url
    assert (
        signed_in.post(f"/payments/orders/{order.number}/pay/", {"method": "b2b"}).status_code
        == 404
    )
    assert signed_in.post(f"/accounts/orders/{order.number}/cancel/").status_code == 404
    assert signed_in.post(f"/invoices/{invoice.pk}/reverse/", {"reason": "x"}).status_code == 404
    page = signed_in.get(f"/payments/refunds/new/?order={order.number}").content.decode()
    assert f'data-number="{order.number}"' not in page and f'value="{line.pk}"' not in page
    response = signed_in.post("/payments/refunds/new/", {"lines": [line.pk], "route": "original"})
    assert response.status_code == 200
    assert not Refund.objects.exists()
    assert order.number not in signed_in.get("/accounts/").content.decode()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.ISSUED


def test_the_same_uscc_under_another_account_sees_no_past_orders(
    client, edition, previous_edition, guangzhou
):
    """A unit that registered anew under a USCC (the earlier account archived, not verified)
    does not see the earlier account's orders."""
    earlier = ApprovedUnitFactory(edition=previous_edition, uscc="91440300MA5F8K2N1K")
    order = paid_order(earlier)
    anew = ApprovedUnitFactory(
        edition=edition, uscc=earlier.uscc, account=UserFactory(), delegation=guangzhou
    )
    client.force_login(anew.account)
    assert client.get(f"/accounts/orders/{order.number}/").status_code == 404
    assert order.number not in client.get("/accounts/").content.decode()
