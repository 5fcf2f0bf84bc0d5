"""Finance's invoice desk in the admin: read-only invoices, actions that call the services."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.test import Client

from ciie_portal.models import AuditEntry
from invoicing.models import Invoice, InvoiceKind
from invoicing.services import invoice_reverse, invoice_ship
from tests.invoicing.factories import issued_invoice, paid_order, requested_invoice
from tests.registration.factories import UserFactory

CHANGELIST = "/admin/invoicing/invoice/"
S = Invoice.Status


@pytest.fixture
def client():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def finance_clerk(finance):
    """Finance with the permissions ciie_portal/roles.py is to give the role."""
    finance.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="invoicing",
            codename__in=["view_invoice", "view_invoiceline", "issue_invoice"],
        )
    )
    return finance


@pytest.fixture
def desk(client, finance_clerk):
    client.force_login(finance_clerk)
    return client


def act(client, action, invoices, **data):
    return client.post(
        CHANGELIST,
        {"action": action, ACTION_CHECKBOX_NAME: [i.pk for i in invoices], **data},
        follow=True,
    )


def test_invoices_are_listed_filtered_and_read_only(desk, unit, other_unit):
    to_issue = requested_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    issued = issued_invoice(paid_order(other_unit))
    listing = desk.get(CHANGELIST).content.decode()
    assert issued.number in listing and to_issue.title in listing
    todo = desk.get(CHANGELIST, {"todo": "issue"}).context["cl"].result_list
    assert list(todo) == [to_issue]
    page = desk.get(f"{CHANGELIST}{issued.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200 and issued.number in html
    assert f"/invoices/{issued.pk}/pdf/" in html
    assert "贰佰元整" in html
    assert 'name="_save"' not in html
    assert desk.get(f"{CHANGELIST}add/").status_code == 403
    assert desk.get(f"{CHANGELIST}{issued.pk}/delete/").status_code == 403
    assert desk.post(f"{CHANGELIST}{issued.pk}/change/", {"title": "改"}).status_code == 403
    response = desk.post(
        CHANGELIST, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [issued.pk]}
    )
    assert Invoice.objects.filter(pk=issued.pk).exists()
    assert response.status_code in (200, 302)


def test_finance_issues_a_special_invoice_with_a_drawn_or_entered_number(desk, unit, finance_clerk):
    first = requested_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    second = requested_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    electronic = issued_invoice(paid_order(unit))

    form = act(desk, "issue_special", [first, electronic])
    assert form.status_code == 200
    assert 'name="issued_on"' in form.content.decode()
    page = act(desk, "issue_special", [first], apply="1", number="04400001", issued_on="2026-11-20")
    assert "1 special invoice issued." in page.content.decode()
    first.refresh_from_db()
    assert (first.status, first.number, str(first.issued_on)) == (
        S.ISSUED,
        "04400001",
        "2026-11-20",
    )
    assert first.issued_by == finance_clerk

    page = act(desk, "issue_special", [second], apply="1", number="", issued_on="2026-11-21")
    second.refresh_from_db()
    assert second.number == "100200000001"
    assert AuditEntry.objects.filter(action="invoice.issued", actor=finance_clerk).count() == 2


def test_finance_enters_the_tracking_number_and_confirms_a_return(desk, unit, finance_clerk):
    invoice = issued_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    assert list(desk.get(CHANGELIST, {"todo": "post"}).context["cl"].result_list) == [invoice]
    page = act(
        desk, "ship_special", [invoice], apply="1", courier="顺丰速运", tracking_number="SF1"
    )
    assert "1 paper invoice marked as posted." in page.content.decode()
    invoice.refresh_from_db()
    assert (invoice.courier, invoice.tracking_number) == ("顺丰速运", "SF1")
    assert invoice.shipped_at is not None

    invoice_reverse(
        invoice_id=invoice.pk, actor=unit.account, return_courier="EMS", return_tracking_number="E1"
    )
    assert list(desk.get(CHANGELIST, {"todo": "returns"}).context["cl"].result_list) == [invoice]
    page = act(desk, "confirm_return", [invoice])
    assert "1 returned invoice received" in page.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == S.REVERSED
    assert invoice.return_received_at is not None and invoice.reversed_at is not None
    assert not invoice.order.invoices.blocking_refund().exists()
    assert AuditEntry.objects.get(action="invoice.reversed").actor == finance_clerk


def test_finance_rejects_a_request_with_a_reason(desk, unit):
    invoice = requested_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    page = act(desk, "reject_request", [invoice], apply="1", reason="")
    assert page.status_code == 200
    invoice.refresh_from_db()
    assert invoice.status == S.REQUESTED
    act(desk, "reject_request", [invoice], apply="1", reason="开户行信息有误")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.rejection_reason) == (S.REJECTED, "开户行信息有误")


def test_finance_reverses_an_electronic_invoice(desk, unit, django_capture_on_commit_callbacks):
    invoice = issued_invoice(paid_order(unit))
    with django_capture_on_commit_callbacks(execute=True):
        act(desk, "reverse_electronic", [invoice], apply="1", reason="单位申请")
    invoice.refresh_from_db()
    assert invoice.status == S.REVERSED
    assert invoice.credit_notes.get().status == S.ISSUED


def test_finance_issues_an_electronic_invoice_whose_task_was_lost(desk, unit):
    invoice = requested_invoice(paid_order(unit))  # the on-commit task never ran here
    assert list(desk.get(CHANGELIST, {"todo": "electronic"}).context["cl"].result_list) == [invoice]
    act(desk, "issue_electronic_now", [invoice])
    invoice.refresh_from_db()
    assert invoice.status == S.ISSUED and invoice.number == "100100000001"


@pytest.fixture
def staff_viewer(db):
    """Staff, not in the finance role, allowed only to look at invoices."""
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    return user


def test_staff_without_the_invoice_permissions_see_no_invoices(client, unit, secretary):
    """A secretary, or staff with no role: no invoices in the admin."""
    invoice = issued_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    for user in (secretary, UserFactory(is_staff=True)):
        client.force_login(user)
        assert client.get(CHANGELIST).status_code == 403
        assert client.get(f"{CHANGELIST}{invoice.pk}/change/").status_code in (302, 403, 404)
        assert "invoicing" not in client.get("/admin/").content.decode()


def test_viewing_is_not_acting(client, unit, staff_viewer):
    """View permission alone (no issue_invoice) lists invoices but offers no action."""
    client.force_login(staff_viewer)
    invoice = requested_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    listing = client.get(CHANGELIST)
    assert listing.status_code == 200
    assert "issue_special" not in listing.content.decode()
    act(client, "issue_special", [invoice], apply="1", number="", issued_on="2026-11-20")
    invoice.refresh_from_db()
    assert invoice.status == S.REQUESTED
    # Nor can a request be marked as posted before it is issued.
    assert not invoice_ship(invoice_id=invoice.pk, actor="system", courier="x", tracking_number="y")


def test_finance_requests_an_invoice_for_an_order(desk, unit, django_capture_on_commit_callbacks):
    """For orders the unit cannot invoice itself (a delegation's consolidated order)."""
    from tests.invoicing.factories import BUYER

    order = paid_order(unit)
    assert "/admin/invoicing/invoice/request/" in desk.get(CHANGELIST).content.decode()
    assert "No such order" in desk.get(f"{CHANGELIST}request/", {"order": "V0"}).content.decode()
    page = desk.get(f"{CHANGELIST}request/", {"order": order.number})
    assert 'id="admin-invoice-request"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = desk.post(
            f"{CHANGELIST}request/?order={order.number}", {"kind": "electronic", **BUYER}
        )
    invoice = Invoice.objects.get(order=order)
    assert response.status_code == 302
    assert response["Location"] == f"{CHANGELIST}{invoice.pk}/change/"
    assert invoice.status == S.ISSUED


def test_only_finance_may_request_in_the_admin(client, staff_viewer):
    client.force_login(staff_viewer)
    assert client.get(f"{CHANGELIST}request/").status_code == 403
