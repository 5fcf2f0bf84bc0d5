"""Every write of side-event sign-ups (配套活动报名).

**Places are counted under the event's row lock.** Each service that takes or gives back a
place — signing up, cancelling, approving, declining, an organiser's change of the event —
first locks the event's row (``SELECT … FOR UPDATE``), then counts the places held and writes,
all in one transaction: two units signing up for the last place at the same moment are counted
one after the other, and the second one waits in the list. No event ever has more sign-ups
holding a place than its capacity.

**Who holds a place**: sign-ups that are signed up (confirmed) and those awaiting the
organiser's approval (pending). A pending one holds its place so that a place is never
promised twice; a decline gives it back.

**The waiting list**: beyond the capacity, sign-ups wait, in the order they came (their
primary key). A place given back — a cancellation by the unit, a decline by the organiser,
places added — goes to the first waiting sign-up at once, in the same transaction
(``_move_up``), so a sign-up waits only while the event is full.

Every change is audited (``side_event_signup.<state>``) and told by SMS and email to the
visitors and the unit's contact (``notices``), queued after the commit.
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal import read_cache
from ciie_portal.audit import audit_record_bulk
from ciie_portal.models import SideEvent
from ciie_portal.timefmt import local_text

from ..models import Label, Unit, Visitor
from . import notices
from .models import ACTIVE, HOLDING, SIGNUP_STATES, SideEventSignup

S = SideEventSignup.Status
V = Visitor.Status

#: Visitors an event asking for "submitted (at least)" takes: submitted and on their way.
SUBMITTED_OR_FURTHER = (
    V.SUBMITTED,
    V.PENDING_LOCK,
    V.PENDING_PAYMENT,
    V.PENDING_REVIEW,
    V.REVIEW_PASSED,
)
#: … and one asking for "passed the visitor review".
REVIEWED = (V.REVIEW_PASSED,)

#: The read_cache topic of what the dashboard keeps about an edition's side events.
CACHE_TOPIC = "side-events"


# --- Reading under the lock -------------------------------------------------------------------


def _lock_event(event_id: int) -> SideEvent:
    """THE lock: the event's row, held until the transaction ends."""
    return SideEvent.objects.select_for_update().get(pk=event_id)


def places_held(event_ids) -> dict[int, int]:
    """``{event id: sign-ups holding a place}`` (events without any are left out)."""
    rows = (
        SideEventSignup.objects.filter(event_id__in=list(event_ids), status__in=HOLDING)
        .values("event_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["event_id"]: row["n"] for row in rows}


def _places_held(event: SideEvent) -> int:
    return places_held([event.pk]).get(event.pk, 0)


def _with_related(signups: list, event: SideEvent) -> list:
    for signup in signups:
        signup.event = event
    return signups


def _holding_status(event: SideEvent) -> str:
    return S.PENDING if event.needs_approval else S.CONFIRMED


# --- Who may be signed up ---------------------------------------------------------------------


def signup_window_refusal(event: SideEvent, now: datetime) -> str:
    """Why units may not sign up for ``event`` at ``now`` ("" when they may)."""
    if not event.open_to_visitors or not event.takes_signups:
        return _("This event takes no sign-ups.")
    if event.signup_opens_at is None or now < event.signup_opens_at:
        return _("Sign-up for this event opens at %(time)s (Beijing time).") % {
            "time": local_text(event.signup_opens_at)
        }
    if now >= event.signup_closes_at:
        return _("Sign-up for this event closed at %(time)s (Beijing time).") % {
            "time": local_text(event.signup_closes_at)
        }
    return ""


def visitor_refusal(event: SideEvent, visitor: Visitor) -> str:
    """Why ``visitor`` cannot be signed up for ``event`` ("" when they can): their label, how
    far they are, cancelled or failed."""
    name = visitor.name
    if visitor.status == V.CANCELLED:
        return _("%(name)s was cancelled.") % {"name": name}
    if visitor.status == V.REVIEW_FAILED:
        return _("%(name)s did not pass the visitor review.") % {"name": name}
    if event.signup_requires == SideEvent.Requires.REVIEWED:
        if visitor.status not in REVIEWED:
            return _("%(name)s has not passed the visitor review yet.") % {"name": name}
    elif visitor.status not in SUBMITTED_OR_FURTHER or visitor.join_pending:
        return _("%(name)s has not been submitted yet.") % {"name": name}
    if event.labels and visitor.label not in event.labels:
        allowed = "、".join(str(Label(label).label) for label in event.labels)
        return _("%(name)s cannot attend: the event is open to %(labels)s only.") % {
            "name": name,
            "labels": allowed,
        }
    return ""


def already_refusal(visitor: Visitor, status: str) -> str:
    """Why ``visitor``, with a sign-up of ``status`` (not cancelled), cannot sign up again."""
    if status == S.DECLINED:
        return _("%(name)s was declined for this event by the organiser.") % {"name": visitor.name}
    return _("%(name)s is signed up already.") % {"name": visitor.name}


def _already(event: SideEvent, visitors: list[Visitor]) -> dict[int, str]:
    """The chosen visitors with a sign-up for the event that is not cancelled: its status."""
    return dict(
        SideEventSignup.objects.filter(event=event, visitor__in=visitors)
        .exclude(status=S.CANCELLED)
        .values_list("visitor_id", "status")
    )


# --- The unit's side --------------------------------------------------------------------------


def side_event_signup(
    *, event: SideEvent, unit: Unit, visitor_ids, actor, now: datetime | None = None
) -> list[SideEventSignup]:
    """Sign ``unit``'s visitors ``visitor_ids`` up for ``event``, in the order of their primary
    keys: each takes a place while one is left (awaiting approval where the event needs it),
    the rest wait in the list. All or nothing: a visitor who cannot be signed up refuses the
    whole request, with a message per visitor (``ValidationError`` on ``visitors``)."""
    wanted = sorted({int(pk) for pk in visitor_ids})
    if not wanted:
        raise ValidationError({"visitors": _("Choose at least one visitor.")})
    with transaction.atomic():
        event = _lock_event(event.pk)
        if event.edition_id != unit.edition_id:
            raise ValidationError({"visitors": _("This event is not one of this expo.")})
        refusal = signup_window_refusal(event, now or timezone.now())
        if refusal:
            raise ValidationError({"visitors": refusal})
        visitors = list(Visitor.objects.filter(pk__in=wanted, unit=unit).order_by("pk"))
        if len(visitors) != len(wanted):
            # Another unit's visitor (or none at all): never said whose.
            raise ValidationError({"visitors": _("Choose visitors of your own unit.")})
        problems = [message for visitor in visitors if (message := visitor_refusal(event, visitor))]
        already = _already(event, visitors)
        problems += [
            already_refusal(visitor, already[visitor.pk])
            for visitor in visitors
            if visitor.pk in already
        ]
        if problems:
            raise ValidationError({"visitors": problems})
        counted_before = SideEventSignup.objects.filter(event=event).exists()
        free = max(event.capacity - _places_held(event), 0)
        signups = [
            SideEventSignup(
                event=event,
                unit=unit,
                visitor=visitor,
                status=_holding_status(event) if index < free else S.WAITING,
            )
            for index, visitor in enumerate(visitors)
        ]
        signups = SideEventSignup.objects.bulk_create(signups)
        for signup in signups:
            signup.unit = unit
        audit_record_bulk(
            actor=actor,
            objects=[s for s in signups if s.status != S.WAITING],
            action=f"side_event_signup.{_holding_status(event)}",
            to_state=_holding_status(event),
        )
        audit_record_bulk(
            actor=actor,
            objects=[s for s in signups if s.status == S.WAITING],
            action="side_event_signup.waiting",
            to_state=S.WAITING,
        )
        notices.signup_notices_send(
            [
                (notices.SIGNED_UP, [s for s in signups if s.status != S.WAITING]),
                (notices.WAITING, [s for s in signups if s.status == S.WAITING]),
            ]
        )
        if not counted_before:
            # The edition may have had no sign-up until now: the dashboard reads it anew.
            read_cache.forget(CACHE_TOPIC)
    return signups


def side_event_signup_cancel(
    *, signup: SideEventSignup, unit: Unit, actor, now: datetime | None = None
) -> SideEventSignup:
    """The unit gives back a visitor's sign-up (signed up, awaiting approval or waiting) until
    the event starts. A place given back goes to the first waiting sign-up."""
    with transaction.atomic():
        event = _lock_event(signup.event_id)
        signup = (
            SideEventSignup.objects.select_related("visitor", "unit")
            .filter(pk=signup.pk, unit=unit)
            .first()
        )
        if signup is None:
            raise ValidationError(_("This sign-up is not one of your unit's."))
        if signup.status not in ACTIVE:
            raise ValidationError(
                _("This sign-up is %(status)s already.") % {"status": signup.get_status_display()}
            )
        if (now or timezone.now()) >= event.starts_at:
            raise ValidationError(_("The event has started: its sign-ups can no longer change."))
        signup.event = event
        held = signup.status in HOLDING
        SIGNUP_STATES.move(signup, S.CANCELLED, actor=actor)
        changes = [(notices.CANCELLED, [signup])]
        if held:
            changes.append((notices.MOVED_UP, _move_up(event, actor=actor)))
        notices.signup_notices_send(changes)
    return signup


def side_event_signups_release(*, visitor_ids, actor, reason: str, now: datetime | None = None):
    """The sign-ups of visitors who can no longer attend — cancelled (注销) or failed in the
    visitor review — for events not started yet: cancelled, each event's places going to its
    first waiting sign-ups. Called by the services that move those visitors, in their
    transaction. Returns the sign-ups cancelled."""
    ids = list(visitor_ids)
    if not ids:
        return []
    now = now or timezone.now()
    active = SideEventSignup.objects.filter(
        visitor_id__in=ids, status__in=ACTIVE, event__starts_at__gt=now
    )
    released = []
    with transaction.atomic():
        for event_id, signup_ids in sorted(_by_event(active).items()):
            event = _lock_event(event_id)
            moved = SIGNUP_STATES.move_many(
                SideEventSignup.objects.filter(pk__in=signup_ids, status__in=ACTIVE),
                S.CANCELLED,
                actor=actor,
                reason=reason,
            )
            moved = _reloaded(moved, event)
            notices.signup_notices_send(
                [(notices.CANCELLED, moved), (notices.MOVED_UP, _move_up(event, actor=actor))]
            )
            released += moved
    return released


# --- The organiser's side -----------------------------------------------------------------------


def _by_event(signups) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = {}
    for event_id, pk in signups.order_by("event_id", "pk").values_list("event_id", "pk"):
        grouped.setdefault(event_id, []).append(pk)
    return grouped


def side_event_signups_approve(*, signups, actor) -> int:
    """Approve the pending sign-ups among ``signups`` (a queryset; others are left alone);
    returns how many. Their places were held already: nothing else moves."""
    approved = 0
    with transaction.atomic():
        for event_id, ids in sorted(_by_event(signups).items()):
            event = _lock_event(event_id)
            moved = SIGNUP_STATES.move_many(
                SideEventSignup.objects.filter(pk__in=ids, status=S.PENDING).select_related(
                    "visitor", "unit"
                ),
                S.CONFIRMED,
                actor=actor,
            )
            moved = _reloaded(moved, event)
            notices.signup_notices_send([(notices.APPROVED, moved)])
            approved += len(moved)
    return approved


def side_event_signups_decline(*, signups, actor, reason: str = "") -> int:
    """Decline the sign-ups among ``signups`` that are signed up, awaiting approval or waiting;
    returns how many. The places they held go to the first waiting sign-ups."""
    declined = 0
    with transaction.atomic():
        for event_id, ids in sorted(_by_event(signups).items()):
            event = _lock_event(event_id)
            moved = SIGNUP_STATES.move_many(
                SideEventSignup.objects.filter(pk__in=ids, status__in=ACTIVE),
                S.DECLINED,
                actor=actor,
                reason=reason,
            )
            moved = _reloaded(moved, event)
            notices.signup_notices_send(
                [(notices.DECLINED, moved), (notices.MOVED_UP, _move_up(event, actor=actor))]
            )
            declined += len(moved)
    return declined


def side_event_changed(*, event: SideEvent, actor) -> list[SideEventSignup]:
    """After an organiser's change of ``event`` (its row locked by the admin's form): places
    added go to the first waiting sign-ups."""
    with transaction.atomic():
        event = _lock_event(event.pk)
        moved = _move_up(event, actor=actor)
        notices.signup_notices_send([(notices.MOVED_UP, moved)])
    return moved


def _reloaded(moved: list, event: SideEvent) -> list[SideEventSignup]:
    """The moved sign-ups with their visitor and unit (for the notices), in one query."""
    if not moved:
        return []
    rows = list(
        SideEventSignup.objects.filter(pk__in=[s.pk for s in moved])
        .select_related("visitor", "unit")
        .order_by("pk")
    )
    return _with_related(rows, event)


def _move_up(event: SideEvent, *, actor) -> list[SideEventSignup]:
    """Give the places free on ``event`` (locked) to the first waiting sign-ups, in order."""
    if event.capacity is None:
        return []
    free = event.capacity - _places_held(event)
    if free <= 0:
        return []
    first = list(
        SideEventSignup.objects.filter(event=event, status=S.WAITING)
        .order_by("pk")
        .values_list("pk", flat=True)[:free]
    )
    if not first:
        return []
    moved = SIGNUP_STATES.move_many(
        SideEventSignup.objects.filter(pk__in=first),
        _holding_status(event),
        actor=actor,
        reason="moved up from the waiting list",
    )
    return _reloaded(moved, event)
