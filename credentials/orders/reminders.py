"""Payment reminders (催缴提醒): before an unpaid order's payment window ends, and before each
payment method's deadline, the unit gets an SMS and an email.

- Once per order and deadline: each reminder's notice key names the order and the deadline
  (``payment-reminder:<order>:window`` / ``…:transfer:<deadline>`` / ``…:online:<deadline>``);
  ``ciie_portal.notices`` sends a key once, so a second run, or two at once, sends nothing more.
- When: the edition's lead times, ``Edition.reminder_before_order_expiry`` before the window
  ends and ``Edition.reminder_before_deadline`` before each method's deadline. A method's
  deadline is reminded only for an order still open then (its window ends after the deadline);
  otherwise the window's reminder is the one that counts.
- Whom: a unit's orders awaiting payment, with a fee (an order of 0 never exists: free visitors
  need none), whose payer has not said the money is on its way (a remittance awaiting finance,
  ``holds.awaiting_finance_q``). A delegation's consolidated order is settled by its
  secretariat by transfer and gets no reminder.

``payment_reminders_send`` is run every minute by beat (``credentials.tasks.payment_reminders``).
``unit_next_payment_deadline`` is the nearest deadline the dashboard shows.
"""

from datetime import datetime

from django.utils import timezone

from ciie_portal.models import Edition, Notice
from ciie_portal.notices.services import both_channels, notices_send
from ciie_portal.timefmt import local_text
from registration.models import Unit, Visitor

from .holds import awaiting_finance_q
from .models import CredentialOrder, OrderLine

Status = CredentialOrder.Status

#: The methods whose deadlines are reminded, as ``Edition.payment_deadline`` takes them.
DEADLINES = (("transfer", "transfer_deadline"), ("online", "online_payment_deadline"))


def orders_to_remind():
    """Unpaid orders of units, with a fee, not awaiting finance."""
    return (
        CredentialOrder.objects.filter(
            status=Status.PENDING_PAYMENT, unit__isnull=False, total__gt=0
        )
        .exclude(awaiting_finance_q())
        .select_related("unit")
    )


def _key(order: CredentialOrder, kind: str, deadline: datetime | None = None) -> str:
    if deadline is None:
        return f"payment-reminder:{order.pk}:{kind}"
    return f"payment-reminder:{order.pk}:{kind}:{int(deadline.timestamp())}"


def reminders_due(now: datetime) -> list[tuple[CredentialOrder, str, datetime]]:
    """``(order, kind, deadline)`` of every reminder due at ``now`` ("window", "transfer" or
    "online"), sent or not. One query per edition with unpaid orders (a handful)."""
    due = []
    pending = orders_to_remind()
    for edition in Edition.objects.filter(pk__in=pending.values("edition_id")):
        orders = pending.filter(edition=edition).order_by("pk")
        soon = now + edition.reminder_before_order_expiry
        deadlines = [
            (kind, getattr(edition, field))
            for kind, field in DEADLINES
            if getattr(edition, field) - edition.reminder_before_deadline
            <= now
            < getattr(edition, field)
        ]
        for order in orders.filter(expires_at__gt=now, expires_at__lte=soon):
            due.append((order, "window", order.expires_at))
        for kind, deadline in deadlines:
            for order in orders.filter(expires_at__gt=deadline):
                due.append((order, kind, deadline))
    return due


def payment_reminders_send(*, now: datetime | None = None) -> int:
    """Send every reminder due at ``now`` not sent before; returns how many reminders (orders
    and deadlines) were sent now. Safe to run twice or at the same time: the notice keys
    decide (``ciie_portal.notices``); the ones already recorded are not even offered."""
    now = now or timezone.now()
    due = reminders_due(now)
    keys = {
        _key(order, kind, None if kind == "window" else deadline): (order, kind, deadline)
        for order, kind, deadline in due
    }
    sent_before = set(
        Notice.objects.filter(
            key__in=[f"{key}:{channel}" for key in keys for channel in ("sms", "email")]
        ).values_list("key", flat=True)
    )
    notices = []
    sent = 0
    for key, (order, kind, deadline) in keys.items():
        if f"{key}:sms" in sent_before or f"{key}:email" in sent_before:
            continue
        unit = order.unit
        params = {
            "unit": unit.name,
            "number": order.number,
            "total": str(order.total),
            "deadline": local_text(deadline),
            "method": kind,
        }
        both = both_channels(
            key=key,
            event="payment_reminder",
            template="payment_reminder_window" if kind == "window" else "payment_reminder_deadline",
            params=params,
            mobile=unit.contact_mobile,
            email=unit.contact_email,
        )
        notices += both
        sent += bool(both)  # a unit without a contact mobile or email cannot be reminded
    # Every reminder's SMS and email in one INSERT, their delivery tasks in another.
    notices_send(notices)
    return sent


def unit_next_payment_deadline(unit: Unit, now: datetime | None = None) -> dict | None:
    """The nearest payment deadline of ``unit`` still ahead: its unpaid orders' window ends,
    and each method's deadline — while it has something to pay (an unpaid order not awaiting
    finance, or visitors awaiting payment in no order). ``{"at", "kind", "number"}`` or None.
    """
    now = now or timezone.now()
    orders = list(
        orders_to_remind()
        .filter(unit=unit, expires_at__gt=now)
        .order_by("expires_at")
        .values_list("expires_at", "number")[:1]
    )
    to_order = (
        Visitor.objects.filter(unit=unit, status=Visitor.Status.PENDING_PAYMENT)
        .exclude(pk__in=OrderLine.objects.filter(open=True).values("visitor_id"))
        .exists()
    )
    if not orders and not to_order:
        return None
    edition = unit.edition
    candidates = [{"at": at, "kind": "window", "number": number} for at, number in orders]
    candidates += [
        {"at": getattr(edition, field), "kind": kind, "number": ""}
        for kind, field in DEADLINES
        if getattr(edition, field) > now
    ]
    return min(candidates, key=lambda c: c["at"]) if candidates else None
