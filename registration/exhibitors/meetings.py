"""Every write of meetings (洽谈预约) between a unit and an exhibitor, and what their pages read.

**A slot is never booked twice.** A requested, confirmed or held meeting holds its slot for the
exhibitor and for the unit; the database refuses a second one (the partial unique indexes
``meeting_exhibitor_slot_once`` and ``meeting_unit_slot_once``). ``meeting_request`` reads
first, to say clearly which side is taken, then inserts: when two requests race for a slot the
read lets both through, the second INSERT waits for the first's commit and fails, and is told
the same clear refusal (``SLOT_TAKEN``). A slot given back (declined, cancelled) is free again.

**When**: a meeting is on one of the edition's expo days (``starts_on``..``ends_on``) at one of
``MEETING_SLOTS``, Beijing time, and never asked for, confirmed or cancelled once its time has
begun; it can be marked held only from then on.

**Who**: the unit asks and cancels; the organiser (admin) or the exhibitor's contact (by the
signed link of ``meeting_links``, no account) confirms or declines, and marks it held — which
sends ``signals.meeting_held`` in the same transaction (the points above listen).

Every change is audited (``meeting.<state>``) and told by email (``notices_meetings``), queued
in the transaction and sent after its commit.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ciie_portal.audit import audit_record
from ciie_portal.names import localized
from ciie_portal.states import TransitionError

from . import notices_meetings
from .models import MEETING_MINUTES, MEETING_SLOTS, MEETING_STATES, Exhibitor, Meeting
from .signals import meeting_held

M = Meeting.Status
BEIJING = ZoneInfo("Asia/Shanghai")

#: What the exhibitor's answers by the signed link are recorded as (``decided_by``).
BY_EXHIBITOR = "exhibitor"

SLOT_TAKEN = gettext_lazy("This time is taken: choose another.")
UNIT_BUSY = gettext_lazy("Your unit has another meeting at this time: choose another.")


def now() -> datetime:
    """The current moment (tests of the expo days set their own)."""
    return timezone.now()


# --- Days and slots ---------------------------------------------------------------------------


def expo_days(edition) -> list[date]:
    """The edition's expo days, first to last."""
    count = (edition.ends_on - edition.starts_on).days + 1
    return [edition.starts_on + timedelta(days=n) for n in range(max(count, 0))]


def slot_start(day: date, slot: str) -> datetime:
    """When a slot of ``day`` begins, in Beijing time (aware)."""
    hour, minute = (int(part) for part in slot.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BEIJING)


def meeting_start(meeting: Meeting) -> datetime:
    return slot_start(meeting.day, meeting.slot)


def meeting_end(meeting: Meeting) -> datetime:
    return meeting_start(meeting) + timedelta(minutes=MEETING_MINUTES)


def days_open(edition, at: datetime | None = None) -> list[date]:
    """The expo days that still have a slot to come at ``at``."""
    at = at or now()
    return [day for day in expo_days(edition) if slot_start(day, MEETING_SLOTS[-1]) > at]


def slots_taken(*, exhibitor_id: int, unit_id: int, day: date) -> dict[str, str]:
    """The slots of ``day`` held by the exhibitor or the unit: ``{slot: why}`` — the
    exhibitor's first (``SLOT_TAKEN``), else the unit's (``UNIT_BUSY``). One query."""
    rows = (
        Meeting.objects.filter(day=day, status__in=Meeting.HOLDING)
        .filter(Q(exhibitor_id=exhibitor_id) | Q(unit_id=unit_id))
        .values_list("slot", "exhibitor_id")
    )
    taken: dict[str, str] = {}
    for slot, held_by in rows:
        if held_by == exhibitor_id:
            taken[slot] = str(SLOT_TAKEN)
        else:
            taken.setdefault(slot, str(UNIT_BUSY))
    return taken


def slots_past(day: date, at: datetime | None = None) -> set[str]:
    at = at or now()
    return {slot for slot in MEETING_SLOTS if slot_start(day, slot) <= at}


# --- Refusals ---------------------------------------------------------------------------------


def _when_refusal(edition, day: date, slot: str, at: datetime) -> dict:
    """Why a meeting cannot be asked for on ``day`` at ``slot`` ({field: message}, or {})."""
    days = expo_days(edition)
    if day not in days:
        return {
            "day": _("Choose one of the expo days (%(first)s to %(last)s).")
            % {"first": edition.starts_on.isoformat(), "last": edition.ends_on.isoformat()}
        }
    if slot not in MEETING_SLOTS:
        return {"slot": _("Choose one of the times offered.")}
    if slot_start(day, slot) <= at:
        return {"slot": _("This time has passed: choose a later one.")}
    return {}


def _data(meeting: Meeting) -> dict:
    return {
        "unit": meeting.unit_id,
        "exhibitor": meeting.exhibitor_id,
        "day": meeting.day.isoformat(),
        "slot": meeting.slot,
    }


# --- The unit's side --------------------------------------------------------------------------


def meeting_request(
    *,
    unit,
    exhibitor: Exhibitor,
    day: date,
    slot: str,
    message: str = "",
    actor,
    link_base: str = "",
    at: datetime | None = None,
) -> Meeting:
    """``unit`` asks ``exhibitor`` (listed, of its edition) for a meeting on ``day`` at
    ``slot``. Refused (``ValidationError`` on ``day`` or ``slot``) outside the expo days, at a
    time past, or when the exhibitor or the unit holds the slot already — also when another
    request took it a moment before (the database decides). The exhibitor's contact is told by
    email with its signed link (``link_base``: the site's address, for the link)."""
    at = at or now()
    edition = unit.edition
    if exhibitor.edition_id != unit.edition_id or not exhibitor.is_listed:
        raise ValidationError(_("This exhibitor is not listed at this expo."))
    refusal = _when_refusal(edition, day, slot, at)
    if refusal:
        raise ValidationError(refusal)
    taken = slots_taken(exhibitor_id=exhibitor.pk, unit_id=unit.pk, day=day)
    if slot in taken:
        raise ValidationError({"slot": taken[slot]})
    with transaction.atomic():
        try:
            # A savepoint: the caller's transaction goes on after a refused INSERT.
            with transaction.atomic():
                meeting = Meeting.objects.create(
                    unit=unit,
                    exhibitor=exhibitor,
                    day=day,
                    slot=slot,
                    message=(message or "").strip()[:300],
                    requested_by=actor if getattr(actor, "pk", None) else None,
                )
        except IntegrityError:
            # Another request took the slot between our read and our INSERT (it waited for
            # that one's commit): which side holds it now says which refusal to give.
            taken = slots_taken(exhibitor_id=exhibitor.pk, unit_id=unit.pk, day=day)
            raise ValidationError({"slot": taken.get(slot, str(SLOT_TAKEN))}) from None
        meeting.unit, meeting.exhibitor = unit, exhibitor
        audit_record(
            actor=actor,
            obj=meeting,
            action=f"meeting.{M.REQUESTED}",
            to_state=M.REQUESTED,
            data=_data(meeting),
        )
        notices_meetings.meeting_requested(meeting, link_base=link_base)
    return meeting


def meeting_cancel(*, meeting: Meeting, unit, actor, at: datetime | None = None) -> Meeting:
    """The unit withdraws its request, or cancels a confirmed meeting, before it begins; the
    slot is free again. The exhibitor's contact is told."""
    at = at or now()
    if meeting.unit_id != unit.pk:
        raise ValidationError(_("This meeting is not one of your unit's."))
    if meeting.status not in (M.REQUESTED, M.CONFIRMED):
        raise ValidationError(
            _("This meeting is %(status)s already.") % {"status": meeting.get_status_display()}
        )
    if meeting_start(meeting) <= at:
        raise ValidationError(_("This meeting has begun: it can no longer be cancelled."))
    with transaction.atomic():
        _move(meeting, M.CANCELLED, actor=actor)
        notices_meetings.meeting_cancelled(meeting)
    return meeting


# --- The exhibitor's or the organiser's side ----------------------------------------------------


def _move(meeting: Meeting, target: str, *, actor, reason: str = "", **also_set) -> None:
    try:
        MEETING_STATES.move(
            meeting, target, actor=actor, reason=reason, data=_data(meeting), **also_set
        )
    except TransitionError as error:
        # Answered, cancelled or marked by someone else meanwhile: the page reloads.
        raise ValidationError(str(error)) from None


def _decider(actor, by_exhibitor: bool) -> str:
    if by_exhibitor or actor is None or isinstance(actor, str):
        return BY_EXHIBITOR
    return actor.get_username()[:150]


def exhibitor_actor(exhibitor: Exhibitor) -> str:
    """How the audit log names the exhibitor's contact answering by the signed link."""
    return f"exhibitor:{exhibitor.code}"[:150]


def meeting_answer(
    *,
    meeting: Meeting,
    accept: bool,
    actor,
    by_exhibitor: bool = False,
    reason: str = "",
    at: datetime | None = None,
) -> Meeting:
    """Confirm (``accept``) or decline a requested meeting — by the organiser (``actor`` a staff
    user) or by the exhibitor's contact (``by_exhibitor``, ``actor`` from ``exhibitor_actor``).
    A meeting whose time has begun can only be declined. The unit's contact is told."""
    at = at or now()
    if accept and meeting_start(meeting) <= at:
        raise ValidationError(_("This meeting's time has passed: it can only be declined."))
    target = M.CONFIRMED if accept else M.DECLINED
    with transaction.atomic():
        _move(
            meeting,
            target,
            actor=actor,
            reason=reason,
            decided_at=at,
            decided_by=_decider(actor, by_exhibitor),
        )
        notices_meetings.meeting_answered(meeting)
    return meeting


def meeting_mark_held(
    *, meeting: Meeting, actor, by_exhibitor: bool = False, at: datetime | None = None
) -> Meeting:
    """A confirmed meeting took place: marked held once its time has begun, and
    ``meeting_held`` sent in the same transaction (a receiver's writes commit with it)."""
    at = at or now()
    if meeting_start(meeting) > at:
        raise ValidationError(_("This meeting has not begun yet: mark it held once it has."))
    with transaction.atomic():
        _move(meeting, M.HELD, actor=actor, held_at=at)
        meeting_held.send(sender=Meeting, meeting=meeting)
    return meeting


def meetings_answer(*, meetings, accept: bool, actor) -> tuple[int, list[str]]:
    """The organiser's bulk answer (admin): each meeting of ``meetings`` through
    ``meeting_answer``; returns (how many changed, the refusals)."""
    return _each(
        meetings, lambda meeting: meeting_answer(meeting=meeting, accept=accept, actor=actor)
    )


def meetings_mark_held(*, meetings, actor) -> tuple[int, list[str]]:
    return _each(meetings, lambda meeting: meeting_mark_held(meeting=meeting, actor=actor))


def _each(meetings, call) -> tuple[int, list[str]]:
    done, refusals = 0, []
    for meeting in meetings.select_related("unit", "exhibitor").order_by("pk"):
        try:
            call(meeting)
        except ValidationError as error:
            refusals.append(f"{meeting}: {' '.join(error.messages)}")
        else:
            done += 1
    return done, refusals


# --- What pages read --------------------------------------------------------------------------


def meetings_of_unit(unit):
    """The unit's meetings with their exhibitors, by day and slot (one query)."""
    return (
        Meeting.objects.filter(unit_id=unit.pk)
        .select_related("exhibitor")
        .order_by("day", "slot", "pk")
    )


def meetings_of_exhibitor(exhibitor: Exhibitor):
    """The exhibitor's meetings with the units asking, by day and slot (one query)."""
    return (
        Meeting.objects.filter(exhibitor_id=exhibitor.pk)
        .select_related("unit")
        .order_by("day", "slot", "pk")
    )


def can_cancel(meeting: Meeting, at: datetime) -> bool:
    return meeting.status in (M.REQUESTED, M.CONFIRMED) and meeting_start(meeting) > at


def can_mark_held(meeting: Meeting, at: datetime) -> bool:
    return meeting.status == M.CONFIRMED and meeting_start(meeting) <= at


# --- The dashboard --------------------------------------------------------------------------


def dashboard_panel(unit) -> dict | None:
    """The dashboard's meetings panel: the unit's meetings to come, requested or confirmed,
    with the calendar links. No query while the edition lists no exhibitor (the directory keeps
    that in the shared cache); one with exhibitors."""
    from .directory import edition_has_exhibitors

    if not edition_has_exhibitors(unit.edition_id):
        return None
    today = timezone.localdate(now())
    meetings = list(
        meetings_of_unit(unit).filter(status__in=(M.REQUESTED, M.CONFIRMED), day__gte=today)
    )
    if not meetings:
        return None
    for meeting in meetings:
        meeting.exhibitor_name = localized(meeting.exhibitor.name, meeting.exhibitor.name_en)
    return {
        "template": "registration/exhibitors/_meeting_panel.html",
        "meetings": meetings,
        "any_confirmed": any(meeting.status == M.CONFIRMED for meeting in meetings),
    }
