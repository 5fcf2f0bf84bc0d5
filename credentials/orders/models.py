"""Credential orders (订单) and their lines: one line per visitor, with the fee at order time."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ciie_portal.records import GuardedModel, GuardedQuerySet
from ciie_portal.states import StateMachine
from registration.models import Label, Pickup, Visitor

ORDER_NUMBER_LENGTH = 24  # V + yyyymmddHHMMSSfff + 6 digits


def new_order_number(now=None) -> str:
    """V20200512230313594063001: "V", Shanghai time to the millisecond, six random digits.

    The random tail makes two orders of the same millisecond differ; the unique constraint
    catches the rare collision and the service draws again.
    """
    local = timezone.localtime(now or timezone.now())
    stamp = local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"
    return f"V{stamp}{secrets.randbelow(10**6):06d}"


class CredentialOrderQuerySet(GuardedQuerySet):
    # The state machine (paid, cancelled, closed) and when; the number, payer, total, payment
    # window and who made it when never change.
    mutable_fields = frozenset({"status", "paid_at", "closed_at"})


class CredentialOrder(GuardedModel):
    """订单: one submission for credentials (提交办证(付费)), one line per visitor.

    Paid either by a unit for its visitors, or by a delegation (交易团代付) for the visitors it
    pays for: one consolidated order, by bank transfer only. Exactly one of ``unit`` and
    ``delegation`` is set. A financial record: never edited by hand, never deleted
    (``ciie_portal.records``).
    """

    mutable_fields = CredentialOrderQuerySet.mutable_fields

    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("Awaiting payment")  # 待支付
        PAID = "paid", _("Paid")  # 已支付
        CANCELLED = "cancelled", _("Order cancelled")  # 已取消
        CLOSED = "closed", _("Order closed")  # 订单关闭: the payment window ended

    # The edition's, the unit's and the state's lookups are served by the composite indexes
    # that begin with them (Meta.indexes): an order's row is written on each payment.
    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="credential_orders",
        verbose_name=_("edition"),
        db_index=False,
    )
    unit = models.ForeignKey(
        "registration.Unit",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credential_orders",
        verbose_name=_("unit"),
        db_index=False,
    )
    # 交易团代付: the delegation that pays this consolidated order (no unit then).
    delegation = models.ForeignKey(
        "delegations.Delegation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credential_orders",
        verbose_name=_("paying delegation"),
    )
    number = models.CharField(_("order number"), max_length=ORDER_NUMBER_LENGTH, editable=False)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=Status.choices,
        default=Status.PENDING_PAYMENT,
    )
    total = models.DecimalField(_("total (CNY)"), max_digits=12, decimal_places=2)
    expires_at = models.DateTimeField(_("payment window ends"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    closed_at = models.DateTimeField(_("cancelled or closed"), null=True, blank=True)

    objects = CredentialOrderQuerySet.as_manager()

    class Meta:
        verbose_name = _("credential order")
        verbose_name_plural = _("credential orders")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="credential_order_number_unique"),
            models.CheckConstraint(
                condition=Q(total__gte=0), name="credential_order_total_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(unit__isnull=False, delegation__isnull=True)
                | Q(unit__isnull=True, delegation__isnull=False),
                name="credential_order_unit_or_delegation",
            ),
        ]
        indexes = [
            models.Index(fields=["unit", "status", "created_at"]),
            # The expiry job: pending orders whose window has ended.
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["edition", "status"]),
        ]
        permissions = [
            ("settle_delegation_order", _("Can settle the visitors the delegation pays for"))
        ]

    def __str__(self):
        return self.number

    def seconds_left(self, now=None) -> int:
        """Seconds until the payment window ends (0 once it has, or once not payable)."""
        if self.status != self.Status.PENDING_PAYMENT:
            return 0
        left = (self.expires_at - (now or timezone.now())).total_seconds()
        return max(int(left), 0)

    @property
    def is_payable(self) -> bool:
        return self.seconds_left() > 0

    @property
    def is_delegation_order(self) -> bool:
        """交易团代付: the delegation pays, by bank transfer only."""
        return self.delegation_id is not None

    @property
    def payer(self):
        """The unit or the delegation that pays."""
        return self.delegation if self.delegation_id else self.unit


# Visitors whose fee may be refunded: the review failed, or they were cancelled (注销).
REFUNDABLE_VISITOR_STATES = (Visitor.Status.REVIEW_FAILED, Visitor.Status.CANCELLED)


class OrderLineQuerySet(GuardedQuerySet):
    # Only ``open`` changes: the line is released when its order is cancelled or closed.
    mutable_fields = frozenset({"open"})

    def refundable(self):
        """Lines whose fee can be refunded now: paid order, visitor failed or cancelled, a
        fee, and no refund asked for or made already (a rejected one may be asked for again).

        The one statement of the rule: the order page asks it, and so do the refund services
        (``payments.refunds.refundable_lines``). Refund lines are the payments app's ledger,
        reached by its reverse relation (``refund_lines``).
        """
        return self.filter(
            order__status=CredentialOrder.Status.PAID,
            visitor__status__in=REFUNDABLE_VISITOR_STATES,
            fee__gt=0,
        ).exclude(refund_lines__active=True)


class OrderLine(GuardedModel):
    """One visitor in an order, with the label, entry days, pick-up and fee at order time.

    ``open`` is true while the order is pending or paid. The database allows one open line per
    visitor, so a visitor is in at most one live order whatever the application does. Nothing
    else of a line ever changes, and it is never deleted.
    """

    mutable_fields = OrderLineQuerySet.mutable_fields

    order = models.ForeignKey(
        CredentialOrder,
        on_delete=models.PROTECT,
        related_name="lines",
        verbose_name=_("credential order"),
    )
    visitor = models.ForeignKey(
        "registration.Visitor",
        on_delete=models.PROTECT,
        related_name="order_lines",
        verbose_name=_("visitor"),
    )
    label = models.CharField(_("label"), max_length=8, choices=Label.choices)
    entry_period = models.ForeignKey(
        "ciie_portal.EntryPeriod",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("entry days"),
    )
    pickup = models.CharField(
        _("how the credential is received"), max_length=12, choices=Pickup.choices, blank=True
    )
    fee = models.DecimalField(_("credential fee (CNY)"), max_digits=12, decimal_places=2)
    open = models.BooleanField(_("open"), default=True)

    objects = OrderLineQuerySet.as_manager()

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["visitor"], condition=Q(open=True), name="one_open_order_line_per_visitor"
            ),
            models.CheckConstraint(condition=Q(fee__gte=0), name="order_line_fee_not_negative"),
        ]

    def __str__(self):
        return f"{self.order_id}/{self.visitor_id}"


_O = CredentialOrder.Status
ORDER_STATES = StateMachine(
    name="order",
    choices=CredentialOrder.Status,
    moves={
        # 待支付: paid, cancelled by the unit (取消订单), or closed when the window ends.
        _O.PENDING_PAYMENT: {_O.PAID, _O.CANCELLED, _O.CLOSED},
        _O.PAID: set(),  # refunds are separate ledgers (payments app), not order states
        _O.CANCELLED: set(),
        # Closed, yet paid: money made in time (a transfer booked by the deadline) accepted in
        # the edition's grace for transfers, only through ``services.order_mark_paid(reopen=…)``.
        _O.CLOSED: {_O.PAID},
    },
)
