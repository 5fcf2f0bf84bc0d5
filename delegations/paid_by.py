"""交易团代付 (paid by the delegation): the one home of the rule (SPEC §4, §6).

A secretary marks units or single visitors as paid for by their delegation: those visitors are
never asked to pay, and the delegation settles one consolidated order for them
(``credentials.orders.delegation.delegation_order_create``). Marking a unit marks its visitors
too, and visitors added to it later inherit the mark (``registration.services.visitor_save``).

The mark is reversible until an order exists: a visitor with an order line that is open (the
order is pending or paid) keeps it, and is named in the refusal. Cancelled and review-failed
visitors are left alone. Only the visitors of an approved unit or of a unit awaiting review
may be marked.

Marking moves visitors already locked into 待支付 on to 待审核 — they owe the unit nothing now,
as ``visitors_lock`` would have sent them. Undoing the mark moves a professional visitor back from
待审核 to 待支付 while it has no order line and no review result, and the unit is told to pay.
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ciie_portal.audit import audit_record_bulk
from registration.models import VISITOR_STATES, Label, Unit, Visitor

from .services import pay_now_tell

V = Visitor.Status
# Units whose visitors may be marked: approved, or awaiting their delegation's review.
MARKABLE_UNITS = (Unit.Status.APPROVED, Unit.Status.SUBMITTED)
# Visitors left as they are: nothing is paid for them any more.
LEFT_ALONE = (V.CANCELLED, V.REVIEW_FAILED)


def _related(name: str):
    """The order line and review result models (credentials app), reached through their
    relation to the visitor, never imported: the apps depend on each other the other way."""
    return Visitor._meta.get_field(name).related_model


@dataclass
class PaidByChange:
    """What marking (``paid``) or unmarking does, or did: the rows that change, the visitors
    whose state moves, and why the others were refused."""

    paid: bool
    units: list[Unit] = field(default_factory=list)
    visitors: list[Visitor] = field(default_factory=list)
    to_review: list[Visitor] = field(default_factory=list)  # 待支付 → 待审核
    to_payment: list[Visitor] = field(default_factory=list)  # 待审核 → 待支付
    refused_units: list[tuple[Unit, str]] = field(default_factory=list)
    refused_visitors: list[tuple[Visitor, str]] = field(default_factory=list)
    unchanged: int = 0  # already as asked, cancelled or review failed

    @property
    def refusals(self) -> list[str]:
        return [reason for _obj, reason in (*self.refused_units, *self.refused_visitors)]

    @property
    def changes_anything(self) -> bool:
        return bool(self.units or self.visitors)

    def summary(self) -> str:
        """One sentence for the admin's message."""
        if self.paid:
            text = ngettext(
                "%(visitors)d visitor marked as paid by the delegation",
                "%(visitors)d visitors marked as paid by the delegation",
                len(self.visitors),
            )
        else:
            text = ngettext(
                "%(visitors)d visitor no longer paid by the delegation",
                "%(visitors)d visitors no longer paid by the delegation",
                len(self.visitors),
            )
        parts = [text % {"visitors": len(self.visitors)}]
        if self.units:
            parts.append(
                ngettext("%(n)d unit changed", "%(n)d units changed", len(self.units))
                % {"n": len(self.units)}
            )
        if self.to_review:
            parts.append(
                _("%(n)d moved from awaiting payment to awaiting review")
                % {"n": len(self.to_review)}
            )
        if self.to_payment:
            parts.append(
                _("%(n)d moved back to awaiting payment; their units were told to pay")
                % {"n": len(self.to_payment)}
            )
        return "; ".join(parts) + "."


# --- What would change ----------------------------------------------------------------------


def _unit_refusal(unit: Unit) -> str:
    if unit.status in MARKABLE_UNITS:
        return ""
    why = {
        Unit.Status.REJECTED: _("the delegation rejected the unit"),
        Unit.Status.RETURNED: _("the unit was returned for changes and has to submit again"),
    }.get(unit.status, _("the unit has not submitted its information yet"))
    return _(
        "“%(unit)s” cannot be paid by the delegation: %(why)s. Only approved units and units "
        "awaiting review can be."
    ) % {"unit": unit.name, "why": why}


def _open_orders(visitor_ids: list[int]) -> dict[int, str]:
    """Visitor pk → the number of the pending or paid order it is in."""
    lines = (
        _related("order_lines")
        .objects.filter(Q(open=True) | Q(order__status="paid"), visitor_id__in=visitor_ids)
        .values_list("visitor_id", "order__number")
    )
    return dict(lines)


def _visitor_refusal(visitor: Visitor, paid: bool, orders: dict[int, str]) -> str:
    if visitor.pk in orders:
        return _(
            "%(name)s (%(reference)s) is already in order %(order)s: cancel the order first."
        ) % {"name": visitor.name, "reference": visitor.reference, "order": orders[visitor.pk]}
    if paid or visitor.label != Label.VISITOR:
        return ""
    # Undoing the mark: a professional visitor past payment must go back to 待支付, which is
    # possible only while the review has not answered.
    if visitor.status == V.REVIEW_PASSED or (
        visitor.status == V.PENDING_REVIEW and visitor.has_review_result
    ):
        return _(
            "%(name)s (%(reference)s) already has a review result: the delegation pays for this "
            "visitor."
        ) % {"name": visitor.name, "reference": visitor.reference}
    return ""


def _plan(*, units: QuerySet | None, visitors: QuerySet, paid: bool, lock: bool) -> PaidByChange:
    """Decide, row by row, what ``paid`` changes. With ``lock`` the rows are locked (units,
    then visitors, each in pk order), so the plan still holds when it is applied."""
    change = PaidByChange(paid=paid)
    if units is not None:
        chosen_units = Unit.objects.filter(pk__in=units.values("pk")).order_by("pk")
        if lock:
            chosen_units = chosen_units.select_for_update()
        markable = []
        for unit in chosen_units:
            refusal = _unit_refusal(unit)
            if refusal:
                change.refused_units.append((unit, refusal))
            else:
                markable.append(unit)
                if unit.paid_by_delegation != paid:
                    change.units.append(unit)
        visitors = Visitor.objects.filter(unit__in=[u.pk for u in markable])
    rows = (
        Visitor.objects.filter(pk__in=visitors.values("pk"))
        .select_related("unit")
        .annotate(
            has_review_result=Exists(
                _related("review_result").objects.filter(visitor=OuterRef("pk"))
            )
        )
        .order_by("pk")
    )
    if lock:
        rows = rows.select_for_update(of=("self",))
    rows = list(rows)
    refused_units = {unit.pk for unit, _reason in change.refused_units}
    for visitor in rows:
        if units is None and visitor.unit_id not in refused_units:
            refusal = _unit_refusal(visitor.unit)
            if refusal:
                change.refused_units.append((visitor.unit, refusal))
                refused_units.add(visitor.unit_id)
    candidates = []
    for visitor in rows:
        if visitor.unit_id in refused_units:
            continue
        if visitor.status in LEFT_ALONE or visitor.paid_by_delegation == paid:
            change.unchanged += 1
        else:
            candidates.append(visitor)
    orders = _open_orders([v.pk for v in candidates])
    for visitor in candidates:
        refusal = _visitor_refusal(visitor, paid, orders)
        if refusal:
            change.refused_visitors.append((visitor, refusal))
            continue
        change.visitors.append(visitor)
        if paid and visitor.status == V.PENDING_PAYMENT:
            change.to_review.append(visitor)
        elif not paid and visitor.status == V.PENDING_REVIEW and visitor.label == Label.VISITOR:
            change.to_payment.append(visitor)
    return change


def paid_by_preview(
    *, units: QuerySet | None = None, visitors: QuerySet | None = None, paid: bool
) -> PaidByChange:
    """What marking ``units`` (or ``visitors``) would change: for the confirmation page.
    Reads only, locks nothing."""
    return _plan(units=units, visitors=visitors if units is None else None, paid=paid, lock=False)


# --- Changing -------------------------------------------------------------------------------


def units_mark_paid_by_delegation(*, units: QuerySet, paid: bool, actor) -> PaidByChange:
    """Mark (``paid``) or unmark ``units`` and every visitor of theirs that may still change.

    Raises ``ValidationError`` naming every refusal when nothing at all could change; when
    some rows change, the refusals are in the result (``refusals``) for the caller to show.
    """
    return _apply(units=units, visitors=None, paid=paid, actor=actor)


def visitors_mark_paid_by_delegation(*, visitors: QuerySet, paid: bool, actor) -> PaidByChange:
    """Mark (``paid``) or unmark single visitors; their units stay as they are. Refusals as in
    ``units_mark_paid_by_delegation``."""
    return _apply(units=None, visitors=visitors, paid=paid, actor=actor)


def _apply(*, units, visitors, paid: bool, actor) -> PaidByChange:
    before, after = ("1", "0") if not paid else ("0", "1")
    with transaction.atomic():
        change = _plan(units=units, visitors=visitors, paid=paid, lock=True)
        if not change.changes_anything:
            if change.refusals:
                raise ValidationError(change.refusals)
            return change
        if change.units:
            Unit.objects.filter(pk__in=[u.pk for u in change.units]).update(
                paid_by_delegation=paid, updated_at=timezone.now()
            )
            audit_record_bulk(
                actor=actor,
                objects=change.units,
                action="unit.paid_by_delegation",
                from_state=before,
                to_state=after,
            )
        if change.visitors:
            Visitor.objects.filter(pk__in=[v.pk for v in change.visitors]).update(
                paid_by_delegation=paid, updated_at=timezone.now()
            )
            for visitor in change.visitors:
                visitor.paid_by_delegation = paid
            audit_record_bulk(
                actor=actor,
                objects=change.visitors,
                action="visitor.paid_by_delegation",
                from_state=before,
                to_state=after,
            )
        for unit in change.units:
            unit.paid_by_delegation = paid
        if change.to_review:
            change.to_review = VISITOR_STATES.move_many(
                Visitor.objects.filter(pk__in=[v.pk for v in change.to_review]),
                V.PENDING_REVIEW,
                actor=actor,
                reason=_("Paid by the delegation"),
            )
        if change.to_payment:
            # move_many would also take 待支付 → 待审核 sources; only these rows are given.
            change.to_payment = VISITOR_STATES.move_many(
                Visitor.objects.filter(
                    pk__in=[v.pk for v in change.to_payment], status=V.PENDING_REVIEW
                ),
                V.PENDING_PAYMENT,
                actor=actor,
                reason=_("No longer paid by the delegation"),
            )
            pay_now_tell(change.to_payment)
    return change
