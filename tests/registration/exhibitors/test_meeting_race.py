"""A meeting slot is never booked twice, also when two requests come at the same moment
(PostgreSQL, two transactions in two threads): two units asking one exhibitor for one slot, and
one unit asking two exhibitors for the same slot — exactly one succeeds, the other is told the
time is taken.

Each request reads the slots taken slowly, so that both read "free" before either writes: the
service's own check lets both through and only the partial unique indexes
``meeting_exhibitor_slot_once`` / ``meeting_unit_slot_once`` stop the second INSERT. Without
them both meetings are written and these tests fail (drop the index in the test database to
see it)."""

import time
from datetime import datetime

import pytest
from django.core.exceptions import ValidationError

from registration.exhibitors import meetings
from registration.exhibitors.meetings import meeting_request
from registration.exhibitors.models import Meeting
from tests.ciie_portal.factories import EditionFactory
from tests.conftest import on_postgres
from tests.races import run_at_once
from tests.registration.factories import UnitFactory

from .test_meeting_support import BEIJING, FIRST_DAY, make_exhibitor


@pytest.fixture
def slow_reads(monkeypatch):
    monkeypatch.setattr(meetings, "now", lambda: datetime(2026, 10, 20, 10, 0, tzinfo=BEIJING))
    read = meetings.slots_taken
    calls = []

    def read_slowly(**kwargs):
        taken = read(**kwargs)
        calls.append(taken)
        if len(calls) <= 2:
            time.sleep(0.4)  # the other transaction reads meanwhile
        return taken

    monkeypatch.setattr(meetings, "slots_taken", read_slowly)
    return calls


def _expo():
    # Transactional tests empty every table: everything made here.
    return EditionFactory(starts_on=FIRST_DAY, ends_on=FIRST_DAY.replace(day=10))


def _ask(unit, exhibitor):
    return lambda: meeting_request(
        unit=unit, exhibitor=exhibitor, day=FIRST_DAY, slot="10:00", actor=unit.account
    )


def _refusals(outcomes) -> list[dict]:
    return [outcome.error.message_dict for outcome in outcomes if not outcome.ok]


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_two_units_asking_one_exhibitor_for_one_slot_at_once_one_gets_it(slow_reads):
    edition = _expo()
    exhibitor = make_exhibitor(edition, contact_email="")
    first, second = UnitFactory(edition=edition), UnitFactory(edition=edition)
    outcomes = run_at_once(_ask(first, exhibitor), _ask(second, exhibitor))
    assert Meeting.objects.filter(exhibitor=exhibitor, day=FIRST_DAY, slot="10:00").count() == 1
    assert [outcome.value for outcome in outcomes if outcome.ok] == list(Meeting.objects.all())
    assert all(isinstance(o.error, ValidationError) for o in outcomes if not o.ok)
    assert _refusals(outcomes) == [{"slot": ["This time is taken: choose another."]}]
    # Both read the slot free: the database, not the service's read, refused the second.
    assert slow_reads[:2] == [{}, {}]


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_one_unit_asking_two_exhibitors_for_one_slot_at_once_gets_one(slow_reads):
    edition = _expo()
    unit = UnitFactory(edition=edition)
    bayer = make_exhibitor(edition, contact_email="")
    sanofi = make_exhibitor(edition, name="赛诺菲", contact_email="")
    outcomes = run_at_once(_ask(unit, bayer), _ask(unit, sanofi))
    assert Meeting.objects.filter(unit=unit, day=FIRST_DAY, slot="10:00").count() == 1
    assert _refusals(outcomes) == [
        {"slot": ["Your unit has another meeting at this time: choose another."]}
    ]
    assert slow_reads[:2] == [{}, {}]
