from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from credentials.models import CredentialOrder, OrderLine
from registration.models import Label, Pickup, Visitor
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


def order_with_lines(unit, *, lines=1, **overrides) -> CredentialOrder:
    order = CredentialOrderFactory(unit=unit, total=Decimal("200.00") * lines, **overrides)
    OrderLineFactory.create_batch(lines, order=order)
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
