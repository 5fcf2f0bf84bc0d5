"""Every write of points (积分).

**Each event counts once.** An award's source key (``gate_day:<visitor>:<Beijing date>``,
``registration_completed:<visitor>``, ``colleague_joined:<visitor>``,
``meeting_held:<meeting>``) is unique per edition in the database; awards are inserted with
``ON CONFLICT DO NOTHING``, so a hook that runs twice, a catch-up that runs after it, or two at
once write one entry. The points are the edition's rule at the moment of the award; without a
rule for the kind, nothing is written.

**Where awards come from.** Hooks award in the transaction of the event where the event tells
this package of it: an admitted gate scan (``Scan`` saved) and a meeting marked held
(``registration.exhibitors.signals.meeting_held``). ``points_catch_up`` finds, set by set, every
event of an edition that has no entry yet and awards it: colleagues who joined by the unit's
link and were approved, visitors who passed the visitor review, and (as a safety net) gate days
and meetings held. Beat runs it; a unit's points page and every exchange run it for that unit
first, so what a unit sees and spends is up to date.

**Never below zero.** An exchange or an adjustment locks the unit's row (``FOR NO KEY
UPDATE``: the unit's other writes that only reference it are not held up), then reads the
balance, checks and writes, in one transaction: two exchanges of one unit are decided one after
the other. A free code is taken with ``SKIP LOCKED`` and marked with a conditional UPDATE: two
units racing for the last code get it once; the other hears that the offer is sold out.

Exchanges, adjustments and code loads are audited (``points.*``). An automatic award is its own
record: the ledger row says what, when and why (its source key), and is never changed.
"""

import logging
import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import CharField, Exists, F, IntegerField, OuterRef, Value
from django.db.models.functions import Cast, Concat, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record
from credentials.entry.models import Direction, Scan
from credentials.entry.rules import SHANGHAI
from credentials.review.models import ReviewResult
from registration.exhibitors.models import Meeting
from registration.models import ConsentBy, Unit, Visitor

from .models import Coupon, CouponBatch, EntryKind, PointsEntry, RuleKind
from .selectors import edition_rules, unit_balance, visitor_balance

logger = logging.getLogger(__name__)

INSERT_BATCH = 1000
MAX_CODE_LENGTH = Coupon._meta.get_field("code").max_length


# --- Source keys ----------------------------------------------------------------------------


def gate_day_key(visitor_id: int, day) -> str:
    return f"{RuleKind.GATE_DAY}:{visitor_id}:{day.isoformat()}"


def _key(kind: str, pk) -> str:
    return f"{kind}:{pk}"


# --- Awards from hooks ----------------------------------------------------------------------


def _award(*, edition_id: int, unit_id: int, visitor_id: int | None, kind: str, key: str) -> bool:
    """One entry for one event, at the rule's points; nothing without a rule or when the event
    has its entry already. Returns whether the rule exists (not whether a row was written).

    Written in a savepoint, and a database error is logged, not raised: the event (a gate
    scan, a meeting) never fails for its points — the catch-up writes them later."""
    points = edition_rules(edition_id).get(kind)
    if not points:
        return False
    try:
        with transaction.atomic():
            PointsEntry.objects.bulk_create(
                [
                    PointsEntry(
                        edition_id=edition_id,
                        unit_id=unit_id,
                        visitor_id=visitor_id,
                        kind=kind,
                        points=points,
                        source_key=key,
                    )
                ],
                ignore_conflicts=True,
            )
    except DatabaseError:
        logger.exception("points: %s not awarded now; the catch-up will award it", key)
    return True


def points_award_gate_day(*, scan: Scan) -> bool:
    """The visitor of an admitted entry scan earns the day's points (once per Beijing date).

    Refused scans, exits, unreadable codes and offline admissions the server would have
    refused (flagged) earn nothing."""
    if not (
        scan.admitted
        and not scan.flagged
        and scan.direction == Direction.IN
        and scan.credential_id is not None
    ):
        return False
    if RuleKind.GATE_DAY not in edition_rules(scan.edition_id):
        return False
    credential = scan.credential
    visitor = credential.visitor if type(credential).visitor.is_cached(credential) else None
    if visitor is not None:
        visitor_id, unit_id = visitor.pk, visitor.unit_id
    else:
        visitor_id, unit_id = Visitor.objects.filter(credentials__pk=credential.pk).values_list(
            "pk", "unit_id"
        )[0]
    day = timezone.localtime(scan.scanned_at, SHANGHAI).date()
    return _award(
        edition_id=scan.edition_id,
        unit_id=unit_id,
        visitor_id=visitor_id,
        kind=RuleKind.GATE_DAY,
        key=gate_day_key(visitor_id, day),
    )


def points_award_meeting(*, meeting: Meeting) -> bool:
    """The unit of a meeting marked held earns the meeting's points (no visitor's)."""
    if meeting.status != Meeting.Status.HELD:
        return False
    if type(meeting).exhibitor.is_cached(meeting):
        edition_id = meeting.exhibitor.edition_id
    else:
        edition_id = (
            Meeting.objects.filter(pk=meeting.pk).values_list("exhibitor__edition_id", flat=True)
        )[0]
    return _award(
        edition_id=edition_id,
        unit_id=meeting.unit_id,
        visitor_id=None,
        kind=RuleKind.MEETING_HELD,
        key=_key(RuleKind.MEETING_HELD, meeting.pk),
    )


# --- The catch-up: every event of an edition without its entry, set by set -----------------


def _as_text(expression):
    return Cast(expression, output_field=CharField())


def _events(kind: str, edition_id: int):
    """Every event of ``kind`` in the edition, as rows annotated with ``key``, ``v`` (the
    visitor, or None) and ``u`` (the unit)."""
    if kind == RuleKind.GATE_DAY:
        return (
            Scan.objects.filter(
                edition_id=edition_id,
                admitted=True,
                flagged=False,
                direction=Direction.IN,
                credential__isnull=False,
            )
            .annotate(
                v=F("credential__visitor_id"),
                u=F("credential__visitor__unit_id"),
                day=TruncDate("scanned_at", tzinfo=SHANGHAI),
            )
            .annotate(
                key=Concat(
                    Value(f"{kind}:"),
                    _as_text("v"),
                    Value(":"),
                    _as_text("day"),
                    output_field=CharField(),
                )
            )
        )
    if kind == RuleKind.REGISTRATION_COMPLETED:
        # Completed: the visitor passed the visitor review (公安背审), the last step before a
        # credential is made. The result is written once and never changes.
        rows = ReviewResult.objects.filter(
            outcome=ReviewResult.Outcome.PASSED, visitor__edition_id=edition_id
        ).annotate(v=F("visitor_id"), u=F("visitor__unit_id"))
    elif kind == RuleKind.COLLEAGUE_JOINED:
        # Joined by the unit's link (the colleague gave their own consent there: it stays
        # theirs) and approved by the contact (no longer awaiting approval).
        rows = Visitor.objects.filter(
            edition_id=edition_id, sensitive_consent_by=ConsentBy.COLLEAGUE, join_pending=False
        ).annotate(v=F("pk"), u=F("unit_id"))
    elif kind == RuleKind.MEETING_HELD:
        rows = Meeting.objects.filter(
            status=Meeting.Status.HELD, exhibitor__edition_id=edition_id
        ).annotate(v=Value(None, output_field=IntegerField()), u=F("unit_id"))
        return rows.annotate(
            key=Concat(Value(f"{kind}:"), _as_text("pk"), output_field=CharField())
        )
    else:
        raise ValueError(f"Not a points event: {kind}")
    return rows.annotate(key=Concat(Value(f"{kind}:"), _as_text("v"), output_field=CharField()))


def _missing(kind: str, edition_id: int, unit_id: int | None, visitor_ids=None):
    rows = _events(kind, edition_id)
    if unit_id is not None:
        rows = rows.filter(u=unit_id)
    if visitor_ids is not None:
        rows = rows.filter(v__in=list(visitor_ids))
    awarded = PointsEntry.objects.filter(edition_id=edition_id, source_key=OuterRef("key"))
    return rows.filter(~Exists(awarded)).values_list("key", "v", "u").distinct().order_by()


def points_catch_up(
    *, edition, unit: Unit | None = None, kinds=None, visitor_ids=None
) -> dict[str, int]:
    """Award every event of ``edition`` (of ``unit`` only, if given; of ``kinds`` and of
    ``visitor_ids`` only, if given) that has no entry yet, at the edition's rules:
    ``{kind: entries found missing}``. Safe to run twice or at the same time as the hooks (the
    source keys are unique: a conflict writes nothing)."""
    rules = edition_rules(edition.pk)
    found: dict[str, int] = {}
    for kind, points in rules.items():
        if kinds is not None and kind not in kinds:
            continue
        rows = _missing(kind, edition.pk, unit.pk if unit is not None else None, visitor_ids)
        batch: list[PointsEntry] = []
        count = 0
        for key, visitor_id, unit_id in rows.iterator(chunk_size=2000):
            batch.append(
                PointsEntry(
                    edition_id=edition.pk,
                    unit_id=unit_id,
                    visitor_id=visitor_id,
                    kind=kind,
                    points=points,
                    source_key=key,
                )
            )
            if len(batch) >= INSERT_BATCH:
                PointsEntry.objects.bulk_create(batch, ignore_conflicts=True)
                count += len(batch)
                batch = []
        if batch:
            PointsEntry.objects.bulk_create(batch, ignore_conflicts=True)
            count += len(batch)
        found[kind] = count
    return found


def points_award_colleagues(*, unit: Unit, visitor_ids) -> int:
    """Colleagues the contact just approved (``registration.views_join.join_approve``): those
    who joined by the unit's link earn the unit and themselves the rule's points, in the
    caller's transaction."""
    found = points_catch_up(
        edition=unit.edition,
        unit=unit,
        kinds={RuleKind.COLLEAGUE_JOINED},
        visitor_ids=visitor_ids,
    )
    return found.get(RuleKind.COLLEAGUE_JOINED, 0)


def points_award_reviews_passed(*, edition, visitor_ids) -> int:
    """Visitors whose review just passed (``credentials.review.services``) earn the rule's
    points for a completed registration, in the caller's transaction."""
    found = points_catch_up(
        edition=edition, kinds={RuleKind.REGISTRATION_COMPLETED}, visitor_ids=visitor_ids
    )
    return found.get(RuleKind.REGISTRATION_COMPLETED, 0)


# --- Spending: exchanges and adjustments, under the unit's lock -----------------------------


def _lock_unit(unit_id: int) -> None:
    """THE lock of a unit's points: its row, until the transaction ends."""
    list(Unit.objects.select_for_update(no_key=True).filter(pk=unit_id).values_list("pk"))


def coupon_exchange(*, unit: Unit, batch_id: int, actor) -> Coupon:
    """Exchange the unit's points for one code of the offer: refused when the offer is not the
    unit's edition's or no longer on offer, when the unit has fewer points than it costs
    (积分不足) or when no code is left (已兑完); nothing is written then."""
    today = timezone.localdate()
    with transaction.atomic():
        _lock_unit(unit.pk)
        batch = CouponBatch.objects.filter(pk=batch_id, edition_id=unit.edition_id).first()
        if batch is None or not batch.on_offer:
            raise ValidationError(_("This coupon is not on offer."))
        if not batch.is_valid_on(today):
            raise ValidationError(_("This coupon offer has ended."))
        balance = unit_balance(unit.pk)
        if balance < batch.cost:
            raise ValidationError(
                _(
                    "Not enough points: this coupon costs %(cost)d points and your unit has "
                    "%(balance)d."
                )
                % {"cost": batch.cost, "balance": balance}
            )
        coupon = (
            Coupon.objects.select_for_update(skip_locked=True)
            .filter(batch=batch, exchanged_by__isnull=True)
            .order_by("pk")
            .first()
        )
        now = timezone.now()
        if coupon is None or not Coupon.objects.filter(
            pk=coupon.pk, exchanged_by__isnull=True
        ).update(exchanged_by=unit, exchanged_at=now):
            raise ValidationError(_("All coupons of this offer have been exchanged."))
        coupon.exchanged_by, coupon.exchanged_at, coupon.batch = unit, now, batch
        PointsEntry.objects.create(
            edition_id=unit.edition_id,
            unit=unit,
            kind=EntryKind.EXCHANGE,
            points=-batch.cost,
            source_key=_key(EntryKind.EXCHANGE, coupon.pk),
            coupon=coupon,
            note=batch.name,
            created_by=actor if getattr(actor, "pk", None) else None,
            created_at=now,
        )
        audit_record(
            actor=actor,
            obj=coupon,
            action="points.exchange",
            to_state="exchanged",
            data={
                "unit": unit.pk,
                "batch": batch.pk,
                "cost": batch.cost,
                "balance_after": balance - batch.cost,
            },
        )
    return coupon


def points_adjust(
    *, unit: Unit, points: int, reason: str, actor, visitor: Visitor | None = None
) -> PointsEntry:
    """The organiser adds (or takes away) points, with the reason: audited; never below zero,
    for the unit nor for the visitor named."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Say why the points are adjusted."))
    if not points:
        raise ValidationError(_("An adjustment adds or takes away at least one point."))
    if visitor is not None and visitor.unit_id != unit.pk:
        raise ValidationError(_("The visitor is not one of this unit's."))
    with transaction.atomic():
        _lock_unit(unit.pk)
        balance = unit_balance(unit.pk)
        if balance + points < 0:
            raise ValidationError(
                _("The unit has %(balance)d points: it cannot lose %(points)d.")
                % {"balance": balance, "points": -points}
            )
        if visitor is not None and visitor_balance(visitor.pk) + points < 0:
            raise ValidationError(
                _("%(name)s has fewer than %(points)d points.")
                % {"name": visitor.name, "points": -points}
            )
        entry = PointsEntry.objects.create(
            edition_id=unit.edition_id,
            unit=unit,
            visitor=visitor,
            kind=EntryKind.ADJUSTMENT,
            points=points,
            source_key=_key(EntryKind.ADJUSTMENT, uuid.uuid4().hex),
            note=reason[:300],
            created_by=actor,
        )
        audit_record(
            actor=actor,
            obj=entry,
            action="points.adjust",
            reason=reason,
            data={
                "unit": unit.pk,
                "visitor": visitor.pk if visitor else None,
                "points": points,
                "balance_after": balance + points,
            },
        )
    return entry


# --- The organiser's codes ------------------------------------------------------------------


@dataclass
class LoadReport:
    """What a load of codes did: how many were added, and each line refused, with why."""

    added: int = 0
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # (line, code, why)


def coupons_load(*, batch: CouponBatch, text: str, actor) -> LoadReport:
    """Add the codes of ``text`` (one per line, as given; blank lines skipped) to the offer.

    A code given twice in the text, or already in the offer, or too long, is refused and
    reported by its line; the others are added. Audited (how many, not the codes)."""
    report = LoadReport()
    wanted: dict[str, int] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        code = line.strip()
        if not code:
            continue
        if len(code) > MAX_CODE_LENGTH:
            report.refused.append(
                (
                    number,
                    code[:40] + "…",
                    _("longer than %(n)d characters") % {"n": MAX_CODE_LENGTH},
                )
            )
        elif code in wanted:
            report.refused.append(
                (number, code, _("the same code as line %(line)d") % {"line": wanted[code]})
            )
        else:
            wanted[code] = number
    with transaction.atomic():
        # One load of an offer at a time: what is "already loaded" stays true until the end.
        CouponBatch.objects.select_for_update().filter(pk=batch.pk).values_list("pk").first()
        codes = list(wanted)
        existing: set[str] = set()
        for start in range(0, len(codes), 5000):
            existing.update(
                Coupon.objects.filter(batch=batch, code__in=codes[start : start + 5000])
                .values_list("code", flat=True)
                .order_by()
            )
        for code in codes:
            if code in existing:
                report.refused.append((wanted[code], code, _("already loaded in this offer")))
        now = timezone.now()
        new = [
            Coupon(batch=batch, code=code, loaded_at=now) for code in codes if code not in existing
        ]
        Coupon.objects.bulk_create(new, batch_size=INSERT_BATCH)
        report.added = len(new)
        report.refused.sort()
        audit_record(
            actor=actor,
            obj=batch,
            action="points.coupons_load",
            data={"added": report.added, "refused": len(report.refused)},
        )
    return report
