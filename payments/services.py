"""Payments: start one, and handle what the gateway tells us about it."""

import json
import math
from datetime import date, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record, audit_together
from ciie_portal.inserts import insert_new
from credentials.models import CredentialOrder
from credentials.orders.services import order_paid_notices_ensure, order_payer_refusal

from .acceptance import (
    method_deadline,
    money_refusal,
    payment_accept,
    payment_flag,
    payment_record,
    remittance_refusal,
)
from .models import PAYMENT_STATES, Method, Payment, PaymentNotification, TransferRemittance
from .providers import InvalidNotification, Notification, provider_named

Result = PaymentNotification.Result


# A demo account: production sets PAYMENT_TRANSFER_ACCOUNT to the organiser's real account.
DEFAULT_TRANSFER_ACCOUNT = {
    "name": "中国国际进口博览局 (demo)",
    "bank": "中国工商银行上海市分行营业部 (demo)",
    "account_number": "1001 2345 6789 0123 456 (demo)",
}


def transfer_account(order: CredentialOrder) -> dict:
    """The account to transfer to, with the order number as the remittance reference (附言)."""
    account = getattr(settings, "PAYMENT_TRANSFER_ACCOUNT", None) or DEFAULT_TRANSFER_ACCOUNT
    return {**account, "reference": order.number}


def payment_refusal(order: CredentialOrder, method: str, now: datetime | None = None) -> str:
    """Why ``order`` cannot be paid by ``method`` now, or "" if it can: only a pending order,
    by its payer's means, before its edition's deadline for the method (an order of an earlier
    edition too: its own edition's deadlines), in its payment window. ``payment_create`` asks
    it under the order's lock; the order page asks it to say why a method is closed."""
    now = now or timezone.now()
    if method not in Method.values:
        return _("Choose a payment method.")
    if order.status != CredentialOrder.Status.PENDING_PAYMENT:
        return _("Order %(number)s is %(status)s: it cannot be paid.") % {
            "number": order.number,
            "status": order.get_status_display(),
        }
    if order.delegation_id is not None and method != Method.TRANSFER:
        # 交易团代付: the delegation settles its consolidated order by bank transfer only.
        return _("Order %(number)s is paid by the delegation: by bank transfer only.") % {
            "number": order.number
        }
    payer_refusal = order_payer_refusal(order)
    if payer_refusal:
        return _("Order %(number)s cannot be paid: %(why)s") % {
            "number": order.number,
            "why": payer_refusal,
        }
    deadline = method_deadline(order, method)
    if now > deadline:
        return _("Payment by %(method)s closed on %(deadline)s.") % {
            "method": Method(method).label,
            "deadline": timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M"),
        }
    if order.seconds_left(now) <= 0:
        return _("The payment window of order %(number)s has ended.") % {"number": order.number}
    return ""


def payment_create(
    *, order: CredentialOrder, method: str, actor, now: datetime | None = None
) -> Payment:
    """Start paying ``order`` by ``method``: only where ``payment_refusal`` has no objection,
    asked under the order's lock."""
    now = now or timezone.now()
    if method not in Method.values:
        raise ValidationError(_("Choose a payment method."))
    with transaction.atomic():
        locked = (
            CredentialOrder.objects.select_for_update(of=("self",))
            .select_related("edition")
            .get(pk=order.pk)
        )
        refusal = payment_refusal(locked, method, now)
        if refusal:
            raise ValidationError(refusal)
        payment = payment_record(
            order=locked, method=method, actor=actor, now=now, data={"amount": str(locked.total)}
        )
    return payment


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} does not fit a number")
    return value


def _body_as_json(body: bytes):
    """The body as stored with the record: JSON when it is (NaN and Infinity are not, and
    PostgreSQL's jsonb refuses them), else the raw text."""
    try:
        return json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except ValueError:
        return {"raw": body.decode("utf-8", errors="replace")}


def _refusal(payment: Payment, notice: Notification) -> str:
    """Why money for ``payment`` cannot be accepted, or "" if it can. The rows are locked."""
    order = payment.order
    mismatch = ""
    if notice.order_number != order.number:
        mismatch = _("The gateway names order %(theirs)s, the payment is for %(ours)s.") % {
            "theirs": notice.order_number,
            "ours": order.number,
        }
    refusal = money_refusal(
        order=order,
        amount=notice.amount,
        method=payment.method,
        paid_on_or_at=notice.paid_at,
        payment=payment,
    )
    return " ".join(filter(None, [mismatch, refusal]))


def payment_notification_handle(*, provider: str, body: bytes, headers) -> PaymentNotification:
    """Handle one notification from gateway ``provider``; returns the recorded notification.

    Every notification is recorded. A repeat of one already handled (same gateway transaction)
    changes nothing but its count, also when two arrive at once: the payment's row lock makes
    the second wait until the first commits, and its INSERT then finds the key taken (two
    notifications with one key for different payments wait on the key itself). Money that
    cannot be accepted is flagged for finance on the payment, never confirmed and never
    dropped. Raises ``UnknownProvider``.

    One transaction, no savepoint: the payment and its order are locked and read in one
    SELECT, the decision is taken, and only then is the notification recorded with its result
    (``INSERT … ON CONFLICT DO NOTHING``: the idempotency key decides whether anything more is
    written); the audit entries of every step go in one INSERT at the end.
    """
    gateway = provider_named(provider)
    actor = f"gateway:{provider}"
    try:
        notice = gateway.verify(body, headers)
    except InvalidNotification as error:
        record = PaymentNotification.objects.create(
            provider=provider,
            body=_body_as_json(body),
            signature_valid=error.signature_valid,
            result=Result.INVALID,
            detail=str(error),
        )
        audit_record(
            actor=actor, obj=record, action="payment_notification.invalid", reason=str(error)
        )
        return record

    with transaction.atomic(), audit_together():
        payment = _payment_locked(notice.payment_id, gateway.methods)
        refusal = ""
        if payment is None:
            result = Result.UNKNOWN_PAYMENT
        elif not notice.succeeded:
            result = Result.FAILED
        else:
            refusal = _refusal(payment, notice)
            result = Result.FLAGGED if refusal else Result.CONFIRMED
        record = PaymentNotification(
            provider=provider,
            provider_transaction_id=notice.transaction_id,
            payment=payment,
            body=_body_as_json(body),
            signature_valid=True,
            result=result,
            detail=refusal,
        )
        if not insert_new([record], key=["provider", "provider_transaction_id"]):
            # Already handled (or being handled by another worker, which we waited for).
            return _repeated(provider, notice)

        if result == Result.FAILED and payment.status == Payment.Status.CREATED:
            PAYMENT_STATES.move(
                payment, Payment.Status.FAILED, actor=actor, reason=_("The gateway refused.")
            )
        elif result == Result.FLAGGED:
            payment_flag(
                payment=payment,
                reason=refusal,
                received_amount=notice.amount,
                actor=actor,
                provider_reference=notice.transaction_id,
                data={"transaction": notice.transaction_id, "amount": str(notice.amount)},
            )
        elif result == Result.CONFIRMED:
            payment_accept(
                payment=payment,
                received_amount=notice.amount,
                actor=actor,
                confirmed_at=timezone.now(),
                paid_at=notice.paid_at,
                provider_reference=notice.transaction_id,
            )
        audit_record(
            actor=actor, obj=record, action=f"payment_notification.{result}", reason=refusal
        )
        return record


class _Locking:
    """The callback's locking SELECT, written once per process: the payment and its order
    locked (``FOR UPDATE OF`` both), read with the order's edition and unit, each row turned
    into its model as ``select_related`` would (the same values through the same converters),
    without the ORM compiling three joins on every notification."""

    sql = ""
    # Per model: (model, first column, attribute names, [(index, converters)]).
    parts: list = []

    @classmethod
    def prepare(cls, connection) -> None:
        edition_model = CredentialOrder._meta.get_field("edition").related_model
        unit_model = CredentialOrder._meta.get_field("unit").related_model
        quote = connection.ops.quote_name
        models_ = (Payment, CredentialOrder, edition_model, unit_model)
        tables = [quote(model._meta.db_table) for model in models_]
        columns, parts = [], []
        for model, table in zip(models_, tables, strict=True):
            fields = model._meta.concrete_fields
            converting = []
            for index, field in enumerate(fields):
                column = field.get_col(model._meta.db_table)
                converters = connection.ops.get_db_converters(column) + field.get_db_converters(
                    connection
                )
                if converters:
                    converting.append((index, column, converters))
            parts.append((model, len(columns), [f.attname for f in fields], converting))
            columns += [f"{table}.{quote(field.column)}" for field in fields]

        def key(model, name):
            return quote(model._meta.get_field(name).column)

        payment, order, edition, unit = tables
        cls.sql = (
            f"SELECT {', '.join(columns)} FROM {payment} "
            f"INNER JOIN {order} ON {payment}.{key(Payment, 'order')} = "
            f"{order}.{key(CredentialOrder, 'id')} "
            f"INNER JOIN {edition} ON {order}.{key(CredentialOrder, 'edition')} = "
            f"{edition}.{key(edition_model, 'id')} "
            f"LEFT OUTER JOIN {unit} ON {order}.{key(CredentialOrder, 'unit')} = "
            f"{unit}.{key(unit_model, 'id')} "
            f"WHERE {payment}.{key(Payment, 'id')} = %s AND {payment}.{key(Payment, 'method')} "
            f"= ANY(%s) ORDER BY {payment}.{key(Payment, 'id')} LIMIT 1 "
            f"FOR UPDATE OF {payment}, {order}"
        )
        cls.parts = parts

    @classmethod
    def instances(cls, connection, row) -> list:
        made = []
        for model, start, attnames, converting in cls.parts:
            values = list(row[start : start + len(attnames)])
            if values[0] is None:  # a LEFT JOIN that found no row (an order without a unit)
                made.append(None)
                continue
            for index, column, converters in converting:
                for converter in converters:
                    values[index] = converter(values[index], column, connection)
            made.append(model.from_db(connection.alias, attnames, values))
        return made


def _payment_locked(payment_id: int, methods) -> Payment | None:
    """``Payment.objects.select_for_update(of=("self", "order")).select_related("order",
    "order__edition", "order__unit").filter(pk=…, method__in=…).first()``, in SQL written once
    per process on PostgreSQL."""
    connection = connections[router.db_for_write(Payment)]
    if connection.vendor != "postgresql":
        return (
            Payment.objects.select_for_update(of=("self", "order"))
            .select_related("order", "order__edition", "order__unit")
            .filter(pk=payment_id, method__in=methods)
            .first()
        )
    if not _Locking.sql:
        _Locking.prepare(connection)
    with connection.cursor() as cursor:
        cursor.execute(_Locking.sql, [payment_id, [str(method) for method in methods]])
        row = cursor.fetchone()
    if row is None:
        return None
    payment, order, edition, unit = _Locking.instances(connection, row)
    Payment.order.field.set_cached_value(payment, order)
    CredentialOrder.edition.field.set_cached_value(order, edition)
    CredentialOrder.unit.field.set_cached_value(order, unit)
    return payment


def _repeated(provider: str, notice: Notification) -> PaymentNotification:
    """A notification received again: count it; make sure the paid order's notices exist."""
    PaymentNotification.objects.filter(
        provider=provider, provider_transaction_id=notice.transaction_id
    ).update(times_received=F("times_received") + 1)
    record = PaymentNotification.objects.select_related("payment__order").get(
        provider=provider, provider_transaction_id=notice.transaction_id
    )
    if record.payment is not None:
        order_paid_notices_ensure(record.payment.order)
    return record


def sandbox_payment_submit(*, payment: Payment, succeeded: bool) -> None:
    """The sandbox gateway's "pay" / "fail" button: it will notify the portal, after commit."""
    from ciie_portal.tasks import enqueue_on_commit

    from .tasks import sandbox_notify_task

    enqueue_on_commit(sandbox_notify_task, payment.pk, succeeded)


# --- Bank transfer (转账支付): the payer's remittance, confirmed or rejected by finance ---------


def transfer_awaiting(order: CredentialOrder) -> Payment | None:
    """The order's transfer that finance has not decided yet, if any."""
    return (
        Payment.objects.filter(order=order, method=Method.TRANSFER, status=Payment.Status.CREATED)
        .order_by("-created_at", "-pk")
        .first()
    )


def transfer_remittance_submit(
    *, order: CredentialOrder, actor, remittance: dict, now: datetime | None = None
) -> Payment:
    """The unit transferred the money: record the payment (started) with its remittance and
    voucher, for finance to confirm. Refused after the transfer deadline, for an order that is
    not payable, and while another transfer of the order awaits finance."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = CredentialOrder.objects.select_for_update(of=("self",)).get(pk=order.pk)
        if transfer_awaiting(locked) is not None:
            raise ValidationError(
                _("A transfer for order %(number)s already awaits confirmation by finance.")
                % {"number": locked.number}
            )
        payment = payment_create(order=locked, method=Method.TRANSFER, actor=actor, now=now)
        record = TransferRemittance.objects.create(payment=payment, submitted_at=now, **remittance)
        audit_record(
            actor=actor,
            obj=payment,
            action="payment.transfer_submitted",
            from_state=payment.status,
            to_state=payment.status,
            data={
                "order": locked.number,
                "amount_remitted": str(record.amount),
                "remitted_on": record.remitted_on.isoformat(),
                "payer": record.payer_name,
            },
        )
    return payment


def _transfer_locked(payment_id: int) -> Payment | None:
    return (
        Payment.objects.select_for_update(of=("self", "order"))
        .select_related("order", "order__edition")
        .filter(pk=payment_id, method=Method.TRANSFER)
        .first()
    )


def transfer_confirm(
    *, payment_id: int, actor, now: datetime | None = None, value_date: date | None = None
) -> str:
    """Finance saw the money arrive: confirm the transfer and mark the order paid, under the
    same row locks as a gateway's notification. Returns "confirmed", "flagged" (the amount or
    the order does not fit: kept for finance, not confirmed) or "skipped" (not a transfer
    awaiting confirmation, e.g. confirmed meanwhile by someone else).

    ``value_date``: the day the bank booked the money, when it was matched from a statement
    (after the transfer deadline the money is late: flagged). Within the edition's grace for
    transfers finance confirms a remittance submitted in time even after its order's window
    ended; after the grace it is flagged (``payments.grace``)."""
    now = now or timezone.now()
    with transaction.atomic():
        payment = _transfer_locked(payment_id)
        if payment is None or payment.status != Payment.Status.CREATED:
            return "skipped"
        remittance = TransferRemittance.objects.get(payment=payment)
        refusal = remittance_refusal(payment, remittance, value_date, now)
        if refusal:
            payment_flag(
                payment=payment,
                reason=refusal,
                received_amount=remittance.amount,
                actor=actor,
                data={"amount_remitted": str(remittance.amount), "due": str(payment.order.total)},
            )
            return "flagged"
        payment_accept(
            payment=payment,
            received_amount=remittance.amount,
            actor=actor,
            confirmed_at=now,
            paid_at=now,
            reason=_("Bank transfer confirmed by finance."),
        )
    return "confirmed"


def transfer_reject(*, payment_id: int, actor, reason: str) -> bool:
    """Finance found no such money, or the voucher does not fit: the transfer failed, with the
    reason. The order stays payable; the unit may submit a new remittance. Returns whether the
    payment was rejected (False when it was no longer awaiting confirmation)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give the reason for rejecting the transfer."))
    with transaction.atomic():
        payment = _transfer_locked(payment_id)
        if payment is None or payment.status != Payment.Status.CREATED:
            return False
        PAYMENT_STATES.move(
            payment, Payment.Status.FAILED, actor=actor, reason=reason, flag_reason=reason
        )
    return True


# --- Unused payments -----------------------------------------------------------------------

EXPIRE_BATCH = 500


def payments_expire(*, now: datetime | None = None) -> int:
    """Gateway payments started but never paid, whose order is no longer payable (paid by
    another payment, cancelled, closed, or its window ended), become "expired". Returns how
    many. Money that still arrives for one is flagged for finance, not lost. Bank transfers
    are left to finance."""
    now = now or timezone.now()
    stale = (
        Payment.objects.filter(status=Payment.Status.CREATED)
        .exclude(method=Method.TRANSFER)
        .filter(
            ~Q(order__status=CredentialOrder.Status.PENDING_PAYMENT) | Q(order__expires_at__lte=now)
        )
    )
    expired = 0
    while True:
        batch = list(stale.order_by("pk").values_list("pk", flat=True)[:EXPIRE_BATCH])
        if not batch:
            return expired
        moved = PAYMENT_STATES.move_many(
            Payment.objects.filter(pk__in=batch),
            Payment.Status.EXPIRED,
            actor=None,
            reason=_("Started but never paid; the order is no longer payable."),
        )
        expired += len(moved)
        if len(batch) < EXPIRE_BATCH:
            return expired
