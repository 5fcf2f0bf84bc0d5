"""注销: a visitor is cancelled by its unit or by staff from 已提交 onward; a cancelled visitor of a
paid order becomes refundable (``credentials.orders.models.OrderLineQuerySet.refundable``)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from ciie_portal.notices.services import notice_send
from credentials.orders.models import CredentialOrder
from credentials.production.models import Credential
from credentials.production.services import credentials_revoke
from registration.models import VISITOR_STATES, Unit, Visitor
from registration.side_events.services import side_event_signups_release

V = Visitor.Status


@dataclass
class CancelResult:
    cancelled: list[Visitor]
    #: Unpaid orders that still hold cancelled visitors: unit id → order numbers.
    unpaid_orders: dict[int, list[str]] = field(default_factory=dict)
    skipped: int = 0

    @property
    def count(self) -> int:
        return len(self.cancelled)


def visitors_cancel(*, visitors: QuerySet, actor, reason: str = "") -> CancelResult:
    """注销: cancel visitors from 已提交 onward (saved ones are deleted instead), set-based.

    A cancelled visitor of a paid order becomes refundable (``payments.refunds``). One in an
    unpaid order keeps its line — the order is a financial record and keeps its total — and the
    unit is told it can cancel that order (取消订单) and order the others again; an unpaid
    order's cancelled visitor, if paid after all, is refundable. Each unit gets one email.
    """
    reason = " ".join((reason or "").split())
    # A plain queryset of the chosen rows: an admin list's may carry DISTINCT or joins, which
    # cannot be locked.
    chosen = Visitor.objects.filter(pk__in=visitors.values("pk"))
    with transaction.atomic():
        asked = chosen.count()
        cancelled = VISITOR_STATES.move_many(
            chosen,
            V.CANCELLED,
            actor=actor,
            reason=reason or _("Cancelled (注销)"),
        )
        if not cancelled:
            return CancelResult(cancelled=[], skipped=asked)
        ids = [v.pk for v in cancelled]
        unpaid = defaultdict(list)
        for unit_id, number in (
            CredentialOrder.objects.filter(
                status=CredentialOrder.Status.PENDING_PAYMENT,
                lines__open=True,
                lines__visitor_id__in=ids,
            )
            .values_list("unit_id", "number")
            .distinct()
            .order_by("number")
        ):
            if unit_id is not None:
                unpaid[unit_id].append(number)
        # A cancelled visitor's side-event places go to those waiting.
        side_event_signups_release(
            visitor_ids=ids, actor=actor, reason=reason or _("Cancelled (注销)")
        )
        # A cancelled visitor's credential no longer opens the gate (it stays listed, revoked).
        credentials_revoke(
            credentials=Credential.objects.filter(visitor_id__in=ids),
            reason=_("Visitor cancelled (注销)"),
            actor=actor,
        )
        _tell_cancelled(cancelled, unpaid=unpaid, reason=reason)
    return CancelResult(cancelled=cancelled, unpaid_orders=dict(unpaid), skipped=asked - len(ids))


def _tell_cancelled(cancelled: list[Visitor], *, unpaid: dict, reason: str) -> None:
    by_unit = defaultdict(list)
    for visitor in cancelled:
        by_unit[visitor.unit_id].append(visitor.name)
    event = uuid.uuid4().hex
    for unit in Unit.objects.filter(pk__in=list(by_unit)).only("name", "contact_email"):
        if not unit.contact_email:
            continue
        notice_send(
            key=f"visitor-cancelled:{unit.pk}:{event}",
            event="visitor_cancelled",
            channel="email",
            recipient=unit.contact_email,
            template="visitor_cancelled",
            params={
                "unit": unit.name,
                "names": "、".join(by_unit[unit.pk]),
                "count": len(by_unit[unit.pk]),
                "reason": reason,
                "orders": ", ".join(unpaid.get(unit.pk, [])),
            },
        )
