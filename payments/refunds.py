"""Refunds (退款): asked for by the unit, approved or rejected by finance, paid back.

未退款 (requested) → 退款中 (approved; the money is on its way) → 已退款; or rejected with a
reason. Only visitors whose review failed or who were cancelled (注销) are refundable, only from a
paid order, never while the order has an invoice that is not reversed, and never for more than
was paid for the line. Gateway payments (QR, B2B) go back the way they came, through the
provider; bank transfers go back to the paying account or to another account the unit names.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record
from ciie_portal.notices.services import notice_send
from credentials.models import CredentialOrder, OrderLine
from delegations.models import Delegation
from registration.models import Unit

from .models import REFUND_STATES, Method, Payment, Refund, RefundLine, new_refund_number
from .providers import RefundFailed, provider_for

ZERO = Decimal("0.00")
Status = Refund.Status


def _payer(
    unit: Unit | None, delegation: Delegation | None, units: Iterable[Unit] | None = None
) -> dict:
    """Whose orders: a unit's own, the units of one organisation across editions (the unit's
    and its 往届订单, ``registration.access.units_in_reach``), or a delegation's consolidated
    orders (交易团代付)."""
    if [unit, delegation, units].count(None) != 2:
        raise ValueError("Give a unit, units or a delegation.")
    if unit is not None:
        return {"order__unit": unit}
    if units is not None:
        return {"order__unit__in": list(units)}
    return {"order__delegation": delegation}


def refundable_lines(
    unit: Unit | None = None,
    *,
    delegation: Delegation | None = None,
    units: Iterable[Unit] | None = None,
) -> QuerySet:
    """The payer's order lines that can be refunded now (the rule is
    ``OrderLine.objects.refundable()``: paid order, visitor failed or cancelled, a fee, no
    refund asked for or made already). The payer is a unit, one organisation's ``units`` of
    this and earlier editions, or a delegation for its consolidated orders."""
    return (
        OrderLine.objects.refundable()
        .filter(**_payer(unit, delegation, units))
        .select_related("order", "visitor")
        .order_by("order__created_at", "order_id", "pk")
    )


def _paid_by(order: CredentialOrder) -> Payment:
    payment = (
        Payment.objects.filter(order=order, status=Payment.Status.CONFIRMED)
        .order_by("confirmed_at", "pk")
        .first()
    )
    if payment is None:  # a paid order always has its confirmed payment
        raise ValidationError(_("Order %(number)s has no confirmed payment.") % {"number": order})
    return payment


def _invoice_blocks(order: CredentialOrder) -> bool:
    """An invoice that is not reversed blocks the refund (退票 first)."""
    return order.invoices.blocking_refund().exists()


def _check_payee(route: str, payee: dict, method: str) -> dict:
    if method != Method.TRANSFER or route != Refund.Route.OTHER_ACCOUNT:
        # Gateways refund only the way the money came.
        return {"route": Refund.Route.ORIGINAL}
    values = {key: (payee.get(key) or "").strip() for key in PAYEE_FIELDS}
    missing = [key for key in ("payee_name", "payee_account", "payee_bank") if not values[key]]
    if missing:
        raise ValidationError(
            _("To refund to another account, give the payee's name, account number and bank.")
        )
    return {"route": Refund.Route.OTHER_ACCOUNT, **values}


PAYEE_FIELDS = ("payee_name", "payee_account", "payee_bank", "payee_bank_code")


def refunds_request(
    *,
    unit: Unit | None = None,
    delegation: Delegation | None = None,
    units: Iterable[Unit] | None = None,
    line_ids: Iterable[int],
    actor,
    route: str = Refund.Route.ORIGINAL,
    payee: dict | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> list[Refund]:
    """退款 / 批量退款: ask for the refund of the chosen lines of ``unit`` (or of ``units``, one
    organisation's of this and earlier editions, or of ``delegation``'s consolidated orders);
    one refund per order, whatever its edition.

    All or nothing: every reason a line cannot be refunded is reported at once and nothing is
    recorded. The orders are locked, so two requests for the same line at once make one refund
    (and the database allows only one active refund per line).
    """
    now = now or timezone.now()
    ids = sorted({int(pk) for pk in line_ids})
    if not ids:
        raise ValidationError(_("Select the visitors whose fee should be refunded."))
    units = list(units) if units is not None else None
    payer = _payer(unit, delegation, units)
    try:
        with transaction.atomic():
            order_ids = sorted(
                set(
                    OrderLine.objects.filter(pk__in=ids, **payer).values_list("order_id", flat=True)
                )
            )
            orders = {
                order.pk: order
                for order in CredentialOrder.objects.select_for_update()
                .filter(pk__in=order_ids)
                .order_by("pk")
            }
            allowed = {
                line.pk: line
                for line in refundable_lines(unit, delegation=delegation, units=units).filter(
                    pk__in=ids
                )
            }
            problems = []
            refused = [pk for pk in ids if pk not in allowed]
            if refused:
                names = ", ".join(
                    OrderLine.objects.filter(pk__in=refused, **payer)
                    .order_by("pk")
                    .values_list("visitor__name", flat=True)
                )
                problems.append(
                    _(
                        "Only visitors whose review failed or who were cancelled, in a paid order "
                        "and not refunded already, can be refunded: %(names)s."
                    )
                    % {"names": names or _("(not in your unit)")}
                )
            by_order: dict[int, list[OrderLine]] = defaultdict(list)
            for line in allowed.values():
                by_order[line.order_id].append(line)
            for order_id in sorted(by_order):
                if _invoice_blocks(orders[order_id]):
                    problems.append(
                        _(
                            "Order %(number)s has an invoice that is not reversed: reverse the "
                            "invoice (退票) first, then ask for the refund."
                        )
                        % {"number": orders[order_id].number}
                    )
            if problems:
                raise ValidationError(problems)
            return [
                _refund_create(
                    order=orders[order_id],
                    lines=by_order[order_id],
                    route=route,
                    payee=payee or {},
                    reason=reason,
                    actor=actor,
                    now=now,
                )
                for order_id in sorted(by_order)
            ]
    except IntegrityError as error:
        if "one_active_refund_per_order_line" not in str(error) and "refundline" not in str(error):
            raise
        raise ValidationError(
            _("A refund for one of these visitors was just asked for; reload the page.")
        ) from error


def _refund_create(*, order, lines, route, payee, reason, actor, now) -> Refund:
    payment = _paid_by(order)
    amount = sum((line.fee for line in lines), ZERO)
    already = (
        Refund.objects.filter(payment=payment)
        .exclude(status=Status.REJECTED)
        .aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    paid = payment.received_amount if payment.received_amount is not None else payment.amount
    if already + amount > paid:
        raise ValidationError(
            _("Order %(number)s: %(asked)s CNY asked, but only %(left)s CNY of it is unrefunded.")
            % {"number": order.number, "asked": amount, "left": paid - already}
        )
    refund = Refund.objects.create(
        number=new_refund_number(now),
        order=order,
        payment=payment,
        amount=amount,
        reason=(reason or "").strip(),
        requested_by=actor if getattr(actor, "pk", None) else None,
        requested_at=now,
        **_check_payee(route, payee, payment.method),
    )
    RefundLine.objects.bulk_create(
        RefundLine(refund=refund, order_line=line, amount=line.fee) for line in lines
    )
    audit_record(
        actor=actor,
        obj=refund,
        action="refund.requested",
        to_state=refund.status,
        data={
            "order": order.number,
            "lines": [line.pk for line in lines],
            "amount": str(amount),
            "route": refund.route,
        },
    )
    return refund


# --- Finance -------------------------------------------------------------------------------


def _locked(refund_id: int) -> Refund:
    return (
        Refund.objects.select_for_update(of=("self",))
        .select_related("payment", "order", "order__unit")
        .get(pk=refund_id)
    )


def refund_approve(*, refund_id: int, actor, now: datetime | None = None) -> bool:
    """Finance approves: 未退款 → 退款中. Gateway refunds are then sent to the provider by a task
    (after commit); bank transfers are paid by finance and marked done. Returns whether it moved
    (False when no longer awaiting a decision). Refused while an invoice is not reversed."""
    from ciie_portal.tasks import enqueue_on_commit

    from .tasks import refund_execute_task

    now = now or timezone.now()
    with transaction.atomic():
        refund = _locked(refund_id)
        if refund.status != Status.REQUESTED:
            return False
        if _invoice_blocks(refund.order):
            raise ValidationError(
                _("Refund %(number)s: order %(order)s has an invoice that is not reversed.")
                % {"number": refund.number, "order": refund.order.number}
            )
        REFUND_STATES.move(refund, Status.REFUNDING, actor=actor, decided_by=actor, decided_at=now)
        if refund.payment.method != Method.TRANSFER:
            enqueue_on_commit(refund_execute_task, refund.pk)
    return True


def refund_reject(*, refund_id: int, actor, reason: str, now: datetime | None = None) -> bool:
    """Finance rejects with a reason; the lines may be asked for again. The unit is told."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give the reason for rejecting the refund."))
    now = now or timezone.now()
    with transaction.atomic():
        refund = _locked(refund_id)
        if refund.status != Status.REQUESTED:
            return False
        REFUND_STATES.move(
            refund,
            Status.REJECTED,
            actor=actor,
            reason=reason,
            rejection_reason=reason,
            decided_by=actor,
            decided_at=now,
        )
        RefundLine.objects.filter(refund=refund).update(active=False)
        _tell(refund, "refund_rejected")
    return True


def refund_complete(*, refund_id: int, actor, reference: str, now: datetime | None = None) -> bool:
    """退款中 → 已退款: the gateway answered, or finance sent the bank transfer (its reference).
    Safe to call twice: only a refund still in progress moves."""
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError(_("Give the bank's or gateway's reference of the refund."))
    now = now or timezone.now()
    with transaction.atomic():
        refund = _locked(refund_id)
        if refund.status != Status.REFUNDING:
            return False
        REFUND_STATES.move(
            refund,
            Status.REFUNDED,
            actor=actor,
            provider_reference=reference,
            refunded_at=now,
            last_error="",
        )
        _tell(refund, "refund_done")
    return True


def refund_execute(refund_id: int) -> str:
    """Send an approved gateway refund to its provider and record the answer.

    The refund number is the gateway's idempotency key (out_refund_no), so sending twice
    refunds once. Returns "refunded", "skipped" (not in progress, or a bank transfer) or
    "failed" (the error is kept on the refund and the task retries)."""
    refund = Refund.objects.select_related("payment", "payment__order").get(pk=refund_id)
    if refund.status != Status.REFUNDING or refund.payment.method == Method.TRANSFER:
        return "skipped"
    actor = f"gateway:{refund.payment.method}"
    try:
        reference = provider_for(refund.payment.method).refund(refund.payment, refund)
    except RefundFailed as error:
        Refund.objects.filter(pk=refund.pk).update(last_error=str(error))
        audit_record(
            actor=actor,
            obj=refund,
            action="refund.gateway_error",
            from_state=refund.status,
            to_state=refund.status,
            reason=str(error),
        )
        raise
    refund_complete(refund_id=refund.pk, actor=actor, reference=reference)
    return "refunded"


# An approved gateway refund still in progress this long after approval lost its task (a
# broker restarted without persistence): it is queued again — the refund number is the
# gateway's idempotency key, so this refunds once.
RESEND_AFTER = timedelta(minutes=10)


def refunds_resend_pending(*, now: datetime | None = None) -> int:
    """Queue again the gateway refunds still 退款中 long after approval (beat, every 5 min)."""
    from ciie_portal.tasks import enqueue_many_on_commit

    from .tasks import refund_execute_task

    now = now or timezone.now()
    ids = list(
        Refund.objects.filter(status=Status.REFUNDING, decided_at__lt=now - RESEND_AFTER)
        .exclude(payment__method=Method.TRANSFER)
        .values_list("pk", flat=True)[:1000]
    )
    with transaction.atomic():
        enqueue_many_on_commit(refund_execute_task, [((pk,), {}) for pk in ids])
    return len(ids)


def _tell(refund: Refund, template: str) -> None:
    unit = refund.order.unit
    if unit is None or not unit.contact_email:
        return
    notice_send(
        key=f"{template}:{refund.pk}",
        event=template,
        channel="email",
        recipient=unit.contact_email,
        template=template,
        params={
            "unit": unit.name,
            "number": refund.number,
            "order": refund.order.number,
            "amount": str(refund.amount),
            "reason": refund.rejection_reason,
        },
    )
