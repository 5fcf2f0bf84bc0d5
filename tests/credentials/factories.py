from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from credentials.models import CredentialOrder, OrderLine
from registration.models import Label, Pickup, Visitor
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.registration.factories import UnitFactory, VisitorFactory


def payable_visitor(unit, **overrides) -> Visitor:
    """A professional visitor locked by the delegation and awaiting payment (待支付)."""
    values = {
        "unit": unit,
        "status": Visitor.Status.PENDING_PAYMENT,
        "label": Label.VISITOR,
        "entry_period": unit.edition.entry_periods.first(),
        "pickup": Pickup.COURIER,
    }
    values.update(overrides)
    return VisitorFactory(**values)


def reusing_visitor(unit, *, make=payable_visitor, **overrides) -> Visitor:
    """A professional visitor (made by ``make``: awaiting payment, or paid by the delegation
    with ``make=delegation_paid_visitor``) who held last edition's credential, passed its
    review, chose to reuse it (证件复用), and whose card data is unchanged: the same name, unit
    name, delegation, label, photo and entry days as last time (``reuse_applies`` holds)."""
    values = {"name": "复用访客", "photo": "visitor-photos/reused.jpg"}
    values.update(overrides)
    period = values.get("entry_period", unit.edition.entry_periods.first())
    previous_edition = EditionFactory(number=unit.edition.number - 1)
    previous_period = previous_edition.entry_periods.filter(
        first_day__month=period.first_day.month,
        first_day__day=period.first_day.day,
        last_day__month=period.last_day.month,
        last_day__day=period.last_day.day,
    ).first() or EntryPeriodFactory(
        edition=previous_edition,
        first_day=period.first_day.replace(year=period.first_day.year - 1),
        last_day=period.last_day.replace(year=period.last_day.year - 1),
    )
    previous = VisitorFactory(
        unit=UnitFactory(
            edition=previous_edition, delegation=unit.delegation, name=unit.name, status="approved"
        ),
        name=values["name"],
        photo=values["photo"],
        label=Label.VISITOR,
        status=Visitor.Status.REVIEW_PASSED,
        entry_period=previous_period,
    )
    values.update(previous=previous, original_label=Label.VISITOR, reuse_eligible=True)
    return make(unit, **values)


class CredentialOrderFactory(factory.django.DjangoModelFactory):
    """An order made directly (as the service would leave it); add lines with OrderLineFactory."""

    class Meta:
        model = CredentialOrder

    unit = factory.SubFactory(UnitFactory)
    edition = factory.SelfAttribute("unit.edition")
    number = factory.Sequence(lambda n: f"V20991231235959999{n:06d}")
    total = Decimal("200.00")
    created_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyAttribute(lambda o: o.created_at + timedelta(minutes=30))


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(CredentialOrderFactory)
    visitor = factory.LazyAttribute(lambda o: payable_visitor(o.order.unit))
    label = factory.SelfAttribute("visitor.label")
    entry_period = factory.SelfAttribute("visitor.entry_period")
    pickup = factory.SelfAttribute("visitor.pickup")
    fee = Decimal("200.00")


def order_with_lines(unit, *, lines=1, fee=Decimal("200.00"), **overrides) -> CredentialOrder:
    """An order of ``lines`` lines of ``fee`` each (orders and lines never change once made)."""
    order = CredentialOrderFactory(unit=unit, total=fee * lines, **overrides)
    OrderLineFactory.create_batch(lines, order=order, fee=fee)
    return order


def delegation_paid_visitor(unit, **overrides) -> Visitor:
    """A professional visitor whose fee the delegation pays (交易团代付): locked straight into
    review (待审核), never asked to pay."""
    values = {
        "unit": unit,
        "status": Visitor.Status.PENDING_REVIEW,
        "label": Label.VISITOR,
        "paid_by_delegation": True,
        "entry_period": unit.edition.entry_periods.first(),
        "pickup": Pickup.DELEGATION,
    }
    values.update(overrides)
    return VisitorFactory(**values)
