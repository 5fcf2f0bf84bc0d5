"""Credential orders (订单): creating, cancelling, closing and paying.

The fee of each line is ``fees.line_fee``; a delegation's consolidated order is made in
``delegation``. The order's states are ``models.ORDER_STATES``; every change goes through it
(audited).
"""

import hashlib
from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record
from ciie_portal.notices.services import notice_send, notice_send_both
from ciie_portal.states import TransitionError
from delegations.gates import require_approved, unit_refusal
from delegations.models import DelegationContact
from registration.models import VISITOR_STATES, Unit, Visitor

from .fees import ZERO, line_fee
from .holds import held_open_q
from .models import ORDER_STATES, CredentialOrder, OrderLine, new_order_number

# Orders closed per transaction by the expiry job: keeps each lock short during the rush.
EXPIRE_BATCH = 500

Status = CredentialOrder.Status


# --- Create ---------------------------------------------------------------------------------


def _names(visitors: Iterable[Visitor]) -> str:
    return ", ".join(v.name for v in visitors)


def _refuse_unorderable(visitors: list[Visitor]) -> None:
    """Every reason a chosen visitor cannot be ordered, all at once, naming the visitors."""
    problems = []
    unpaid = [v for v in visitors if v.status != Visitor.Status.PENDING_PAYMENT]
    if unpaid:
        problems.append(
            _("Only visitors awaiting payment can be submitted for a credential: %(names)s.")
            % {"names": _names(unpaid)}
        )
    no_days = [v for v in visitors if v.entry_period_id is None]
    if no_days:
        problems.append(
            _("These visitors have no entry days yet: %(names)s.") % {"names": _names(no_days)}
        )
    taken = list(
        OrderLine.objects.filter(visitor__in=visitors, open=True)
        .select_related("order")
        .order_by("visitor_id")
    )
    if taken:
        by_pk = {v.pk: v for v in visitors}
        problems.append(
            _("Already in an open order: %(names)s.")
            % {
                "names": ", ".join(
                    f"{by_pk[line.visitor_id].name} ({line.order.number})" for line in taken
                )
            }
        )
    if problems:
        raise ValidationError(problems)


def _insert_order(**values) -> CredentialOrder:
    """Insert the order under a fresh number; draw again on the (rare) collision."""
    for _attempt in range(5):
        order = CredentialOrder(number=new_order_number(values["created_at"]), **values)
        try:
            with transaction.atomic():
                order.save(force_insert=True)
            return order
        except IntegrityError:
            if not CredentialOrder.objects.filter(number=order.number).exists():
                raise
    raise RuntimeError("Could not draw a free order number five times in a row.")


def order_create(*, unit: Unit, visitor_ids: Iterable[int], actor) -> CredentialOrder:
    """提交办证(付费): one order for the chosen visitors of ``unit``, one line each.

    Only the unit's visitors awaiting payment (待支付) with entry days, none of them already in
    an open order. Their rows are locked first, so two submissions of the same visitor at once
    make one order and one refusal (and the database's one-open-line rule backs this up).
    Visitors whose fee is 0 never need an order: an order of nothing but free lines is refused.
    """
    ids = sorted({int(pk) for pk in visitor_ids})
    if not ids:
        raise ValidationError(_("Select the visitors to submit for a credential."))
    try:
        with transaction.atomic():
            # Approval is final once given, so a fresh read suffices (no lock on the unit).
            require_approved([Unit.objects.get(pk=unit.pk)], doing=_("Credentials can be ordered"))
            visitors = list(
                Visitor.objects.select_for_update(of=("self",))
                .filter(unit=unit, pk__in=ids, join_pending=False)
                .select_related("entry_period", "unit", "previous__unit", "previous__entry_period")
                .order_by("pk")
            )
            if len(visitors) != len(ids):
                raise ValidationError(_("Some of the selected visitors are not in your unit."))
            _refuse_unorderable(visitors)
            edition = unit.edition
            fees = {v.pk: line_fee(v, edition) for v in visitors}
            total = sum(fees.values(), ZERO)
            if total <= 0:
                raise ValidationError(
                    _("The selected visitors have no fee to pay, so they need no order: %(names)s.")
                    % {"names": _names(visitors)}
                )
            now = timezone.now()
            order = _insert_order(
                edition_id=unit.edition_id,
                unit=unit,
                total=total,
                created_at=now,
                expires_at=now + edition.order_payment_window,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
            OrderLine.objects.bulk_create(
                OrderLine(
                    order=order,
                    visitor=v,
                    label=v.label,
                    entry_period_id=v.entry_period_id,
                    pickup=v.pickup,
                    fee=fees[v.pk],
                )
                for v in visitors
            )
            audit_record(
                actor=actor,
                obj=order,
                action="order.create",
                to_state=order.status,
                data={"visitors": ids, "total": str(total)},
            )
    except IntegrityError as error:
        if not _is_open_line_conflict(error):
            raise
        # Another request ordered one of these visitors between our check and our insert
        # (possible only where rows cannot be locked); the database kept them apart.
        raise ValidationError(
            _("One of the selected visitors was just ordered by someone else; reload the page.")
        ) from error
    return order


def _is_open_line_conflict(error: IntegrityError) -> bool:
    text = str(error)
    # PostgreSQL names the constraint; SQLite names the column of the partial unique index.
    return "one_open_order_line_per_visitor" in text or "orderline.visitor_id" in text


# --- Cancel and close -----------------------------------------------------------------------


def _release_lines(order_ids: list[int]) -> int:
    """The visitors of cancelled or closed orders can be ordered again: one UPDATE."""
    return OrderLine.objects.filter(order_id__in=order_ids, open=True).update(open=False)


def order_cancel(*, order: CredentialOrder, actor, reason: str = "") -> CredentialOrder:
    """取消订单: only an unpaid order. Its visitors stay 待支付 and can be ordered again."""
    with transaction.atomic():
        locked = CredentialOrder.objects.select_for_update().get(pk=order.pk)
        if locked.status != Status.PENDING_PAYMENT:
            raise ValidationError(
                _("Order %(number)s is “%(status)s” and can no longer be cancelled.")
                % {"number": locked.number, "status": locked.get_status_display()}
            )
        ORDER_STATES.move(
            locked,
            Status.CANCELLED,
            actor=actor,
            reason=reason or _("Cancelled by the unit"),
            closed_at=timezone.now(),
        )
        _release_lines([locked.pk])
    return locked


def orders_expire(*, now: datetime | None = None) -> int:
    """Close every unpaid order whose payment window has ended (订单关闭). Returns how many.

    Set-based, in batches; each batch is one transaction with one audit INSERT. An order being
    paid at this very moment is locked by the payment and skipped (``skip_locked``): if the
    payment fails, the next run closes it. An order held open (``holds.held_open_q``: a bank
    transfer's remittance submitted before the transfer deadline, finance not yet decided, the
    edition's grace not over) is skipped until finance decides or the grace ends.
    """
    now = now or timezone.now()
    closed = 0
    while True:
        with transaction.atomic():
            batch = list(
                CredentialOrder.objects.select_for_update(skip_locked=True)
                .filter(status=Status.PENDING_PAYMENT, expires_at__lte=now)
                # A remittance submitted in time keeps its order open until finance decides,
                # within the edition's grace (``holds``: the payments app says which).
                .exclude(held_open_q(now))
                .order_by("expires_at", "pk")
                .values_list("pk", flat=True)[:EXPIRE_BATCH]
            )
            if not batch:
                return closed
            moved = ORDER_STATES.move_many(
                CredentialOrder.objects.filter(pk__in=batch),
                Status.CLOSED,
                actor=None,
                reason=_("The payment window ended"),
                closed_at=now,
            )
            _release_lines([order.pk for order in moved])
            closed += len(moved)
        if len(batch) < EXPIRE_BATCH:
            return closed


# --- Paid -----------------------------------------------------------------------------------


def order_payer_refusal(order: CredentialOrder) -> str:
    """Why money for ``order`` must not be accepted because of who pays, or "" if it may.

    A unit's order is paid only while the unit is approved (``delegations.gates``); money that
    still arrives otherwise is recorded and flagged for finance by the payments app, never
    dropped and never silently accepted. A delegation's consolidated order has no unit.
    """
    if order.unit_id is None:
        return ""
    if CredentialOrder.unit.is_cached(order):
        # Read with the order (select_related): approval is final once given, so that read
        # is as good as a fresh one.
        return unit_refusal(order.unit)
    return unit_refusal(Unit.objects.only("name", "status").get(pk=order.unit_id))


def order_reopen_refusal(order: CredentialOrder) -> str:
    """Why the closed ``order`` cannot be paid late (money made in time, accepted within the
    edition's grace for transfers: ``payments.grace``), or "" if it can.

    Only a unit's order closed when its window ended, whose visitors all still await payment
    and are in no other open order: then paying it changes nothing anyone else relies on. A
    delegation's order is not reopened (its secretariat makes a new one).
    """
    if order.status != Status.CLOSED:
        return _("Order %(number)s is not closed.") % {"number": order.number}
    if order.is_delegation_order:
        return _("A delegation's closed order is not reopened.")
    visitors = OrderLine.objects.filter(order=order).values("visitor_id")
    if OrderLine.objects.filter(visitor_id__in=visitors, open=True).exists():
        return _("Some visitors of order %(number)s were ordered again after it closed.") % {
            "number": order.number
        }
    if (
        Visitor.objects.filter(pk__in=visitors)
        .exclude(status=Visitor.Status.PENDING_PAYMENT)
        .exists()
    ):
        return _("Some visitors of order %(number)s no longer await payment.") % {
            "number": order.number
        }
    return ""


def _reopen_lines(order: CredentialOrder) -> None:
    """The closed order's lines are open again, under its visitors' row locks; refused (and
    nothing written) when they cannot be (``order_reopen_refusal``)."""
    list(
        Visitor.objects.select_for_update(of=("self",))
        .filter(pk__in=OrderLine.objects.filter(order=order).values("visitor_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    refusal = order_reopen_refusal(order)
    if refusal:
        raise ValidationError(refusal)
    OrderLine.objects.filter(order=order).update(open=True)


def order_mark_paid(
    *,
    order: CredentialOrder,
    actor,
    paid_at: datetime | None = None,
    locked: bool = False,
    reopen: bool = False,
) -> CredentialOrder:
    """The order was paid: its visitors go from 待支付 to 待审核 and the unit is told.

    A delegation's consolidated order (交易团代付) moves no visitor — they went to review when
    they were locked — and its delegation's contacts are told by email.

    Called by the payments app once a payment is confirmed. Safe to call twice (or twice at
    once): the second call finds the order paid and does nothing. A cancelled or closed order
    cannot be marked paid; the caller refunds or reopens per its own rules.

    ``locked``: the caller holds the order's row lock in its transaction and read ``order``
    under it, so it is not read again.

    ``reopen``: the caller found money made in time for a closed order, within the edition's
    grace for transfers (``payments.grace``): the order is paid after all, its lines open
    again, where ``order_reopen_refusal`` allows (else ValidationError, nothing written).
    """
    refused = None
    # No savepoint: in the caller's transaction that transaction is the unit of work (an
    # error inside marks it for rollback); without one, this block is the transaction.
    with transaction.atomic(savepoint=False):
        if not locked:
            order = (
                CredentialOrder.objects.select_for_update(of=("self",))
                .select_related("unit", "delegation")
                .get(pk=order.pk)
            )
        if order.status == Status.PAID:
            return order
        closed_refusal = ""
        if order.status == Status.CLOSED:
            # Only money made in time, within the grace (the caller says so), pays a closed
            # order; the check comes before anything is written.
            closed_refusal = (
                order_reopen_refusal(order)
                if reopen
                else _("Order %(number)s is closed: it cannot be paid.") % {"number": order.number}
            )
        if closed_refusal:
            refused = TransitionError(closed_refusal)  # nothing was written
        else:
            if order.status == Status.CLOSED:
                _reopen_lines(order)
            try:
                ORDER_STATES.move(
                    order, Status.PAID, actor=actor, paid_at=paid_at or timezone.now()
                )
            except TransitionError as error:
                refused = error  # nothing was written: raised after the block
        if refused is None:
            if order.is_delegation_order:
                _tell_delegation_paid(order)
            else:
                moved = VISITOR_STATES.move_many(
                    Visitor.objects.filter(
                        pk__in=OrderLine.objects.filter(order=order, open=True).values("visitor_id")
                    ),
                    Visitor.Status.PENDING_REVIEW,
                    actor=actor,
                    reason=_("Credential fee paid (order %(number)s)") % {"number": order.number},
                )
                _tell_paid(order, visitors=len(moved))
    if refused is not None:
        raise ValidationError(str(refused)) from refused
    return order


def order_paid_notices_ensure(order: CredentialOrder) -> None:
    """Make sure a paid order's notices exist (each is sent once, by its key). A gateway that
    repeats a notification calls this: whatever its first delivery left undone is done now."""
    if order.status != Status.PAID:
        return
    if order.is_delegation_order:
        _tell_delegation_paid(order)
    else:
        _tell_paid(order, visitors=order.lines.filter(open=True).count())


def _tell_paid(order: CredentialOrder, *, visitors: int) -> None:
    unit = order.unit
    params = {
        "unit": unit.name,
        "number": order.number,
        "total": str(order.total),
        "count": visitors,
    }
    notice_send_both(
        key=f"payment-received:{order.pk}",
        event="payment_received",
        template="payment_received",
        params=params,
        mobile=unit.contact_mobile,
        email=unit.contact_email,
    )


def delegation_order_recipients(order: CredentialOrder) -> list[str]:
    """Who hears about a delegation's order: its secretariat's contacts (秘书处联络员) that
    gave an email address, or, when none did, the secretary who made the order."""
    emails = list(
        DelegationContact.objects.filter(delegation_id=order.delegation_id)
        .exclude(email="")
        .order_by("position", "pk")
        .values_list("email", flat=True)
    )
    if not emails and order.created_by_id and order.created_by.email:
        emails = [order.created_by.email]
    # Two offices may share one mailbox: write to it once.
    unique = {}
    for email in emails:
        unique.setdefault(email.strip().lower(), email.strip())
    return list(unique.values())


def _tell_delegation_paid(order: CredentialOrder) -> None:
    params = {
        "delegation": order.delegation.name,
        "number": order.number,
        "total": str(order.total),
        "count": order.lines.filter(open=True).count(),
    }
    for email in delegation_order_recipients(order):
        # One notice per order and address, however often this runs.
        digest = hashlib.sha256(email.lower().encode()).hexdigest()[:16]
        notice_send(
            key=f"delegation-order-paid:{order.pk}:{digest}",
            event="delegation_order_paid",
            channel="email",
            recipient=email,
            template="delegation_order_paid",
            params=params,
        )
