"""May this money be accepted for this order? The one rule, and the records it leaves.

Money reaches an order four ways: a gateway's notification, finance confirming a bank transfer,
a bank statement row matched by the portal, and one matched by finance by hand. Every way asks
``money_refusals`` (or ``money_refusal``) the same questions — the amount, the payment's and the
order's state, who pays, the method's deadline and the order's window — and then either accepts
the money (``payment_accept``) or records it on a flagged payment for finance
(``payment_flag``): never dropped, never accepted silently. ``payment_record`` starts a payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record
from credentials.models import CredentialOrder
from credentials.orders.services import order_mark_paid, order_payer_refusal

from .grace import grace_over
from .models import PAYMENT_STATES, Method, Payment, TransferRemittance

#: The kinds of ``Refusal``, in the order they are reported.
AMOUNT, PAYMENT, ORDER, PAYER, DEADLINE, WINDOW, GRACE = (
    "amount",
    "payment",
    "order",
    "payer",
    "deadline",
    "window",
    "grace",
)


def method_deadline(order: CredentialOrder, method: str) -> datetime:
    return order.edition.payment_deadline(method)


@dataclass(frozen=True)
class Refusal:
    kind: str  # one of AMOUNT, PAYMENT, ORDER, PAYER, DEADLINE, WINDOW
    text: str


def money_refusals(
    *,
    order: CredentialOrder,
    amount: Decimal,
    method: str,
    paid_on_or_at: date | datetime | None,
    payment: Payment | None = None,
    remitted: bool = False,
    check_window: bool = True,
    now: datetime | None = None,
) -> list[Refusal]:
    """Every reason ``amount`` paid by ``method`` cannot be accepted for ``order``; none if it
    can. The order (and ``payment``, when the money is for one) are locked by the caller.

    ``paid_on_or_at`` is when the money was paid: a time (a gateway's) is compared with the
    method's deadline and the order's window, a day (a bank's booking date) with their days in
    Beijing; None when the time was checked already (a remittance is refused after the deadline
    when it is submitted). ``remitted``: the amount is what the payer says was remitted.
    ``check_window``: False for a transfer whose remittance was submitted in the window (the
    bank may book it a day later; its deadline still counts).

    A bank transfer for an order whose window has ended is accepted only within the edition's
    grace for transfers (``payments.grace``): after it, the money is flagged. ``now``: when
    the money is being accepted (default: now).
    """
    reasons = []
    if amount != order.total or (payment is not None and payment.amount != order.total):
        text = (
            _("%(received)s CNY remitted, %(due)s CNY due.")
            if remitted
            else _("%(received)s CNY received, %(due)s CNY due.")
        )
        reasons.append(Refusal(AMOUNT, text % {"received": amount, "due": order.total}))
    if payment is not None and payment.status == Payment.Status.CONFIRMED:
        reasons.append(Refusal(PAYMENT, _("This payment was already confirmed: paid twice.")))
    elif payment is not None and payment.status != Payment.Status.CREATED:
        reasons.append(
            Refusal(
                PAYMENT,
                _("Money arrived for a payment marked “%(status)s”.")
                % {"status": payment.get_status_display()},
            )
        )
    paid_by_this = payment is not None and payment.status == Payment.Status.CONFIRMED
    if order.status == CredentialOrder.Status.PAID and not paid_by_this:
        reasons.append(Refusal(ORDER, _("The order was already paid by another payment.")))
    elif order.status in (CredentialOrder.Status.CANCELLED, CredentialOrder.Status.CLOSED):
        text = (
            _("The order was %(status)s before the transfer was confirmed.")
            if method == Method.TRANSFER
            else _("Paid after the order was %(status)s.")
        )
        reasons.append(Refusal(ORDER, text % {"status": order.get_status_display()}))
    payer_refusal = order_payer_refusal(order)
    if payer_refusal:
        reasons.append(Refusal(PAYER, payer_refusal))
    if paid_on_or_at is not None:
        deadline, window = method_deadline(order, method), order.expires_at
        if not isinstance(paid_on_or_at, datetime):
            deadline, window = timezone.localdate(deadline), timezone.localdate(window)
        if paid_on_or_at > deadline:
            reasons.append(Refusal(DEADLINE, _("Paid after the deadline for this payment method.")))
        if check_window and paid_on_or_at > window:
            reasons.append(Refusal(WINDOW, _("Paid after the order's payment window ended.")))
    now = now or timezone.now()
    if (
        method == Method.TRANSFER
        and order.status == CredentialOrder.Status.PENDING_PAYMENT
        and order.expires_at <= now
        and grace_over(order, now)
    ):
        reasons.append(
            Refusal(GRACE, _("Finance's grace for bank transfers of this edition has ended."))
        )
    return reasons


def money_refusal(
    *,
    order: CredentialOrder,
    amount: Decimal,
    method: str,
    paid_on_or_at: date | datetime | None,
    payment: Payment | None = None,
    remitted: bool = False,
    check_window: bool = True,
    now: datetime | None = None,
) -> str:
    """``money_refusals`` as one text; "" when the money may be accepted."""
    refusals = money_refusals(
        order=order,
        amount=amount,
        method=method,
        paid_on_or_at=paid_on_or_at,
        payment=payment,
        remitted=remitted,
        check_window=check_window,
        now=now,
    )
    return " ".join(refusal.text for refusal in refusals)


def remittance_refusal(
    payment: Payment,
    remittance: TransferRemittance,
    value_date: date | None = None,
    now: datetime | None = None,
) -> str:
    """Why finance cannot confirm the transfer ``payment``, or "" if it can. Rows locked.

    ``value_date``: the day the bank booked the money, when a statement shows it: after the
    transfer deadline it is late (the remittance was submitted in the window, so the window
    is not asked again)."""
    return money_refusal(
        order=payment.order,
        amount=remittance.amount,
        method=Method.TRANSFER,
        paid_on_or_at=value_date,
        payment=payment,
        remitted=True,
        check_window=False,
        now=now,
    )


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def payment_record(
    *, order: CredentialOrder, method: str, actor, now: datetime, data: dict | None = None
) -> Payment:
    """A new payment (started) of the order's total by ``method``, with its audit record."""
    payment = Payment.objects.create(
        order=order, method=method, amount=order.total, created_by=_user(actor), created_at=now
    )
    audit_record(
        actor=actor,
        obj=payment,
        action="payment.created",
        to_state=payment.status,
        data={"order": order.number, "method": method, **(data or {})},
    )
    return payment


def payment_accept(
    *,
    payment: Payment,
    received_amount: Decimal,
    actor,
    confirmed_at: datetime,
    paid_at: datetime,
    reason: str = "",
    reopen: bool = False,
    **also_set,
) -> None:
    """The money is accepted: ``payment`` is confirmed and its order paid. The caller holds the
    row locks of both and read ``payment.order`` under its lock (every way money arrives does),
    so the order is not read again. ``reopen``: a closed order paid within the grace for
    transfers (``payments.grace``; the caller checked ``order_reopen_refusal``)."""
    PAYMENT_STATES.move(
        payment,
        Payment.Status.CONFIRMED,
        actor=actor,
        reason=reason,
        confirmed_at=confirmed_at,
        received_amount=received_amount,
        **also_set,
    )
    order_mark_paid(order=payment.order, actor=actor, paid_at=paid_at, locked=True, reopen=reopen)


def payment_flag(
    *,
    payment: Payment,
    reason: str,
    received_amount: Decimal,
    actor,
    data: dict,
    provider_reference: str | None = None,
    fail: bool = False,
) -> None:
    """Money for ``payment`` that cannot be accepted: the payment is flagged for finance with the
    amount received and ``reason`` (after the reasons of earlier flags), and audited.

    ``fail``: the payment was recorded only to hold this money; it becomes "failed", so that
    nobody confirms it as a transfer awaiting confirmation. Otherwise its state is unchanged.
    """
    whole = f"{payment.flag_reason}\n{reason}".strip() if payment.flag_reason else reason
    values = {"flagged": True, "flag_reason": whole, "received_amount": received_amount}
    if provider_reference is not None and payment.provider_reference is None:
        values["provider_reference"] = provider_reference
    if fail:
        PAYMENT_STATES.move(payment, Payment.Status.FAILED, actor=actor, reason=reason, **values)
    else:
        Payment.objects.filter(pk=payment.pk).update(**values)
        for name, value in values.items():
            setattr(payment, name, value)
    audit_record(
        actor=actor,
        obj=payment,
        action="payment.flagged",
        from_state=payment.status,
        to_state=payment.status,
        reason=reason,
        data=data,
    )
