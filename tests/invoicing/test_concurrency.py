"""Invoice numbers under concurrency (PostgreSQL): no gaps, no duplicates."""

import pytest

from ciie_portal.models import AuditEntry
from invoicing.models import Invoice, InvoiceCounter, InvoiceKind
from invoicing.services import KIND_CODES, invoice_issue, invoice_reverse
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.conftest import on_postgres
from tests.invoicing.factories import paid_order, requested_invoice
from tests.races import run_at_once
from tests.registration.factories import ApprovedUnitFactory

THREADS = 8


@pytest.fixture(autouse=True)
def _no_task(monkeypatch):
    """Outside a test transaction the request's on-commit task would issue at once: the
    threads below are what issues here."""
    monkeypatch.setattr("invoicing.services._issue_later", lambda invoice: None)


def _requests(kind, count):
    edition = EditionFactory(number=8)
    EntryPeriodFactory(edition=edition)
    units = [ApprovedUnitFactory(edition=edition) for _ in range(count)]
    return [requested_invoice(paid_order(unit), kind=kind) for unit in units]


@on_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "kind", [InvoiceKind.ELECTRONIC, InvoiceKind.SPECIAL, InvoiceKind.ELECTRONIC_SPECIAL]
)
def test_invoices_issued_at_once_get_consecutive_unique_numbers(kind):
    invoices = _requests(kind, THREADS)
    # The first issue of a kind also makes its counter row: racing firsts must not collide.
    assert not InvoiceCounter.objects.exists()

    outcomes = run_at_once(
        *[
            (lambda pk=invoice.pk: invoice_issue(invoice_id=pk, actor="system"))
            for invoice in invoices
        ]
    )

    assert [outcome.error for outcome in outcomes if not outcome.ok] == []
    assert len([outcome.value for outcome in outcomes if outcome.ok]) == THREADS
    issued = Invoice.objects.filter(kind=kind, status=Invoice.Status.ISSUED)
    sequences = sorted(issued.values_list("edition_sequence", flat=True))
    assert sequences == list(range(1, THREADS + 1))  # no gap, no duplicate
    code = KIND_CODES[kind]
    assert sorted(issued.values_list("number", flat=True)) == [
        f"08{code}{n:08d}" for n in range(1, THREADS + 1)
    ]
    assert InvoiceCounter.objects.get(kind=kind).last_sequence == THREADS


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_invoice_issued_twice_at_once_gets_one_number():
    (invoice,) = _requests(InvoiceKind.ELECTRONIC, 1)

    outcomes = run_at_once(
        *[lambda: invoice_issue(invoice_id=invoice.pk, actor="system") for _ in range(4)]
    )

    assert [outcome.error for outcome in outcomes if not outcome.ok] == []
    assert sum(outcome.value is not None for outcome in outcomes if outcome.ok) == 1
    invoice.refresh_from_db()
    assert invoice.number == "080100000001"
    assert InvoiceCounter.objects.get().last_sequence == 1
    assert AuditEntry.objects.filter(action="invoice.issued").count() == 1


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_special_and_general_invoices_issued_at_once_keep_their_own_series():
    """数电专票 and 数电普票 issued at the same moment, two transactions of each: each series
    1, 2 with no gap and no duplicate; neither waits on nor takes from the other's counter."""
    edition = EditionFactory(number=8)
    EntryPeriodFactory(edition=edition)
    kinds = [InvoiceKind.ELECTRONIC_SPECIAL, InvoiceKind.ELECTRONIC] * 2
    invoices = [
        requested_invoice(paid_order(ApprovedUnitFactory(edition=edition)), kind=kind)
        for kind in kinds
    ]

    outcomes = run_at_once(
        *[
            (lambda pk=invoice.pk: invoice_issue(invoice_id=pk, actor="system"))
            for invoice in invoices
        ]
    )

    assert [outcome.error for outcome in outcomes if not outcome.ok] == []
    numbers = dict(Invoice.objects.values_list("pk", "number"))
    assert sorted(numbers[i.pk] for i in invoices if i.kind == InvoiceKind.ELECTRONIC_SPECIAL) == [
        "080300000001",
        "080300000002",
    ]
    assert sorted(numbers[i.pk] for i in invoices if i.kind == InvoiceKind.ELECTRONIC) == [
        "080100000001",
        "080100000002",
    ]


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_a_special_credit_note_and_a_new_special_invoice_at_once_take_the_next_two_numbers():
    """A red-letter credit note is numbered in its original's series: issued at the same moment
    as another 数电专票, the two take 2 and 3, one each."""
    edition = EditionFactory(number=8)
    EntryPeriodFactory(edition=edition)
    special = InvoiceKind.ELECTRONIC_SPECIAL
    original = requested_invoice(paid_order(ApprovedUnitFactory(edition=edition)), kind=special)
    invoice_issue(invoice_id=original.pk, actor="system")
    credit_note = invoice_reverse(invoice_id=original.pk, actor="system", reason="红冲")
    other = requested_invoice(paid_order(ApprovedUnitFactory(edition=edition)), kind=special)

    outcomes = run_at_once(
        lambda: invoice_issue(invoice_id=credit_note.pk, actor="system"),
        lambda: invoice_issue(invoice_id=other.pk, actor="system"),
    )

    assert [outcome.error for outcome in outcomes if not outcome.ok] == []
    issued = Invoice.objects.filter(kind=special).exclude(number=None)
    assert sorted(issued.values_list("number", flat=True)) == [
        "080300000001",
        "080300000002",
        "080300000003",
    ]
    original.refresh_from_db()
    assert original.status == Invoice.Status.REVERSED and original.number == "080300000001"
    assert InvoiceCounter.objects.get(kind=special).last_sequence == 3
