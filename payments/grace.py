"""Finance's grace for bank transfers (转账宽限期).

A transfer takes time to reach the organiser's account and more time for finance to confirm
it. The edition sets how many days finance has after the transfer deadline
(``Edition.transfer_grace_days``; ``Edition.transfer_grace_ends``). Within them:

- an order whose remittance (汇款凭证) was submitted before the transfer deadline is not closed
  while finance has not decided (``held_open``, registered with ``credentials.orders.holds``,
  which ``orders_expire`` asks);
- a transfer the bank booked on or before the deadline (the statement's value date, and within
  the order's payment window, by day in Beijing) pays its order when it is matched, even when
  the order was closed meanwhile: the order is paid after all if its visitors still await
  payment and are in no other order (``credentials.orders.services.order_reopen_refusal``).

After the grace, or for money booked after the deadline, the money is flagged for finance as
any late money is (``payments.acceptance``): recorded, never accepted silently.
"""

from __future__ import annotations

from datetime import date, datetime

from django.db.models import F
from django.utils import timezone

from ciie_portal.models import Edition
from credentials.models import CredentialOrder

from .models import Method, Payment


def editions_in_grace(now: datetime) -> list[int]:
    """Editions whose grace for transfers is not over at ``now`` (few rows: read whole)."""
    return [
        edition.pk
        for edition in Edition.objects.only("transfer_deadline", "transfer_grace_days")
        if now < edition.transfer_grace_ends
    ]


def awaiting_finance():
    """Orders with a remittance submitted that finance has not decided (one payment: method,
    status and remittance in one ``filter()`` call)."""
    return CredentialOrder.objects.filter(
        payments__method=Method.TRANSFER,
        payments__status=Payment.Status.CREATED,
        payments__remittance__isnull=False,
    ).values("pk")


def held_open(now: datetime):
    """Orders that ``orders_expire`` leaves open at ``now``: a remittance submitted before the
    transfer deadline, undecided, and the edition's grace not over."""
    return CredentialOrder.objects.filter(
        edition_id__in=editions_in_grace(now),
        payments__method=Method.TRANSFER,
        payments__status=Payment.Status.CREATED,
        payments__remittance__submitted_at__lte=F("edition__transfer_deadline"),
    ).values("pk")


def grace_over(order: CredentialOrder, now: datetime) -> bool:
    """Finance's grace for transfers of ``order``'s edition has ended at ``now``."""
    return now >= order.edition.transfer_grace_ends


def booked_in_time(order: CredentialOrder, value_date: date) -> bool:
    """The bank booked the money on or before the transfer deadline and within the order's
    payment window (by day in Beijing, as the bank's dates are)."""
    deadline = timezone.localdate(order.edition.transfer_deadline)
    return value_date <= deadline and value_date <= timezone.localdate(order.expires_at)


def register() -> None:
    """Called from ``PaymentsConfig.ready()``."""
    from credentials.orders.holds import register_order_holds

    register_order_holds(held_open=held_open, awaiting_finance=awaiting_finance)
