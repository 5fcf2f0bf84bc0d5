import pytest
from django.core.exceptions import ValidationError

from ciie_portal.models import AuditEntry, Notice
from credentials.models import CredentialOrder, OrderLine
from credentials.orders.services import order_create, order_mark_paid
from registration.models import Visitor
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.conftest import on_postgres
from tests.credentials.factories import payable_visitor
from tests.races import run_at_once
from tests.registration.factories import ApprovedUnitFactory


@pytest.fixture
def race_unit():
    """A unit outside the reference delegations: transactional tests empty every table, so
    they make all they need themselves."""
    edition = EditionFactory()
    EntryPeriodFactory(edition=edition)
    return ApprovedUnitFactory(edition=edition)


def _race(attempts):
    """Run each callable in its own thread and connection, all starting together."""
    outcomes = []
    for outcome in run_at_once(*attempts):
        if outcome.ok:
            outcomes.append(("ok", outcome.value))
        elif isinstance(outcome.error, ValidationError):
            outcomes.append(("refused", outcome.error))
        else:
            raise outcome.error
    return outcomes


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_two_orders_of_one_visitor_at_once_make_one_order_and_one_refusal(race_unit):
    unit, contact = race_unit, race_unit.account
    visitor = payable_visitor(unit, name="周同时")
    outcomes = _race([lambda: order_create(unit=unit, visitor_ids=[visitor.pk], actor=contact)] * 2)
    results = sorted(kind for kind, _value in outcomes)
    assert results == ["ok", "refused"]
    refusal = next(value for kind, value in outcomes if kind == "refused")
    assert "周同时" in str(refusal)
    assert CredentialOrder.objects.count() == 1
    assert OrderLine.objects.filter(visitor=visitor, open=True).count() == 1


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_a_payment_confirmed_twice_at_once_moves_the_visitors_once(race_unit):
    unit, contact = race_unit, race_unit.account
    unit.contact_mobile = "13800001111"
    unit.save()
    visitor = payable_visitor(unit)
    order = order_create(unit=unit, visitor_ids=[visitor.pk], actor=contact)
    outcomes = _race([lambda: order_mark_paid(order=order, actor="gateway")] * 2)
    assert [kind for kind, _value in outcomes] == ["ok", "ok"]
    assert Visitor.objects.get(pk=visitor.pk).status == Visitor.Status.PENDING_REVIEW
    assert AuditEntry.objects.filter(action="order.paid").count() == 1
    assert AuditEntry.objects.filter(action="visitor.pending_review").count() == 1
    assert Notice.objects.filter(event="payment_received").count() == 1
