from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from credentials.orders.fees import line_fee
from registration.models import Label
from tests.ciie_portal.factories import EntryPeriodFactory
from tests.credentials.factories import payable_visitor, reusing_visitor


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
    fee = line_fee(reusing_visitor(unit), edition)
    assert fee == Decimal("100.00")
    assert str(fee) == "100.00"


def test_it_charges_the_full_fee_when_the_label_upgrade_needs_a_new_credential(unit, edition):
    visitor = reusing_visitor(unit, needs_new_credential=True)
    assert line_fee(visitor, edition) == Decimal("200.00")


def test_a_reuse_flag_without_last_editions_credential_is_charged_in_full(unit, edition):
    # Marked eligible but nothing to reuse (no previous visitor): the fee follows the facts.
    assert line_fee(payable_visitor(unit, reuse_eligible=True), edition) == Decimal("200.00")


@pytest.mark.parametrize(
    "change",
    [
        {"name": "改了名字"},
        {"photo": "visitor-photos/new-photo.jpg"},
        {"label": Label.STAFF},
    ],
    ids=["name", "photo", "label"],
)
def test_changed_card_data_is_charged_the_full_fee(unit, edition, change):
    visitor = reusing_visitor(unit)
    for name, value in change.items():
        setattr(visitor, name, value)
    expected = Decimal("0.00") if change.get("label") == Label.STAFF else Decimal("200.00")
    assert line_fee(visitor, edition) == expected


def test_other_entry_days_are_charged_the_full_fee_of_those_days(unit, edition):
    visitor = reusing_visitor(unit)
    visitor.entry_period = EntryPeriodFactory(
        edition=edition, name="后三天", first_day=edition.ends_on, fee=Decimal("100.00")
    )
    assert line_fee(visitor, edition) == Decimal("100.00")


def test_a_unit_that_changed_its_name_is_charged_the_full_fee(unit, edition):
    visitor = reusing_visitor(unit)
    visitor.unit.name = "新名称有限公司"
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
    visitor = reusing_visitor(unit, entry_period=period)
    result = line_fee(visitor, edition)
    assert result == Decimal(expected)
    assert result.as_tuple().exponent == -2


def test_it_refuses_a_paying_visitor_without_entry_days(unit, edition):
    with pytest.raises(ValidationError) as error:
        line_fee(payable_visitor(unit, entry_period=None, name="王五"), edition)
    assert "王五" in str(error.value)
