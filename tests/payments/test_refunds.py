"""退款: the unit asks, finance approves or rejects, the gateway or finance pays it back."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import translation

from ciie_portal.models import AuditEntry, Notice
from credentials.models import CredentialOrder
from invoicing.models import Invoice
from payments.models import REFUND_STATES, Method, Payment, Refund, RefundLine
from payments.providers import RefundFailed, SandboxQrProvider
from payments.refunds import (
    refund_approve,
    refund_complete,
    refund_execute,
    refund_reject,
    refundable_lines,
    refunds_request,
)
from payments.services import (
    payment_create,
    payment_notification_handle,
    transfer_confirm,
    transfer_remittance_submit,
)
from registration.models import VISITOR_STATES, Visitor
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.conftest import on_postgres
from tests.payments.factories import (
    open_for_payment,
    paid_delegation_order,
    pending_order,
    signed_notification,
)
from tests.races import run_at_once
from tests.registration.factories import ApprovedUnitFactory, UserFactory

R = Refund.Status
CHANGELIST = "/admin/payments/refund/"


@pytest.fixture(autouse=True)
def _in_english(settings):
    """Messages are asserted in English (the catalogue's msgids); pages default to English too."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def paid_by_qr(unit, *, visitors=2) -> CredentialOrder:
    open_for_payment(unit.edition)
    order = pending_order(unit, visitors=visitors)
    payment = payment_create(order=order, method=Method.QR_ALIPAY, actor=unit.account)
    provider, body, headers = signed_notification(payment)
    payment_notification_handle(provider=provider, body=body, headers=headers)
    order.refresh_from_db()
    assert order.status == CredentialOrder.Status.PAID
    return order


def paid_by_transfer(unit, *, visitors=1, finance_user=None) -> CredentialOrder:
    import datetime

    from django.core.files.uploadedfile import SimpleUploadedFile

    open_for_payment(unit.edition)
    order = pending_order(unit, visitors=visitors)
    payment = transfer_remittance_submit(
        order=order,
        actor=unit.account,
        remittance={
            "payer_kind": "unit",
            "payer_name": unit.name,
            "bank_branch": "工商银行广州分行",
            "phone": "020-12345678",
            "account_number": "6222020202020202",
            "amount": order.total,
            "remitted_on": datetime.date.today(),
            "voucher": SimpleUploadedFile("v.pdf", b"%PDF-1.4\n%%EOF\n"),
        },
    )
    assert transfer_confirm(payment_id=payment.pk, actor=finance_user) == "confirmed"
    order.refresh_from_db()
    return order


def fail_review(*lines):
    for line in lines:
        VISITOR_STATES.move(line.visitor, Visitor.Status.REVIEW_FAILED, actor=None, reason="背审")


@pytest.fixture(autouse=True)
def _private_media(private_media):
    return private_media


@pytest.fixture
def client():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


# --- Asking -------------------------------------------------------------------------------


def test_only_failed_or_cancelled_visitors_of_paid_orders_are_refundable(unit, contact):
    order = paid_by_qr(unit, visitors=3)
    failed, cancelled, passed = order.lines.order_by("pk")
    fail_review(failed)
    VISITOR_STATES.move(cancelled.visitor, Visitor.Status.CANCELLED, actor=None)
    VISITOR_STATES.move(passed.visitor, Visitor.Status.REVIEW_PASSED, actor=None)
    pending = pending_order(unit)  # unpaid: nothing to refund
    VISITOR_STATES.move(pending.lines.get().visitor, Visitor.Status.CANCELLED, actor=None)

    assert set(refundable_lines(unit)) == {failed, cancelled}
    with pytest.raises(ValidationError, match="Only visitors whose review failed"):
        refunds_request(unit=unit, line_ids=[passed.pk], actor=contact)
    assert not Refund.objects.exists()


def test_request_records_one_refund_per_order_with_the_line_fees(unit, contact):
    first, second = paid_by_qr(unit, visitors=2), paid_by_qr(unit, visitors=1)
    lines = [*first.lines.all(), *second.lines.all()]
    fail_review(*lines)

    refunds = refunds_request(unit=unit, line_ids=[line.pk for line in lines], actor=contact)

    assert [(r.order, r.amount, r.status, r.route) for r in refunds] == [
        (first, Decimal("400.00"), R.REQUESTED, "original"),
        (second, Decimal("200.00"), R.REQUESTED, "original"),
    ]
    assert refunds[0].payment.status == Payment.Status.CONFIRMED
    assert RefundLine.objects.filter(active=True).count() == 3
    assert AuditEntry.objects.filter(action="refund.requested").count() == 2
    assert not refundable_lines(unit).exists()


def test_a_line_is_never_refunded_twice(unit, contact):
    order = paid_by_qr(unit, visitors=1)
    line = order.lines.get()
    fail_review(line)
    refunds_request(unit=unit, line_ids=[line.pk], actor=contact)
    with pytest.raises(ValidationError, match="not refunded already"):
        refunds_request(unit=unit, line_ids=[line.pk], actor=contact)
    # And the database agrees, whatever the application does.
    refund = Refund.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        RefundLine.objects.create(refund=refund, order_line=line, amount=line.fee)


def test_refund_never_more_than_was_paid(unit, contact):
    order = paid_by_qr(unit, visitors=2)
    lines = list(order.lines.all())
    fail_review(*lines)
    # The gateway's money was only 200 of the 400 (recorded as such by finance).
    Payment.objects.filter(order=order).update(received_amount=Decimal("200.00"))
    with pytest.raises(ValidationError, match="only 200.00 CNY of it is unrefunded"):
        refunds_request(unit=unit, line_ids=[line.pk for line in lines], actor=contact)
    refunds_request(unit=unit, line_ids=[lines[0].pk], actor=contact)
    assert Refund.objects.get().amount == Decimal("200.00")


def test_another_units_lines_are_refused(unit, other_unit, contact):
    theirs = paid_by_qr(other_unit, visitors=1).lines.get()
    fail_review(theirs)
    with pytest.raises(ValidationError):
        refunds_request(unit=unit, line_ids=[theirs.pk], actor=contact)
    assert not Refund.objects.exists()


def _invoice(order, status="issued"):
    return Invoice.objects.create(
        edition=order.edition,
        order=order,
        kind="electronic",
        status=status,
        number="26100000001" if status == "issued" else None,
        title_kind="unit",
        title=order.unit.name,
        tax_rate=Decimal("0.06"),
        total=order.total,
        amount_excl_tax=(order.total / Decimal("1.06")).quantize(Decimal("0.01")),
        tax_amount=order.total - (order.total / Decimal("1.06")).quantize(Decimal("0.01")),
    )


def test_refund_refused_while_an_invoice_is_not_reversed(unit, contact):
    order = paid_by_qr(unit, visitors=1)
    line = order.lines.get()
    fail_review(line)
    invoice = _invoice(order)
    with pytest.raises(ValidationError, match="reverse the invoice"):
        refunds_request(unit=unit, line_ids=[line.pk], actor=contact)

    Invoice.objects.filter(pk=invoice.pk).update(status="reversed")
    (refund,) = refunds_request(unit=unit, line_ids=[line.pk], actor=contact)
    assert refund.status == R.REQUESTED


def test_approval_refused_when_an_invoice_appeared_meanwhile(unit, contact, finance):
    order = paid_by_qr(unit, visitors=1)
    fail_review(order.lines.get())
    (refund,) = refunds_request(unit=unit, line_ids=[order.lines.get().pk], actor=contact)
    _invoice(order, status="requested")
    with pytest.raises(ValidationError, match="not reversed"):
        refund_approve(refund_id=refund.pk, actor=finance)
    refund.refresh_from_db()
    assert refund.status == R.REQUESTED


def test_transfer_refund_to_another_account_needs_the_payee(unit, contact):
    order = paid_by_transfer(unit)
    line = order.lines.get()
    fail_review(line)
    with pytest.raises(ValidationError, match="payee's name, account number and bank"):
        refunds_request(
            unit=unit, line_ids=[line.pk], actor=contact, route="other_account", payee={}
        )
    payee = {
        "payee_name": "广州某某有限公司",
        "payee_account": "6222 0000 1111 2222",
        "payee_bank": "中国银行广州分行",
        "payee_bank_code": "104581000011",
    }
    (refund,) = refunds_request(
        unit=unit, line_ids=[line.pk], actor=contact, route="other_account", payee=payee
    )
    assert (refund.route, refund.payee_name, refund.payee_bank_code) == (
        "other_account",
        "广州某某有限公司",
        "104581000011",
    )


def test_gateway_payments_always_refund_the_original_way(unit, contact):
    order = paid_by_qr(unit, visitors=1)
    fail_review(order.lines.get())
    (refund,) = refunds_request(
        unit=unit,
        line_ids=[order.lines.get().pk],
        actor=contact,
        route="other_account",
        payee={"payee_name": "X", "payee_account": "6222000011112222", "payee_bank": "Y"},
    )
    assert (refund.route, refund.payee_name) == ("original", "")


# --- Finance ------------------------------------------------------------------------------


def _requested(unit, contact, *, by="qr"):
    unit.contact_email = "finance@unit.example.com"
    unit.save(update_fields=["contact_email"])
    order = paid_by_qr(unit, visitors=1) if by == "qr" else paid_by_transfer(unit)
    fail_review(order.lines.get())
    (refund,) = refunds_request(unit=unit, line_ids=[order.lines.get().pk], actor=contact)
    return refund


def test_qr_refund_approved_goes_back_through_the_gateway(
    unit, contact, finance, django_capture_on_commit_callbacks
):
    refund = _requested(unit, contact)
    with django_capture_on_commit_callbacks(execute=True):
        assert refund_approve(refund_id=refund.pk, actor=finance) is True
    refund.refresh_from_db()
    # The task ran after commit (in-process in tests) and the sandbox refunded at once.
    assert refund.status == R.REFUNDED
    assert refund.provider_reference == f"SANDBOX-REFUND-{refund.number}"
    assert refund.decided_by == finance
    assert refund.refunded_at is not None
    actions = list(
        AuditEntry.objects.filter(action__startswith="refund.").values_list("action", flat=True)
    )
    assert {"refund.requested", "refund.refunding", "refund.refunded"} <= set(actions)
    assert Notice.objects.filter(event="refund_done", recipient=unit.contact_email).count() == 1
    # Running the task again changes nothing.
    assert refund_execute(refund.pk) == "skipped"
    assert refund_approve(refund_id=refund.pk, actor=finance) is False


def test_gateway_refusal_keeps_the_refund_in_progress_with_the_error(
    unit, contact, finance, monkeypatch, django_capture_on_commit_callbacks
):
    refund = _requested(unit, contact)

    def refuse(self, payment, refund):
        raise RefundFailed("gateway busy")

    monkeypatch.setattr(SandboxQrProvider, "refund", refuse)
    from payments.tasks import refund_execute_task

    retries = []
    monkeypatch.setattr(refund_execute_task, "retry", lambda **kw: retries.append(kw) or kw["exc"])
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(refund_id=refund.pk, actor=finance)  # the task fails, to retry later
    refund.refresh_from_db()
    assert refund.status == R.REFUNDING
    assert refund.last_error == "gateway busy"
    assert len(retries) == 1 and isinstance(retries[0]["exc"], RefundFailed)
    monkeypatch.undo()
    assert refund_execute(refund.pk) == "refunded"


def test_transfer_refund_is_marked_sent_by_finance(unit, contact, finance):
    refund = _requested(unit, contact, by="transfer")
    refund_approve(refund_id=refund.pk, actor=finance)
    refund.refresh_from_db()
    assert refund.status == R.REFUNDING  # finance pays it by bank
    assert refund_execute(refund.pk) == "skipped"
    with pytest.raises(ValidationError):
        refund_complete(refund_id=refund.pk, actor=finance, reference=" ")
    assert refund_complete(refund_id=refund.pk, actor=finance, reference="BOC-20261122-01")
    refund.refresh_from_db()
    assert (refund.status, refund.provider_reference) == (R.REFUNDED, "BOC-20261122-01")
    assert not refund_complete(refund_id=refund.pk, actor=finance, reference="again")


def test_reject_needs_a_reason_and_frees_the_lines(
    unit, contact, finance, django_capture_on_commit_callbacks
):
    refund = _requested(unit, contact)
    with pytest.raises(ValidationError):
        refund_reject(refund_id=refund.pk, actor=finance, reason="")
    with django_capture_on_commit_callbacks(execute=True):
        assert refund_reject(refund_id=refund.pk, actor=finance, reason="材料不全")
    refund.refresh_from_db()
    assert (refund.status, refund.rejection_reason) == (R.REJECTED, "材料不全")
    assert not RefundLine.objects.filter(active=True).exists()
    assert Notice.objects.filter(event="refund_rejected").count() == 1
    # Asked again: a new refund.
    refunds_request(unit=unit, line_ids=[refund.lines.get().order_line_id], actor=contact)
    assert Refund.objects.filter(status=R.REQUESTED).count() == 1
    # Rejected is final.
    assert not refund_reject(refund_id=refund.pk, actor=finance, reason="x")


def test_illegal_moves_are_refused(unit, contact):
    refund = _requested(unit, contact)
    from ciie_portal.states import TransitionError

    with pytest.raises(TransitionError):
        REFUND_STATES.move(refund, R.REFUNDED, actor=None)


# --- Pages --------------------------------------------------------------------------------


def test_unit_asks_for_a_batch_refund_on_its_page(client, unit, contact):
    first, second = paid_by_qr(unit, visitors=1), paid_by_qr(unit, visitors=1)
    fail_review(first.lines.get(), second.lines.get())
    client.force_login(contact)

    page = client.get(f"/payments/refunds/new/?order={first.number}")
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('name="lines"') == 2
    assert f'value="{first.lines.get().pk}" id="line-{first.lines.get().pk}" checked' in html
    assert 'id="refund-route"' not in html  # QR only: no route to choose

    response = client.post(
        "/payments/refunds/new/",
        {"lines": [first.lines.get().pk, second.lines.get().pk], "reason": "背审未通过"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/orders/?tab=refund"
    assert Refund.objects.count() == 2
    tab = client.get("/accounts/orders/?tab=refund").content.decode()
    assert first.number in tab and second.number in tab
    assert 'data-refund="requested"' in tab and "Refund: Not refunded" in tab


def test_refund_page_shows_the_field_errors_and_keeps_the_choice(client, unit, contact):
    order = paid_by_transfer(unit)
    line = order.lines.get()
    fail_review(line)
    client.force_login(contact)
    response = client.post(
        "/payments/refunds/new/",
        {"lines": [line.pk], "route": "other_account", "payee_name": "某公司"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Needed to refund to another account." in html
    assert f'id="line-{line.pk}" checked' in html
    assert 'value="某公司"' in html
    assert not Refund.objects.exists()


def test_order_detail_shows_refunds_and_the_refund_button(client, unit, contact, finance):
    refund = _requested(unit, contact)
    refund_reject(refund_id=refund.pk, actor=finance, reason="请补充说明")
    client.force_login(contact)
    html = client.get(f"/accounts/orders/{refund.order.number}/").content.decode()
    assert 'id="order-refunds"' in html and refund.number in html
    assert "请补充说明" in html
    assert 'id="ask-refund"' in html  # rejected: may be asked again


def test_other_unit_sees_none_of_it(client, unit, contact, other_contact):
    refund = _requested(unit, contact)
    client.force_login(other_contact)
    page = client.get("/payments/refunds/new/").content.decode()
    assert 'name="lines"' not in page and 'id="nothing-refundable"' in page
    assert client.get(f"/accounts/orders/{refund.order.number}/").status_code == 404
    assert refund.order.number not in client.get("/accounts/orders/?tab=refund").content.decode()
    line = refund.lines.get().order_line
    RefundLine.objects.update(active=False)
    response = client.post("/payments/refunds/new/", {"lines": [line.pk]})
    assert response.status_code == 200
    assert Refund.objects.count() == 1


def test_refund_tab_costs_the_same_queries_for_many_orders(
    client, unit, contact, django_assert_max_num_queries
):
    def count():
        with django_assert_max_num_queries(20) as queries:
            assert client.get("/accounts/orders/?tab=refund").status_code == 200
        return len(queries)

    client.force_login(contact)
    _requested(unit, contact)
    few = count()
    for _ in range(4):
        _requested(unit, contact)
    assert count() == few


# --- Finance in the admin ------------------------------------------------------------------


def test_finance_approves_and_rejects_in_the_admin(
    client, unit, contact, finance, django_capture_on_commit_callbacks
):
    qr = _requested(unit, contact)
    transfer = _requested(unit, contact, by="transfer")
    client.force_login(finance)
    assert client.get(CHANGELIST).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        client.post(CHANGELIST, {"action": "approve", ACTION_CHECKBOX_NAME: [qr.pk]})
    qr.refresh_from_db()
    assert qr.status == R.REFUNDED

    form = client.post(CHANGELIST, {"action": "reject", ACTION_CHECKBOX_NAME: [transfer.pk]})
    assert "Reason (the unit sees it)" in form.content.decode()
    client.post(
        CHANGELIST,
        {"action": "reject", ACTION_CHECKBOX_NAME: [transfer.pk], "text": "账户信息有误"},
    )
    transfer.refresh_from_db()
    assert (transfer.status, transfer.rejection_reason) == (R.REJECTED, "账户信息有误")


def test_finance_marks_a_bank_refund_sent_in_the_admin(client, unit, contact, finance):
    refund = _requested(unit, contact, by="transfer")
    refund_approve(refund_id=refund.pk, actor=finance)
    client.force_login(finance)
    client.post(
        CHANGELIST,
        {"action": "mark_refunded", ACTION_CHECKBOX_NAME: [refund.pk], "text": "ICBC-7788"},
    )
    refund.refresh_from_db()
    assert (refund.status, refund.provider_reference) == (R.REFUNDED, "ICBC-7788")


def test_secretaries_and_units_cannot_see_refunds_in_the_admin(client, unit, contact, secretary):
    _requested(unit, contact)
    client.force_login(secretary)
    assert client.get(CHANGELIST).status_code == 403
    client.force_login(contact)
    assert client.get(CHANGELIST).status_code == 302  # not staff: to the admin login


# --- Concurrency ---------------------------------------------------------------------------


def _fresh_unit():
    """Transactional tests build their own world (the fixtures' reference rows are flushed)."""
    edition = open_for_payment(EditionFactory())
    EntryPeriodFactory(edition=edition)
    unit = ApprovedUnitFactory(edition=edition, contact_email="finance@unit.example.com")
    return unit, unit.account


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_two_requests_for_the_same_line_at_once_make_one_refund():
    unit, contact = _fresh_unit()
    order = paid_by_qr(unit, visitors=1)
    line = order.lines.get()
    fail_review(line)
    races = run_at_once(
        *[lambda: refunds_request(unit=unit, line_ids=[line.pk], actor=contact)] * 2
    )
    outcomes = [
        "ok" if race.ok else "refused"
        for race in races
        if race.ok or isinstance(race.error, ValidationError)
    ]
    assert sorted(outcomes) == ["ok", "refused"]
    assert Refund.objects.count() == 1
    assert connection.vendor == "postgresql"


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_two_finance_approvals_at_once_refund_once(monkeypatch):
    unit, contact = _fresh_unit()
    finance = UserFactory(is_staff=True)
    refund = _requested(unit, contact)
    calls = []
    original = SandboxQrProvider.refund

    def counting(self, payment, refund):
        calls.append(refund.pk)
        return original(self, payment, refund)

    monkeypatch.setattr(SandboxQrProvider, "refund", counting)
    races = run_at_once(*[lambda: refund_approve(refund_id=refund.pk, actor=finance)] * 2)
    results = [race.value for race in races if race.ok]
    assert sorted(results) == [False, True]
    refund.refresh_from_db()
    assert refund.status == R.REFUNDED
    assert calls == [refund.pk]
    assert AuditEntry.objects.filter(action="refund.refunded").count() == 1


# --- A delegation's consolidated order (交易团代付) ---------------------------------------------


@pytest.fixture
def delegation_paid(edition, guangdong, unit, group_secretary, finance):
    return paid_delegation_order(edition, guangdong, unit, group_secretary, finance)


def test_a_delegations_refund_is_asked_for_by_its_secretary(
    client, delegation_paid, group_secretary, unit, contact
):
    order, line = delegation_paid
    # The unit never paid for these visitors: nothing for it to refund.
    assert not refundable_lines(unit).exists()
    client.force_login(group_secretary)
    url = f"/payments/delegation-orders/{order.number}/refund/"
    assert (
        'id="delegation-refund-link"'
        in client.get(f"/admin/credentials/credentialorder/{order.pk}/change/").content.decode()
    )
    page = client.get(url).content.decode()
    assert page.count('name="lines"') == 1 and line.visitor.name in page

    refused = client.post(url, {"lines": [line.pk], "route": "other_account"})
    assert "Needed to refund to another account." in refused.content.decode()
    response = client.post(
        url,
        {
            "lines": [line.pk],
            "route": "other_account",
            "payee_name": "广东省商务厅",
            "payee_account": "6222 0000 1111 2222",
            "payee_bank": "中国银行广州分行",
        },
    )
    assert response.status_code == 302
    refund = Refund.objects.get()
    assert (refund.order, refund.amount, refund.route) == (order, line.fee, "other_account")
    assert refund.requested_by == group_secretary
    assert 'data-status="requested"' in client.get(url).content.decode()


def test_another_delegations_secretary_gets_nothing_of_the_refund(
    client, delegation_paid, other_secretary, secretary
):
    order, line = delegation_paid
    url = f"/payments/delegation-orders/{order.number}/refund/"
    for user in (other_secretary, secretary):  # another trade delegation; a sub-delegation
        client.force_login(user)
        assert client.get(url).status_code in (403, 404)
        assert client.post(url, {"lines": [line.pk]}).status_code in (403, 404)
    assert not Refund.objects.exists()
