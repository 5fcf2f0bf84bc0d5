"""Side events taking sign-ups, and visitors who may be signed up, for the sign-up tests (unit
pages, admin, gate, browser, season)."""

from datetime import timedelta

from django.utils import timezone

from ciie_portal.models import SideEvent
from registration.models import Label, Visitor
from tests.registration.factories import VisitorFactory


def side_event(edition, **overrides) -> SideEvent:
    """A published event a week ahead, taking sign-ups now (window open since yesterday)."""
    # Whole minutes, as the admin's form takes them.
    now = timezone.now().replace(second=0, microsecond=0)
    values = {
        "edition": edition,
        "name": "进口食品对接会",
        "name_en": "Imported food matchmaking",
        "starts_at": now + timedelta(days=7),
        "ends_at": now + timedelta(days=7, hours=2),
        "venue": "国家会展中心 4.1馆",
        "organiser": "上海市商务委",
        "contact": "王先生 021-12345678",
        "capacity": 2,
        "signup_opens_at": now - timedelta(days=1),
        "signup_closes_at": now + timedelta(days=6),
    }
    values.update(overrides)
    return SideEvent.objects.create(**values)


def submitted_visitor(unit, **overrides) -> Visitor:
    """A submitted professional visitor of ``unit`` with a mobile and an email."""
    values = {
        "unit": unit,
        "status": Visitor.Status.SUBMITTED,
        "label": Label.VISITOR,
        "mobile": "13912345678",
        "email": "visitor@example.com",
    }
    values.update(overrides)
    return VisitorFactory(**values)
