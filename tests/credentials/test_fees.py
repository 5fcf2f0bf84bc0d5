from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from credentials.services import line_fee
from registration.models import Label
from tests.ciie_portal.factories import EntryPeriodFactory
from tests.credentials.factories import payable_visitor


def test_it_charges_the_fee_of_the_entry_days(unit, edition):
    fee = line_fee(payable_visitor(unit), edition)
    assert fee == Decimal("200.00")
    assert isinstance(fee, Decimal)
    assert str(fee) == "200.00"


def test_it_charges_the_fee_of_a_shorter_entry_period(unit, edition):
    last_days = EntryPeriodFactory(
        edition=edition, name="后三天", first_day=edition.ends_on, fee=Decimal("100.00")
    )
    assert line_fee(payable_visitor(unit, entry_period=last_days), edition) == Decimal("100.00")


@pytest.mark.parametrize("label", [Label.VIP, Label.STAFF])
def test_it_charges_nothing_for_vip_and_staff(unit, edition, label):
    fee = line_fee(payable_visitor(unit, label=label), edition)
    assert fee == Decimal("0.00")
    assert str(fee) == "0.00"


def test_it_charges_nothing_when_the_delegation_pays(unit, edition):
    assert line_fee(payable_visitor(unit, paid_by_delegation=True), edition) == Decimal("0.00")


def test_it_charges_the_reuse_percentage_for_reuse(unit, edition):
    fee = line_fee(payable_visitor(unit, reuse_eligible=True), edition)
    assert fee == Decimal("100.00")
    assert str(fee) == "100.00"


def test_it_charges_the_full_fee_when_the_label_upgrade_needs_a_new_credential(unit, edition):
    visitor = payable_visitor(unit, reuse_eligible=True, needs_new_credential=True)
    assert line_fee(visitor, edition) == Decimal("200.00")


@pytest.mark.parametrize(
    ("fee", "percent", "expected"),
    [
        ("99.99", "50.00", "50.00"),  # 49.995 rounds half up to the fen
        ("200.00", "33.33", "66.66"),
        ("0.01", "50.00", "0.01"),
        ("150.00", "0.00", "0.00"),
    ],
)
def test_it_rounds_the_reuse_fee_to_the_fen(unit, edition, fee, percent, expected):
    edition.reuse_fee_percent = Decimal(percent)
    period = EntryPeriodFactory(
        edition=edition, name="特别", first_day=edition.starts_on, fee=Decimal(fee)
    )
    visitor = payable_visitor(unit, entry_period=period, reuse_eligible=True)
    result = line_fee(visitor, edition)
    assert result == Decimal(expected)
    assert result.as_tuple().exponent == -2


def test_it_refuses_a_paying_visitor_without_entry_days(unit, edition):
    with pytest.raises(ValidationError) as error:
        line_fee(payable_visitor(unit, entry_period=None, name="王五"), edition)
    assert "王五" in str(error.value)
