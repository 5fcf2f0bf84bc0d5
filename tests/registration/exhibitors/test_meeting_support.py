"""What the meeting tests share (no test here): an expo on 5–10 November 2026, a clock set
before it (the services read ``meetings.now``), an exhibitor with a contact and a buyer unit."""

from datetime import date, datetime

import pytest

from registration.exhibitors import meetings
from registration.exhibitors.meeting_links import exhibitor_path

from .factories import ExhibitorFactory

BEIJING = meetings.BEIJING
#: Two weeks before the expo, Beijing time.
BEFORE = datetime(2026, 10, 20, 10, 0, tzinfo=BEIJING)
FIRST_DAY = date(2026, 11, 5)


class Clock:
    def __init__(self, at):
        self.at = at

    def __call__(self):
        return self.at


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(BEFORE)
    monkeypatch.setattr(meetings, "now", clock)
    return clock


@pytest.fixture
def expo(edition):
    edition.starts_on, edition.ends_on = FIRST_DAY, date(2026, 11, 10)
    edition.save()
    return edition


def make_exhibitor(edition, **fields):
    values = {
        "name": "拜耳医药",
        "name_en": "Bayer Pharma",
        "hall": "1.1",
        "booth": "A001",
        "country": "DE",
        "contact_email": "sales@bayer.example",
        **fields,
    }
    return ExhibitorFactory(edition=edition, **values)


@pytest.fixture
def exhibitor(expo):
    return make_exhibitor(expo)


@pytest.fixture
def buyer(unit, expo):
    unit.contact_email = "buyer@example.com"
    unit.save()
    return unit


def link(exhibitor) -> str:
    return exhibitor_path(exhibitor)
