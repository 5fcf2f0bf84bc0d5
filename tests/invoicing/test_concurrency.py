"""Invoice numbers under concurrency (PostgreSQL): no gaps, no duplicates."""

import pytest

from ciie_portal.models import AuditEntry
from invoicing.models import Invoice, InvoiceCounter, InvoiceKind
from invoicing.services import invoice_issue
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
@pytest.mark.parametrize("kind", [InvoiceKind.ELECTRONIC, InvoiceKind.SPECIAL])
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
    code = "01" if kind == InvoiceKind.ELECTRONIC else "02"
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
