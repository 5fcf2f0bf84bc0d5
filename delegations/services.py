"""What secretaries do: review units, label visitors within quotas, lock submissions."""

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record_bulk, audit_together
from ciie_portal.notices.services import both_channels, notice_send_both, notices_send
from ciie_portal.states import IllegalTransition, StaleState
from ciie_portal.timefmt import local_text
from registration.models import UNIT_STATES, VISITOR_STATES, Label, Unit, Visitor
from registration.services import unit_review_notice

from .gates import APPROVED, require_approved
from .models import Delegation, DelegationQuota

V = Visitor.Status
REVIEW_DECISIONS = {
    "approve": Unit.Status.APPROVED,
    "return": Unit.Status.RETURNED,
    "reject": Unit.Status.REJECTED,
}
# Labels can only go up: 专业观众 → 工作人员 → VIP.
LABEL_RANK = {"": 0, Label.VISITOR: 1, Label.STAFF: 2, Label.VIP: 3}
QUOTA_LABELS = (Label.VIP, Label.STAFF)
# Visitors whose label a secretary may set: submitted, or reusing last edition's credential.
LABELLABLE = (V.SUBMITTED, V.PENDING_LOCK)


def trade_delegation_of(delegation: Delegation) -> Delegation:
    return delegation.parent if delegation.parent_id else delegation


# --- Unit review ----------------------------------------------------------------------------


def units_review(*, units, decision: str, actor, reason: str = "") -> int:
    """Approve, return (退回修改) or reject (审核不通过) submitted units; each unit is emailed."""
    target = REVIEW_DECISIONS[decision]
    if target != Unit.Status.APPROVED and not reason.strip():
        raise ValidationError(_("Give the reason, so that the unit knows what to do."))
    done = 0
    for unit in units.select_related("delegation", "edition"):
        try:
            UNIT_STATES.move(unit, target, actor=actor, reason=reason)
        except (IllegalTransition, StaleState):
            continue
        done += 1
        unit_review_notice(
            unit=unit, key=f"unit-review:{unit.pk}:{uuid.uuid4().hex}", reason=reason
        )
    return done


# --- Labels and quotas ----------------------------------------------------------------------


def quota_limits(*, delegation: Delegation, edition) -> dict:
    quota = DelegationQuota.objects.filter(
        edition=edition, delegation=trade_delegation_of(delegation)
    ).first()
    return {
        Label.VIP: quota.vip_limit if quota and quota.vip_limit is not None
        else edition.default_vip_quota,
        Label.STAFF: quota.staff_limit if quota and quota.staff_limit is not None
        else edition.default_staff_quota,
    }  # fmt: skip


def quota_usage(*, delegation: Delegation, edition) -> dict:
    """VIP and staff labels used in the trade delegation's whole subtree."""
    root = trade_delegation_of(delegation)
    counts = (
        Visitor.objects.filter(
            edition=edition, unit__delegation__in=Delegation.objects.subtree_of(root)
        )
        .exclude(status=V.CANCELLED)
        .aggregate(
            vip=Count("pk", filter=Q(label=Label.VIP)),
            staff=Count("pk", filter=Q(label=Label.STAFF)),
        )
    )
    return {Label.VIP: counts["vip"], Label.STAFF: counts["staff"]}


def visitors_label(*, visitors, label: str, actor) -> int:
    """Set ``label`` on visitors (批量标记人员标签), never beyond the VIP and staff quotas.

    The quota row of the trade delegation is locked for the whole check-and-update, so two
    secretaries labelling at the same moment are counted one after the other.
    """
    if label not in Label.values:
        raise ValidationError(_("Choose a label."))
    with transaction.atomic():
        chosen = list(
            Visitor.objects.select_for_update(of=("self",))
            .filter(pk__in=visitors.values("pk"), status__in=LABELLABLE)
            .select_related("unit__delegation", "edition")
            .order_by("pk")
        )
        if not chosen:
            return 0
        require_approved((v.unit for v in chosen), doing=_("Visitors can be labelled"))
        _check_upgrades(chosen, label)
        by_root: dict[tuple, list[Visitor]] = {}
        for visitor in chosen:
            root = trade_delegation_of(visitor.unit.delegation)
            by_root.setdefault((root.pk, visitor.edition_id), []).append(visitor)
        if label in QUOTA_LABELS:
            for (root_pk, _edition_id), group in sorted(by_root.items()):
                _check_quota(root_pk, group[0].edition, group, label)
        changed = [v for v in chosen if v.label != label]
        previous = {v.pk: v.label for v in changed}
        upgraded = [v for v in changed if v.status == V.PENDING_LOCK and v.original_label]
        Visitor.objects.filter(pk__in=[v.pk for v in changed]).update(label=label)
        if upgraded:
            Visitor.objects.filter(pk__in=[v.pk for v in upgraded]).update(
                needs_new_credential=True
            )
        audit_record_bulk(
            actor=actor,
            objects=changed,
            action="visitor.label",
            from_state=previous,
            to_state=label,
        )
        for unit_id in {v.unit_id for v in upgraded}:
            _tell_upgrade(unit_id)
    return len(changed)


def _check_upgrades(visitors, label) -> None:
    """Reuse visitors keep their old label unless it goes up; an original VIP never changes."""
    for visitor in visitors:
        if visitor.status != V.PENDING_LOCK or not visitor.original_label:
            continue
        if visitor.original_label == Label.VIP and label != Label.VIP:
            raise ValidationError(
                _("%(name)s was a VIP at the last expo: that label cannot change.")
                % {"name": visitor.name}
            )
        if LABEL_RANK[label] < LABEL_RANK[visitor.original_label]:
            raise ValidationError(
                _("%(name)s reuses last expo's credential: the label can only be upgraded.")
                % {"name": visitor.name}
            )


def _check_quota(root_pk, edition, group, label) -> None:
    root = Delegation.objects.get(pk=root_pk)
    quota, _created = DelegationQuota.objects.get_or_create(edition=edition, delegation=root)
    DelegationQuota.objects.select_for_update().get(pk=quota.pk)
    limit = quota_limits(delegation=root, edition=edition)[label]
    used = quota_usage(delegation=root, edition=edition)[label]
    adding = sum(1 for visitor in group if visitor.label != label)
    if used + adding > limit:
        raise ValidationError(
            _(
                "%(delegation)s has %(left)d of %(limit)d %(label)s places left; "
                "%(adding)d were asked for."
            )
            % {
                "delegation": root.name,
                "left": max(limit - used, 0),
                "limit": limit,
                "label": Label(label).label,
                "adding": adding,
            }
        )


def _tell_upgrade(unit_id: int) -> None:
    """The unit hears of an upgrade (a new credential will be made) by SMS and by email."""
    unit = Unit.objects.get(pk=unit_id)
    notice_send_both(
        key=f"label-upgrade:{unit_id}:{uuid.uuid4().hex}",
        event="label_upgrade",
        template="label_upgrade",
        params={"unit": unit.name},
        mobile=unit.contact_mobile,
        email=unit.contact_email,
    )


# --- Lock submission ------------------------------------------------------------------------


# What the lock reads of the visitors it moved: their units (``pay_now_tell``) and what the
# audit entry names them by (``Visitor.__str__``).
LOCK_READS = ("unit", "name", "id_number_masked")


def visitors_lock(*, visitors, actor) -> dict:
    """锁定提交: labelled visitors are locked. 专业观众 wait for payment (the unit gets one SMS
    and one email), VIP and staff go straight to review. Set-based, whatever the number of
    visitors and units: two UPDATEs (each locks, moves and reads back its rows), one INSERT of
    every audit entry, one of the notices and one of their delivery tasks."""
    with transaction.atomic(), audit_together():
        base = visitors.filter(status__in=LABELLABLE).exclude(label="")
        require_approved(
            Unit.objects.filter(pk__in=base.values("unit_id")).exclude(status=APPROVED),
            doing=_("Visitors can be locked"),
        )
        to_pay = VISITOR_STATES.move_many(
            base.filter(label=Label.VISITOR, paid_by_delegation=False),
            V.PENDING_PAYMENT,
            actor=actor,
            reason=_("Locked by the delegation"),
            reading=LOCK_READS,
        )
        free = VISITOR_STATES.move_many(
            base.filter(Q(label__in=QUOTA_LABELS) | Q(paid_by_delegation=True)),
            V.PENDING_REVIEW,
            actor=actor,
            reason=_("Locked by the delegation"),
            reading=LOCK_READS,
        )
        units = pay_now_tell(to_pay)
    return {"to_pay": len(to_pay), "to_review": len(free), "units": units}


def pay_now_tell(visitors) -> int:
    """The units of ``visitors`` (now 待支付) get one SMS and one email each to pay, with the
    online payment deadline in Beijing time; returns how many units were told. After a lock,
    and after 交易团代付 is undone (``delegations.paid_by``)."""
    batch = uuid.uuid4().hex[:12]
    counts: dict[int, int] = {}
    for visitor in visitors:
        counts[visitor.unit_id] = counts.get(visitor.unit_id, 0) + 1
    notices = []
    for unit in Unit.objects.filter(pk__in=counts).select_related("edition"):
        params = {
            "unit": unit.name,
            "count": counts[unit.pk],
            "deadline": local_text(unit.edition.online_payment_deadline),
        }
        notices += both_channels(
            key=f"pay-now:{unit.pk}:{batch}",
            event="pay_now",
            template="pay_now",
            params=params,
            mobile=unit.contact_mobile,
            email=unit.contact_email,
        )
    # Every unit's SMS and email in one INSERT, their delivery tasks in another.
    notices_send(notices)
    return len(counts)
