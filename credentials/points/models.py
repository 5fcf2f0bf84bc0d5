"""积分: the organiser's rules, the ledger, and the coupons points are exchanged for.

A **rule** says, per edition and event kind, how many points the event is worth. An edition
without rules awards nothing.

The **ledger** (``PointsEntry``) is append-only: each award, exchange and adjustment is one row,
never changed or deleted (``GuardedModel`` here, a trigger on PostgreSQL). Points belong to the
unit; an entry that names a visitor also counts in that visitor's own total. A balance is the
sum of the unit's entries. Each entry has a **source key**, unique per edition
(``gate_day:<visitor>:<date>``, ``exchange:<coupon>``…): the same event reported twice is
written once.

A **coupon batch** is one offer (a name, its cost in points, until when it is valid); its
**coupons** are the codes the organiser loaded, each given to at most one unit.

Imported by ``credentials.models`` (Django finds the app's models there).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ciie_portal.names import localized
from ciie_portal.records import GuardedModel, GuardedQuerySet

__all__ = ["Coupon", "CouponBatch", "PointsEntry", "PointsRule"]


class RuleKind(models.TextChoices):
    """The events that earn points (each worth what the edition's rule says)."""

    COLLEAGUE_JOINED = "colleague_joined", _("A colleague joined by the unit's link")
    REGISTRATION_COMPLETED = "registration_completed", _("A visitor passed the visitor review")
    GATE_DAY = "gate_day", _("A visitor entered the expo (per day)")
    MEETING_HELD = "meeting_held", _("A meeting with an exhibitor was held")


class EntryKind(models.TextChoices):
    COLLEAGUE_JOINED = RuleKind.COLLEAGUE_JOINED.value, RuleKind.COLLEAGUE_JOINED.label
    REGISTRATION_COMPLETED = (
        RuleKind.REGISTRATION_COMPLETED.value,
        RuleKind.REGISTRATION_COMPLETED.label,
    )
    GATE_DAY = RuleKind.GATE_DAY.value, RuleKind.GATE_DAY.label
    MEETING_HELD = RuleKind.MEETING_HELD.value, RuleKind.MEETING_HELD.label
    EXCHANGE = "exchange", pgettext_lazy("points", "Exchanged for a coupon")
    ADJUSTMENT = "adjustment", pgettext_lazy("points", "Adjusted by the organiser")


class PointsRule(models.Model):
    """How many points one kind of event earns in one edition."""

    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.CASCADE,
        related_name="points_rules",
        verbose_name=_("edition"),
    )
    kind = models.CharField(_("event"), max_length=24, choices=RuleKind.choices)
    points = models.PositiveIntegerField(
        _("points"),
        help_text=_("Earned once per event; a change applies to events from now on."),
    )

    class Meta:
        verbose_name = _("points rule")
        verbose_name_plural = _("points rules")
        ordering = ["edition", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["edition", "kind"], name="one_points_rule_per_kind"),
            models.CheckConstraint(condition=Q(points__gt=0), name="points_rule_positive"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.points}"


class CouponBatch(models.Model):
    """One coupon offer of an edition: what it is, what it costs, until when it is valid."""

    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="coupon_batches",
        verbose_name=_("edition"),
    )
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    description = models.CharField(
        pgettext_lazy("coupon", "description"), max_length=300, blank=True
    )
    description_en = models.CharField(
        pgettext_lazy("coupon", "English description"), max_length=300, blank=True
    )
    cost = models.PositiveIntegerField(_("cost in points"))
    valid_until = models.DateField(
        _("valid until"),
        null=True,
        blank=True,
        help_text=_("The last day the coupon can be used; none can be exchanged after it."),
    )
    on_offer = models.BooleanField(
        _("on offer"), default=True, help_text=_("Units can exchange points for it.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("coupon offer")
        verbose_name_plural = _("coupon offers")
        ordering = ["edition", "cost", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(cost__gt=0), name="coupon_batch_cost_positive"),
        ]

    def __str__(self):
        return self.name

    @property
    def display_name(self) -> str:
        return localized(self.name, self.name_en)

    @property
    def display_description(self) -> str:
        return localized(self.description, self.description_en)

    def is_valid_on(self, day) -> bool:
        return self.valid_until is None or day <= self.valid_until


class CouponQuerySet(GuardedQuerySet):
    mutable_fields = frozenset({"exchanged_by", "exchanged_at"})


class Coupon(GuardedModel):
    """One code of an offer, as the organiser loaded it; given to one unit, once (its holder
    alone sees it). Never deleted; on PostgreSQL, its holder is written once and never
    changed."""

    mutable_fields = CouponQuerySet.mutable_fields

    batch = models.ForeignKey(
        CouponBatch,
        on_delete=models.PROTECT,
        related_name="coupons",
        verbose_name=_("coupon offer"),
    )
    code = models.CharField(pgettext_lazy("coupon", "code"), max_length=100)
    loaded_at = models.DateTimeField(_("loaded"), default=timezone.now, editable=False)
    exchanged_by = models.ForeignKey(
        "registration.Unit",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="coupons",
        verbose_name=_("exchanged by"),
    )
    exchanged_at = models.DateTimeField(_("exchanged"), null=True, blank=True)

    objects = CouponQuerySet.as_manager()

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["batch", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "code"], name="coupon_code_once_per_batch"),
            models.CheckConstraint(
                condition=Q(exchanged_by__isnull=True, exchanged_at__isnull=True)
                | Q(exchanged_by__isnull=False, exchanged_at__isnull=False),
                name="coupon_exchanged_by_someone_at_a_time",
            ),
        ]
        indexes = [
            # The free codes of an offer, oldest first: what an exchange picks from.
            models.Index(
                fields=["batch", "id"], condition=Q(exchanged_by__isnull=True), name="coupon_free"
            ),
            models.Index(fields=["exchanged_by", "exchanged_at"], name="coupon_holder"),
        ]

    def __str__(self):
        return f"{self.batch_id}#{self.pk}"


class PointsEntry(GuardedModel):
    """One line of the ledger: written once, never changed or deleted."""

    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="points_entries",
        verbose_name=_("edition"),
    )
    unit = models.ForeignKey(
        "registration.Unit",
        on_delete=models.PROTECT,
        related_name="points_entries",
        verbose_name=_("unit"),
    )
    visitor = models.ForeignKey(
        "registration.Visitor",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="points_entries",
        verbose_name=_("visitor"),
    )
    kind = models.CharField(_("kind"), max_length=24, choices=EntryKind.choices)
    points = models.IntegerField(_("points"))
    # What the entry is for, once per edition: a second report of the same event is ignored.
    source_key = models.CharField(_("source"), max_length=100)
    coupon = models.OneToOneField(
        Coupon,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="points_entry",
        verbose_name=_("coupon"),
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("time"), default=timezone.now, editable=False)

    objects = GuardedQuerySet.as_manager()  # append-only: nothing mutable

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["edition", "source_key"], name="points_entry_source_once"
            ),
            models.CheckConstraint(condition=~Q(points=0), name="points_entry_not_zero"),
            # Events earn, an exchange spends (and names its coupon); adjustments go either way.
            models.CheckConstraint(
                condition=Q(kind__in=["exchange", "adjustment"]) | Q(points__gt=0),
                name="points_entry_events_earn",
            ),
            models.CheckConstraint(
                condition=~Q(kind="exchange") | Q(points__lt=0, coupon__isnull=False),
                name="points_entry_exchange_spends",
            ),
        ]
        indexes = [
            models.Index(fields=["unit", "created_at"], name="points_entry_unit_time"),
            models.Index(fields=["edition", "kind"], name="points_entry_edition_kind"),
        ]
        permissions = [
            ("adjust_points", _("Can adjust a unit's points")),
        ]

    def __str__(self):
        return f"{self.source_key} {self.points:+d}"
