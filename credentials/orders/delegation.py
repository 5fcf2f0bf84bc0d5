"""交易团代付: a delegation settles the visitors it pays for in one consolidated order, paid by
bank transfer only."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record
from ciie_portal.models import Edition
from delegations.gates import of_approved_units
from delegations.models import Delegation
from registration.models import Label, Visitor

from .fees import ZERO, credential_fee
from .models import CredentialOrder, OrderLine
from .services import _insert_order, _is_open_line_conflict

# Visitors the delegation pays for are locked straight into review; these are the states in
# which their fee is still owed by the delegation.
DELEGATION_PAID_STATES = (Visitor.Status.PENDING_REVIEW, Visitor.Status.REVIEW_PASSED)


@dataclass(frozen=True)
class DelegationSettlement:
    """What a delegation would settle now: the visitors with their fees, and those left out."""

    delegation: Delegation
    edition: Edition
    visitors: list[Visitor]
    fees: dict[int, Decimal]
    no_entry_days: list[Visitor]

    @property
    def count(self) -> int:
        return len(self.visitors)

    @property
    def total(self) -> Decimal:
        return sum(self.fees.values(), ZERO)


def _delegation_visitors(delegation: Delegation, edition: Edition):
    """The professional visitors of ``delegation`` (and its sub-delegations, for a trade
    delegation) in ``edition`` whose fee the delegation pays, once locked (待审核/审核通过).
    VIP and staff cost nothing, so they are never settled; only approved units' visitors."""
    return of_approved_units(Visitor.objects).filter(
        edition=edition,
        unit__delegation__in=Delegation.objects.subtree_of(delegation).values("pk"),
        paid_by_delegation=True,
        label=Label.VISITOR,
        status__in=DELEGATION_PAID_STATES,
        join_pending=False,
    )


def _settlement(delegation, edition, visitors: list[Visitor]) -> DelegationSettlement:
    """Split ``visitors`` (none in an open order) into those settled, with their fee, and
    those left out: no entry days yet, or nothing to pay (a reuse at 0 %)."""
    settled, fees, no_days = [], {}, []
    for visitor in visitors:
        if visitor.entry_period_id is None:
            no_days.append(visitor)
            continue
        fee = credential_fee(visitor, edition)
        if fee > 0:
            settled.append(visitor)
            fees[visitor.pk] = fee
    return DelegationSettlement(delegation, edition, settled, fees, no_days)


def delegation_settlement(
    *, delegation: Delegation, edition: Edition | None = None
) -> DelegationSettlement:
    """What ``delegation_order_create`` would put in the order now: for the page that shows
    the count and the total before the secretary confirms. Reads only, locks nothing."""
    edition = edition or Edition.objects.current()
    visitors = list(
        _delegation_visitors(delegation, edition)
        .exclude(Exists(OrderLine.objects.filter(visitor=OuterRef("pk"), open=True)))
        .select_related("entry_period", "unit", "previous__unit", "previous__entry_period")
        .order_by("unit_id", "pk")
    )
    return _settlement(delegation, edition, visitors)


def delegation_order_create(
    *,
    delegation: Delegation,
    actor,
    edition: Edition | None = None,
    expected_total: Decimal | None = None,
    now: datetime | None = None,
) -> CredentialOrder:
    """结算代付订单: one consolidated order for every visitor ``delegation`` pays for.

    The visitors (see ``_delegation_visitors``) not yet in an open order, one line each at the
    full credential fee (the reuse percentage where reuse applies). They are already past
    payment, so nothing happens to them; the order is paid by bank transfer, until the
    edition's transfer deadline. Their rows are locked first (in pk order), so two settlements
    at once make one order and one refusal ("nothing to settle"); the database's one-open-line
    rule backs this up. ``expected_total`` is the total the secretary confirmed: if the
    visitors changed meanwhile, the order is refused rather than made for another amount.
    """
    edition = edition or Edition.objects.current()
    now = now or timezone.now()
    deadline = edition.payment_deadline("transfer")
    if now > deadline:
        raise ValidationError(
            _(
                "Payment by bank transfer closed on %(deadline)s: the visitors the delegation "
                "pays for can no longer be settled."
            )
            % {"deadline": timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M")}
        )
    try:
        with transaction.atomic():
            locked = list(
                _delegation_visitors(delegation, edition)
                .select_for_update(of=("self",))
                .select_related("entry_period", "unit", "previous__unit", "previous__entry_period")
                .order_by("pk")
            )
            # Read after the locks are held: an order made meanwhile has committed its lines.
            taken = set(
                OrderLine.objects.filter(
                    visitor_id__in=[v.pk for v in locked], open=True
                ).values_list("visitor_id", flat=True)
            )
            settlement = _settlement(delegation, edition, [v for v in locked if v.pk not in taken])
            if not settlement.visitors:
                raise ValidationError(
                    _(
                        "%(delegation)s has no visitors to settle: every visitor it pays for "
                        "is already in an order, or none is locked yet."
                    )
                    % {"delegation": delegation.name}
                )
            total = settlement.total
            if expected_total is not None and Decimal(expected_total) != total:
                raise ValidationError(
                    _(
                        "The visitors to settle changed meanwhile: now %(count)d visitors, "
                        "%(total)s CNY. Check the new total and confirm again."
                    )
                    % {"count": settlement.count, "total": total}
                )
            order = _insert_order(
                edition_id=edition.pk,
                delegation=delegation,
                total=total,
                created_at=now,
                expires_at=deadline,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
            OrderLine.objects.bulk_create(
                OrderLine(
                    order=order,
                    visitor=v,
                    label=v.label,
                    entry_period_id=v.entry_period_id,
                    pickup=v.pickup,
                    fee=settlement.fees[v.pk],
                )
                for v in settlement.visitors
            )
            audit_record(
                actor=actor,
                obj=order,
                action="order.create",
                to_state=order.status,
                data={
                    "delegation": delegation.pk,
                    "visitors": [v.pk for v in settlement.visitors],
                    "total": str(total),
                },
            )
    except IntegrityError as error:
        if not _is_open_line_conflict(error):
            raise
        raise ValidationError(
            _("Some of these visitors were just settled by someone else; reload the page.")
        ) from error
    return order
