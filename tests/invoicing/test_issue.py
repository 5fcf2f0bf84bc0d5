"""开票: requests, electronic invoices issued by the task, numbering, reversal, re-invoicing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from ciie_portal.models import AuditEntry, Notice
from credentials.models import CredentialOrder
from invoicing.models import Invoice, InvoiceCounter, InvoiceKind
from invoicing.services import (
    invoice_issue,
    invoice_request,
    invoice_reverse,
    invoices_issue_pending,
    locked_title,
)
from payments.models import Method, Refund, RefundLine
from tests.credentials.factories import order_with_lines
from tests.invoicing.factories import BUYER, issued_invoice, paid_order, requested_invoice

S = Invoice.Status


def test_an_electronic_invoice_is_issued_by_the_task_after_commit(
    unit, django_capture_on_commit_callbacks
):
    unit.contact_email = "contact@example.cn"
    unit.save(update_fields=["contact_email"])
    order = paid_order(unit, lines=2)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        invoice = requested_invoice(order)
        # Not before the commit: the task only sees committed requests.
        assert Invoice.objects.get(pk=invoice.pk).status == S.REQUESTED
    assert len(callbacks) >= 1
    invoice.refresh_from_db()
    assert invoice.status == S.ISSUED
    assert invoice.number == "100100000001"  # edition 10, electronic, first of the sequence
    assert invoice.edition_sequence == 1
    assert invoice.issued_on is not None and invoice.issued_at is not None
    assert invoice.seller["name"].startswith("中国国际进口博览局")
    assert [line.description for line in invoice.lines.all()] == [
        f"*会展服务*证件注册费（{line.visitor.name}）" for line in order.lines.order_by("pk")
    ]
    actions = list(
        AuditEntry.objects.filter(object_id=str(invoice.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["invoice.requested", "invoice.issued"]
    notices = Notice.objects.filter(event="invoice_issued").order_by("recipient")
    assert [n.recipient for n in notices] == ["contact@example.cn", "finance@example.cn"]
    assert len(mail.outbox) == 2
    assert all("100100000001" in message.subject for message in mail.outbox)
    assert any("100100000001" in m.body and order.number in m.body for m in mail.outbox)


def test_numbers_follow_each_other_per_edition_and_kind(unit, other_unit):
    electronic = [issued_invoice(paid_order(unit)) for _ in range(3)]
    special = issued_invoice(paid_order(other_unit), kind=InvoiceKind.SPECIAL)
    assert [i.number for i in electronic] == ["100100000001", "100100000002", "100100000003"]
    assert special.number == "100200000001"
    counters = dict(InvoiceCounter.objects.values_list("kind", "last_sequence"))
    assert counters == {"electronic": 3, "special": 1}


def test_issuing_twice_gives_one_number(unit):
    invoice = requested_invoice(paid_order(unit))
    assert invoice_issue(invoice_id=invoice.pk, actor="system") is not None
    assert invoice_issue(invoice_id=invoice.pk, actor="system") is None
    assert InvoiceCounter.objects.get().last_sequence == 1
    assert AuditEntry.objects.filter(action="invoice.issued").count() == 1


def test_only_a_paid_order_without_a_live_invoice_can_be_invoiced(unit):
    unpaid = order_with_lines(unit)
    with pytest.raises(ValidationError, match="not paid"):
        requested_invoice(unpaid)
    order = paid_order(unit)
    requested_invoice(order)
    with pytest.raises(ValidationError, match="already has an invoice"):
        requested_invoice(order)
    assert Invoice.objects.filter(order=order).count() == 1


@pytest.mark.parametrize(
    ("method", "payer_name", "payer_kind", "expected_kind"),
    [
        (Method.B2B, "", "unit", "unit"),
        (Method.TRANSFER, "广州付款单位有限公司", "unit", "unit"),
        (Method.TRANSFER, "张付款", "individual", "individual"),
    ],
)
def test_b2b_and_transfer_payments_fix_the_title_to_the_payer(
    unit, method, payer_name, payer_kind, expected_kind
):
    order = paid_order(unit, method=method, payer_name=payer_name, payer_kind=payer_kind)
    expected = payer_name or unit.name
    fixed = locked_title(order)
    assert (fixed.title, fixed.title_kind) == (expected, expected_kind)
    invoice = requested_invoice(order, title="随便写的抬头", title_kind="unit")
    assert invoice.title == expected
    assert invoice.title_kind == expected_kind
    assert invoice.title_locked


def test_a_qr_payment_leaves_the_title_free(unit):
    order = paid_order(unit, method=Method.QR_WECHAT)
    assert locked_title(order) is None
    invoice = requested_invoice(order, title="自选抬头有限公司")
    assert invoice.title == "自选抬头有限公司"
    assert not invoice.title_locked


def test_an_electronic_reversal_issues_a_red_letter_credit_note(
    unit, django_capture_on_commit_callbacks
):
    order = paid_order(unit, lines=2)
    invoice = issued_invoice(order)
    with django_capture_on_commit_callbacks(execute=True):
        credit_note = invoice_reverse(
            invoice_id=invoice.pk, actor=unit.account, reason="人员未通过"
        )
    credit_note.refresh_from_db()
    invoice.refresh_from_db()
    assert credit_note.original == invoice
    assert credit_note.status == S.ISSUED
    assert credit_note.number == "100100000002"  # its own number, same sequence
    assert credit_note.total == -invoice.total == Decimal("-400.00")
    assert credit_note.amount_excl_tax == -invoice.amount_excl_tax
    assert credit_note.tax_amount == -invoice.tax_amount
    assert [(line.quantity, line.total) for line in credit_note.lines.all()] == [
        (-1, Decimal("-200.00")),
        (-1, Decimal("-200.00")),
    ]
    assert credit_note.title == invoice.title
    assert invoice.status == S.REVERSED
    assert invoice.reversal_reason == "人员未通过"
    assert invoice.reversed_at is not None
    assert (
        AuditEntry.objects.filter(
            object_id=str(invoice.pk), action__in=["invoice.returning", "invoice.reversed"]
        ).count()
        == 2
    )
    with pytest.raises(ValidationError):
        invoice_reverse(invoice_id=invoice.pk, actor=unit.account)
    with pytest.raises(ValidationError):
        invoice_reverse(invoice_id=credit_note.pk, actor=unit.account)


def test_a_reversed_order_can_be_invoiced_again_without_the_refunded_lines(
    unit, django_capture_on_commit_callbacks
):
    order = paid_order(unit, lines=2)
    invoice = issued_invoice(order)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_reverse(invoice_id=invoice.pk, actor=unit.account)
    refunded_line = order.lines.order_by("pk").first()
    payment = order.payments.get()
    refund = Refund.objects.create(
        number="R1",
        order=order,
        payment=payment,
        amount=Decimal("200.00"),
        status=Refund.Status.REFUNDED,
    )
    RefundLine.objects.create(refund=refund, order_line=refunded_line, amount=Decimal("200.00"))

    again = requested_invoice(order)
    assert again.total == Decimal("200.00")
    assert [line.description for line in again.lines.all()] == [
        f"*会展服务*证件注册费（{order.lines.order_by('pk').last().visitor.name}）"
    ]
    assert Invoice.objects.filter(order=order).ordinary().count() == 2


def test_nothing_left_to_invoice_is_refused(unit):
    order = paid_order(unit, fee=Decimal("0.00"))
    with pytest.raises(ValidationError, match="Nothing to invoice"):
        requested_invoice(order)


def test_a_paper_invoice_is_issued_by_finance_with_the_number_printed_on_it(unit, finance):
    first = requested_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    invoice_issue(invoice_id=first.pk, actor=finance, number="04412345")
    first.refresh_from_db()
    assert (first.number, first.edition_sequence, first.issued_by) == ("04412345", None, finance)
    second = requested_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    with pytest.raises(ValidationError, match="already used"):
        invoice_issue(invoice_id=second.pk, actor=finance, number="04412345")
    electronic = requested_invoice(paid_order(unit))
    with pytest.raises(ValidationError):
        invoice_issue(invoice_id=electronic.pk, actor=finance, number="123")


def test_a_lost_task_is_queued_again(unit, django_capture_on_commit_callbacks):
    invoice = requested_invoice(paid_order(unit))
    with django_capture_on_commit_callbacks(execute=True):
        assert invoices_issue_pending() == 0  # its task may still be on its way
        assert invoices_issue_pending(older_than=timedelta(0)) == 1
    invoice.refresh_from_db()
    assert invoice.status == S.ISSUED


def test_the_service_refuses_an_unknown_kind(unit):
    with pytest.raises(ValidationError):
        invoice_request(order=paid_order(unit), actor=unit.account, kind="other", buyer=BUYER)
    assert not Invoice.objects.exists()
    assert CredentialOrder.objects.count() == 1
