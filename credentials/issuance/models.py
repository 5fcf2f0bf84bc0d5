"""证件发放: credentials leave the credential office by courier or through the delegation.

A courier parcel holds the credentials of one unit for one address and recipient, at most
``PARCEL_SIZE`` of them; the database itself refuses an eleventh (a position 1…10, unique per
parcel) and a credential in two parcels (one item per credential). A pick-up list is what one
delegation collects (交易团代领). Items are never deleted: a credential revoked after packing
stays listed, shown as revoked, and its replacement goes into a new parcel or list.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ciie_portal.states import StateMachine

__all__ = [
    "PARCEL_SIZE",
    "PARCEL_STATES",
    "PICKUP_LIST_STATES",
    "IssuanceCounter",
    "Parcel",
    "ParcelItem",
    "PickupItem",
    "PickupList",
]

#: At most this many credentials go in one parcel (the organiser's rule).
PARCEL_SIZE = 10


class IssuanceCounter(models.Model):
    """The last parcel / pick-up list number drawn in an edition.

    Its row is locked while a run packs: two runs of one edition take turns, so numbers never
    repeat and a credential is never packed by both.
    """

    class Kind(models.TextChoices):
        PARCEL = "parcel", _("Parcel")
        PICKUP_LIST = "pickup_list", _("Pick-up list")

    edition = models.ForeignKey(
        "ciie_portal.Edition", on_delete=models.PROTECT, related_name="+", verbose_name=_("edition")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    last_sequence = models.PositiveIntegerField(_("last number drawn"), default=0)

    class Meta:
        verbose_name = _("issuance number counter")
        verbose_name_plural = _("issuance number counters")
        constraints = [
            models.UniqueConstraint(fields=["edition", "kind"], name="issuance_counter_unique"),
        ]

    def __str__(self):
        return f"{self.edition_id}/{self.kind}: {self.last_sequence}"


class Parcel(models.Model):
    """快递包裹: one unit's credentials for one address and recipient (at most ten)."""

    class Status(models.TextChoices):
        PACKED = "packed", _("Packed")
        SHIPPED = "shipped", _("Shipped")
        DELIVERED = "delivered", _("Delivered")

    number = models.CharField(_("parcel number"), max_length=16, unique=True, editable=False)
    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="parcels",
        verbose_name=_("edition"),
    )
    unit = models.ForeignKey(
        "registration.Unit",
        on_delete=models.PROTECT,
        related_name="parcels",
        verbose_name=_("unit"),
    )
    # The address the parcel was packed for; the fields below are its copy at packing time
    # (the unit may edit or delete its addresses afterwards).
    address = models.ForeignKey(
        "registration.DeliveryAddress",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("delivery address"),
    )
    recipient = models.CharField(_("recipient"), max_length=50)
    mobile = models.CharField(_("recipient's mobile"), max_length=20)
    address_text = models.CharField(_("address"), max_length=300)
    postcode = models.CharField(_("postcode"), max_length=10, blank=True)
    courier = models.CharField(_("courier"), max_length=50, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=50, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PACKED, db_index=True
    )
    packed_at = models.DateTimeField(_("packed"), default=timezone.now, editable=False)
    packed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("packed by"),
    )
    shipped_at = models.DateTimeField(_("shipped"), null=True, blank=True)
    shipped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("shipped by"),
    )
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("parcel")
        verbose_name_plural = _("parcels")
        ordering = ["-packed_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="packed") | (~Q(courier="") & ~Q(tracking_number="")),
                name="parcel_shipped_has_tracking_number",
            ),
            models.UniqueConstraint(
                fields=["courier", "tracking_number"],
                condition=~Q(tracking_number=""),
                name="parcel_tracking_number_once",
            ),
        ]
        indexes = [
            models.Index(fields=["edition", "status"]),
            models.Index(fields=["unit", "status"]),
        ]
        permissions = [
            (
                "issue_credentials",
                _("Can pack parcels, enter tracking numbers and prepare pick-up lists"),
            ),
        ]

    def __str__(self):
        return self.number


class ParcelItem(models.Model):
    """One credential in a parcel. A credential is in at most one parcel, ever."""

    parcel = models.ForeignKey(
        Parcel, on_delete=models.PROTECT, related_name="items", verbose_name=_("parcel")
    )
    credential = models.OneToOneField(
        "credentials.Credential",
        on_delete=models.PROTECT,
        related_name="parcel_item",
        verbose_name=_("credential"),
    )
    position = models.PositiveSmallIntegerField(_("position in the parcel"))

    class Meta:
        verbose_name = _("parcel item")
        verbose_name_plural = _("parcel items")
        ordering = ["parcel", "position"]
        constraints = [
            # With the unique position below: never more than PARCEL_SIZE credentials.
            models.CheckConstraint(
                condition=Q(position__gte=1, position__lte=PARCEL_SIZE),
                name="parcel_item_position_1_to_10",
            ),
            models.UniqueConstraint(
                fields=["parcel", "position"], name="parcel_item_position_unique"
            ),
        ]

    def __str__(self):
        return f"{self.parcel_id}#{self.position}"


class PickupList(models.Model):
    """交易团代领: the credentials one delegation collects, with the hand-over confirmation."""

    class Status(models.TextChoices):
        PREPARED = "prepared", _("Ready for collection")
        HANDED_OVER = "handed_over", _("Handed over")

    number = models.CharField(_("list number"), max_length=16, unique=True, editable=False)
    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="pickup_lists",
        verbose_name=_("edition"),
    )
    delegation = models.ForeignKey(
        "delegations.Delegation",
        on_delete=models.PROTECT,
        related_name="pickup_lists",
        verbose_name=_("delegation"),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PREPARED, db_index=True
    )
    prepared_at = models.DateTimeField(_("prepared"), default=timezone.now, editable=False)
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("prepared by"),
    )
    received_by_name = models.CharField(_("received by"), max_length=50, blank=True)
    received_by_phone = models.CharField(_("receiver's phone"), max_length=30, blank=True)
    handed_over_at = models.DateTimeField(_("handed over"), null=True, blank=True)
    handed_over_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("hand-over confirmed by"),
    )

    class Meta:
        verbose_name = _("pick-up list")
        verbose_name_plural = _("pick-up lists")
        ordering = ["-prepared_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="prepared") | ~Q(received_by_name=""),
                name="pickup_list_handed_over_has_receiver",
            ),
        ]
        indexes = [models.Index(fields=["edition", "delegation", "status"])]
        permissions = [
            ("hand_over_pickuplist", _("Can confirm that a pick-up list was handed over")),
        ]

    def __str__(self):
        return self.number


class PickupItem(models.Model):
    """One credential on a pick-up list. A credential is on at most one list, ever."""

    pickup_list = models.ForeignKey(
        PickupList, on_delete=models.PROTECT, related_name="items", verbose_name=_("pick-up list")
    )
    credential = models.OneToOneField(
        "credentials.Credential",
        on_delete=models.PROTECT,
        related_name="pickup_item",
        verbose_name=_("credential"),
    )

    class Meta:
        verbose_name = _("pick-up list item")
        verbose_name_plural = _("pick-up list items")
        ordering = ["pickup_list", "pk"]

    def __str__(self):
        return f"{self.pickup_list_id}/{self.credential_id}"


_P = Parcel.Status
PARCEL_STATES = StateMachine(
    name="parcel",
    choices=Parcel.Status,
    moves={
        _P.PACKED: {_P.SHIPPED},  # the tracking number is entered (or imported)
        _P.SHIPPED: {_P.DELIVERED},  # optional: the courier confirmed delivery
        _P.DELIVERED: set(),
    },
)

_L = PickupList.Status
PICKUP_LIST_STATES = StateMachine(
    name="pickup_list",
    choices=PickupList.Status,
    moves={
        _L.PREPARED: {_L.HANDED_OVER},
        _L.HANDED_OVER: set(),
    },
)
