"""Exchanges racing on PostgreSQL (two transactions in two threads): two units for the last code
— exactly one gets it, the stock never goes negative; two exchanges of one unit with points
for only one — exactly one succeeds, the balance never goes below zero. Each exchange reads the
balance slowly, so that without the unit's lock and the code's SKIP LOCKED pick both would
have passed their checks before either wrote (and these tests would fail)."""

import time

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from credentials.points import services
from credentials.points.models import Coupon, PointsEntry
from credentials.points.services import coupon_exchange
from tests.ciie_portal.factories import EditionFactory
from tests.conftest import on_postgres
from tests.credentials.points.factories import give, offer
from tests.races import run_at_once
from tests.registration.factories import UnitFactory


@pytest.fixture
def slow_balance(monkeypatch):
    read = services.unit_balance

    def read_slowly(unit_id):
        balance = read(unit_id)
        time.sleep(0.4)  # the other transaction has every chance to read meanwhile
        return balance

    monkeypatch.setattr(services, "unit_balance", read_slowly)


def _messages(outcomes) -> list[str]:
    return [" ".join(o.error.messages) for o in outcomes if isinstance(o.error, ValidationError)]


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_two_units_racing_for_the_last_code_one_gets_it(slow_balance):
    # Transactional tests empty every table: everything made here.
    edition = EditionFactory()
    first, second = UnitFactory(edition=edition), UnitFactory(edition=edition)
    give(first, 100)
    give(second, 100)
    batch = offer(edition, cost=60, codes=["LAST-ONE"])
    outcomes = run_at_once(
        *(
            lambda unit=unit: coupon_exchange(unit=unit, batch_id=batch.pk, actor=unit.account)
            for unit in (first, second)
        )
    )
    assert sum(o.ok for o in outcomes) == 1, [o.error for o in outcomes]
    assert _messages(outcomes) == ["All coupons of this offer have been exchanged."]
    assert Coupon.objects.filter(exchanged_by__isnull=False).count() == 1
    assert PointsEntry.objects.filter(kind="exchange").count() == 1
    winner = Coupon.objects.get().exchanged_by
    balances = {
        unit.pk: PointsEntry.objects.filter(unit=unit).aggregate(t=Sum("points"))["t"]
        for unit in (first, second)
    }
    assert balances == {
        first.pk: 40 if winner == first else 100,
        second.pk: 40 if winner == second else 100,
    }


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_one_unit_exchanging_twice_at_once_with_points_for_one(slow_balance):
    edition = EditionFactory()
    unit = UnitFactory(edition=edition)
    give(unit, 60)
    batch = offer(edition, cost=50, codes=["C-1", "C-2"])
    outcomes = run_at_once(
        *(
            lambda: coupon_exchange(unit=unit, batch_id=batch.pk, actor=unit.account)
            for _ in range(2)
        )
    )
    assert sum(o.ok for o in outcomes) == 1, [o.error for o in outcomes]
    assert _messages(outcomes) == [
        "Not enough points: this coupon costs 50 points and your unit has 10."
    ]
    assert Coupon.objects.filter(exchanged_by=unit).count() == 1
    assert PointsEntry.objects.filter(unit=unit).aggregate(t=Sum("points"))["t"] == 10
