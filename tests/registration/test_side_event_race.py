"""The last place of a side event, wanted by two units at the same moment (PostgreSQL, two
transactions in two threads): one gets it, the other waits in the list — never two in one
place. Each sign-up counts the places held slowly, so that without the event's row lock both
would count before either wrote (and this test would fail)."""

import time

import pytest

from registration.side_events import services
from registration.side_events.models import SideEventSignup
from registration.side_events.services import side_event_signup
from tests.ciie_portal.factories import EditionFactory
from tests.conftest import on_postgres
from tests.races import run_at_once
from tests.registration.factories import UnitFactory
from tests.registration.side_event_factories import side_event, submitted_visitor

S = SideEventSignup.Status


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_two_units_racing_for_the_last_place_one_gets_it_and_one_waits(monkeypatch):
    # Transactional tests empty every table: everything made here.
    edition = EditionFactory()
    first, second = UnitFactory(edition=edition), UnitFactory(edition=edition)
    event = side_event(edition, capacity=2)
    side_event_signup(
        event=event, unit=first, visitor_ids=[submitted_visitor(first).pk], actor=None
    )
    racers = [(first, submitted_visitor(first)), (second, submitted_visitor(second))]

    counted = services._places_held

    def counted_slowly(event):
        held = counted(event)
        time.sleep(0.4)  # the other transaction has every chance to count meanwhile
        return held

    monkeypatch.setattr(services, "_places_held", counted_slowly)
    outcomes = run_at_once(
        *(
            lambda unit=unit, visitor=visitor: side_event_signup(
                event=event, unit=unit, visitor_ids=[visitor.pk], actor=unit.account
            )
            for unit, visitor in racers
        )
    )
    assert all(outcome.ok for outcome in outcomes), [outcome.error for outcome in outcomes]
    raced = SideEventSignup.objects.filter(visitor__in=[visitor for _unit, visitor in racers])
    assert sorted(raced.values_list("status", flat=True)) == [S.CONFIRMED, S.WAITING]
    assert SideEventSignup.objects.filter(event=event, status=S.CONFIRMED).count() == 2
