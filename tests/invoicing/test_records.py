"""An invoice is a legal record: never edited, never deleted; its refund block."""

from decimal import Decimal

import pytest

from invoicing.models import Invoice, InvoiceImmutable, InvoiceKind, InvoiceLine
from invoicing.services import invoice_issue, invoice_reject, invoice_reverse, split_tax
from tests.invoicing.factories import issued_invoice, paid_order, requested_invoice

S = Invoice.Status


def test_an_issued_invoice_cannot_be_edited_or_deleted(unit):
    invoice = issued_invoice(paid_order(unit))
    invoice.title = "改过的抬头"
    with pytest.raises(InvoiceImmutable):
        invoice.save()
    with pytest.raises(InvoiceImmutable):
        invoice.delete()
    with pytest.raises(InvoiceImmutable):
        Invoice.objects.filter(pk=invoice.pk).update(title="改过的抬头", total=Decimal("1.00"))
    with pytest.raises(InvoiceImmutable):
        Invoice.objects.filter(pk=invoice.pk).delete()
    line = invoice.lines.get()
    line.total = Decimal("1.00")
    with pytest.raises(InvoiceImmutable):
        line.save()
    with pytest.raises(InvoiceImmutable):
        line.delete()
    with pytest.raises(InvoiceImmutable):
        InvoiceLine.objects.filter(invoice=invoice).update(total=Decimal("1.00"))
    with pytest.raises(InvoiceImmutable):
        InvoiceLine.objects.filter(invoice=invoice).delete()
    with pytest.raises(InvoiceImmutable):
        Invoice.objects.update(title="改过的抬头")
    stored = Invoice.objects.get(pk=invoice.pk)
    assert stored.title == "广州示例贸易有限公司"
    assert stored.total == Decimal("200.00")
    assert InvoiceLine.objects.filter(invoice=stored).count() == 1


def test_the_amounts_are_tax_inclusive_and_add_up_exactly(unit):
    order = paid_order(unit, lines=3, fee=Decimal("100.00"))
    invoice = requested_invoice(order)
    assert invoice.tax_rate == Decimal("0.06")
    lines = list(invoice.lines.all())
    assert [line.amount_excl_tax for line in lines] == [Decimal("94.34")] * 3
    assert [line.tax_amount for line in lines] == [Decimal("5.66")] * 3
    assert invoice.amount_excl_tax == Decimal("283.02")
    assert invoice.tax_amount == Decimal("16.98")
    assert invoice.amount_excl_tax + invoice.tax_amount == invoice.total == Decimal("300.00")


@pytest.mark.parametrize("total", ["0.01", "0.99", "1.06", "200.00", "333.33", "99999.99"])
def test_split_tax_always_adds_up(total):
    for rate in (Decimal("0.06"), Decimal("0.13"), Decimal("0.03")):
        excl, tax = split_tax(Decimal(total), rate)
        assert excl + tax == Decimal(total)
        assert excl == (Decimal(total) / (1 + rate)).quantize(Decimal("0.01"))


def test_the_tax_rate_comes_from_the_settings(unit, settings):
    settings.INVOICE_TAX_RATE = Decimal("0.13")
    invoice = requested_invoice(paid_order(unit))
    assert invoice.tax_rate == Decimal("0.13")
    assert (invoice.amount_excl_tax, invoice.tax_amount) == (Decimal("176.99"), Decimal("23.01"))


def test_an_invoice_blocks_refunds_until_it_is_reversed(unit, django_capture_on_commit_callbacks):
    order = paid_order(unit)
    assert not order.invoices.blocking_refund().exists()

    invoice = requested_invoice(order)  # requested, not issued yet: already blocks
    assert list(order.invoices.blocking_refund()) == [invoice]

    invoice_issue(invoice_id=invoice.pk, actor="system")
    assert order.invoices.blocking_refund().get().status == S.ISSUED

    with django_capture_on_commit_callbacks(execute=True):
        credit_note = invoice_reverse(invoice_id=invoice.pk, actor=unit.account)
    credit_note.refresh_from_db()
    invoice.refresh_from_db()
    assert invoice.status == S.REVERSED
    assert credit_note.status == S.ISSUED  # a credit note never blocks
    assert not order.invoices.blocking_refund().exists()
    assert Invoice.objects.blocking_refund().count() == 0


def test_a_reversal_in_progress_still_blocks_refunds(unit):
    order = paid_order(unit)
    invoice = issued_invoice(order, kind=InvoiceKind.SPECIAL)
    invoice_reverse(
        invoice_id=invoice.pk,
        actor=unit.account,
        return_courier="顺丰速运",
        return_tracking_number="SF1234567890",
    )
    assert order.invoices.blocking_refund().get().status == S.RETURNING


def test_a_rejected_request_does_not_block_refunds(unit, finance):
    order = paid_order(unit)
    invoice = requested_invoice(order, kind=InvoiceKind.SPECIAL)
    assert invoice_reject(invoice_id=invoice.pk, actor=finance, reason="税号有误")
    assert not order.invoices.blocking_refund().exists()
