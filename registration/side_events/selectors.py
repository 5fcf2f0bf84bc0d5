"""What the unit's side-event pages and its dashboard read."""

from django.utils import timezone

from ciie_portal.models import SideEvent
from ciie_portal.read_cache import kept
from ciie_portal.sql_once import WrittenOnce

from ..models import Unit, Visitor
from .models import SideEventSignup
from .services import CACHE_TOPIC, already_refusal, places_held, visitor_refusal


def listed_events(edition_id: int) -> list[SideEvent]:
    """The edition's published side events, in their order, kept in the shared cache (read
    anew when an event is saved)."""
    return kept(
        CACHE_TOPIC,
        f"listed:{edition_id}",
        lambda: list(SideEvent.objects.filter(edition_id=edition_id, open_to_visitors=True)),
    )


def edition_has_signups(edition_id: int) -> bool:
    """Whether any unit signed up for any event of the edition, kept in the shared cache (the
    first sign-up of an event makes it read anew)."""
    return kept(
        CACHE_TOPIC,
        f"has-signups:{edition_id}",
        lambda: SideEventSignup.objects.filter(event__edition_id=edition_id).exists(),
    )


_SIGNUPS_OF_UNIT = WrittenOnce(
    lambda unit_id: (
        SideEventSignup.objects.filter(unit_id=unit_id)
        .select_related("event", "visitor")
        .only(
            "status",
            "event",
            "visitor",
            "created_at",
            "event__name",
            "event__name_en",
            "event__starts_at",
            "visitor__name",
        )
        .order_by("event__starts_at", "event_id", "pk")
    )
)


def dashboard_side_events(unit: Unit) -> dict:
    """The dashboard's side events: those published (none asked: kept in the shared cache),
    the unit's sign-ups with their state (one query, and none while nobody in the edition has
    signed up) and whether any event takes sign-ups now."""
    events = listed_events(unit.edition_id)
    now = timezone.now()
    signups = _SIGNUPS_OF_UNIT.objects(unit.pk) if edition_has_signups(unit.edition_id) else []
    return {
        "side_events": events,
        "side_event_signups": signups,
        "side_event_signup_open": any(event.signup_open_at(now) for event in events),
        "side_events_with_signup": any(event.takes_signups for event in events),
    }


def signup_events(edition_id: int) -> list[SideEvent]:
    """The published events that take sign-ups, with ``places_left`` (one query for all)."""
    events = [event for event in listed_events(edition_id) if event.takes_signups]
    held = places_held(event.pk for event in events)
    now = timezone.now()
    for event in events:
        event.places_left = max(event.capacity - held.get(event.pk, 0), 0)
        event.signup_open = event.signup_open_at(now)
    return events


def signups_of_unit(unit: Unit, event_id: int | None = None) -> list[SideEventSignup]:
    """The unit's sign-ups (of one event), latest first within each event, with visitors."""
    signups = SideEventSignup.objects.filter(unit=unit).select_related("visitor", "event")
    if event_id is not None:
        signups = signups.filter(event_id=event_id)
    return list(signups.order_by("event__starts_at", "event_id", "pk"))


def visitor_choices(
    unit: Unit, event: SideEvent, signups: list[SideEventSignup]
) -> list[tuple[Visitor, str]]:
    """The unit's visitors (colleagues awaiting the unit's approval left out), each with why
    they cannot be signed up for ``event`` ("" when they can) — ``signups`` being the unit's
    sign-ups for it (``signups_of_unit``)."""
    visitors = Visitor.objects.filter(unit=unit, join_pending=False).order_by("pk")
    taken = {
        s.visitor_id: s.status for s in signups if s.status != SideEventSignup.Status.CANCELLED
    }
    return [
        (
            visitor,
            already_refusal(visitor, taken[visitor.pk])
            if visitor.pk in taken
            else visitor_refusal(event, visitor),
        )
        for visitor in visitors
    ]
