"""The exhibitor directory (展商名录) of an edition, and what a unit does with it: favourites
and meetings (供采对接).

Imported by ``registration.models`` (Django finds the app's models there)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ciie_portal.countries import CountryField
from ciie_portal.states import StateMachine


class Exhibitor(models.Model):
    """An exhibitor of an edition, as the organiser's spreadsheet lists it (its ``code`` is the
    key a re-import updates by)."""

    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="exhibitors",
        verbose_name=_("edition"),
    )
    code = models.CharField(_("exhibitor number"), max_length=32)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    country = CountryField(_("country or region"), blank=True)
    hall = models.CharField(_("hall"), max_length=20, blank=True)
    booth = models.CharField(_("booth"), max_length=20, blank=True)
    #: A slug of ``registration.reference.EXHIBITION_AREAS``.
    area = models.CharField(_("exhibition area"), max_length=40, blank=True)
    #: A slug of ``registration.reference.SPECIAL_ZONES``, or empty.
    zone = models.CharField(_("special zone"), max_length=40, blank=True)
    #: GB/T 4754-2017 divisions (two digits) of what it sells, from its products.
    industries = models.JSONField(_("industries"), default=list, blank=True)
    #: The smallest deal it takes, a slug of ``registration.reference.PURCHASE_BANDS``.
    min_order_band = models.CharField(_("smallest order"), max_length=16, blank=True)
    description = models.TextField(_("description"), blank=True)
    description_en = models.TextField(_("English description"), blank=True)
    contact_name = models.CharField(_("contact person"), max_length=50, blank=True)
    contact_email = models.EmailField(_("contact's email"), blank=True)
    #: Names in Chinese, English and pinyin, products included, lower-case: what search reads.
    search_text = models.TextField(editable=False, blank=True)
    is_listed = models.BooleanField(_("listed"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("exhibitor")
        verbose_name_plural = _("exhibitors")
        ordering = ["edition", "code"]
        constraints = [
            models.UniqueConstraint(fields=["edition", "code"], name="exhibitor_code_once"),
        ]
        # Search by part of a name (Chinese, English, pinyin) has a trigram index (pg_trgm) on
        # ``search_text`` on PostgreSQL only: written by migration 0016 outside the models'
        # state, so that SQLite never meets it.
        indexes = [models.Index(fields=["edition", "area", "zone"], name="exhibitor_area_zone")]

    def __str__(self):
        return f"{self.name} ({self.code})"


class Product(models.Model):
    """A product an exhibitor shows (展品)."""

    exhibitor = models.ForeignKey(
        Exhibitor, on_delete=models.CASCADE, related_name="products", verbose_name=_("exhibitor")
    )
    code = models.CharField(_("product number"), max_length=32)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    category = models.CharField(_("category"), max_length=100, blank=True)
    category_en = models.CharField(_("English category"), max_length=100, blank=True)
    #: GB/T 4754-2017 division (two digits), or empty.
    industry = models.CharField(_("industry (GB/T 4754-2017)"), max_length=4, blank=True)
    description = models.CharField(_("description"), max_length=500, blank=True)
    description_en = models.CharField(_("English description"), max_length=500, blank=True)
    search_text = models.TextField(editable=False, blank=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["exhibitor", "code"]
        constraints = [
            models.UniqueConstraint(fields=["exhibitor", "code"], name="product_code_once"),
        ]
        # A trigram index on ``search_text`` on PostgreSQL (migration 0016), as the exhibitor's.

    def __str__(self):
        return self.name


class Favourite(models.Model):
    """An exhibitor a unit keeps (收藏)."""

    unit = models.ForeignKey(
        "registration.Unit",
        on_delete=models.CASCADE,
        related_name="favourite_exhibitors",
        verbose_name=_("unit"),
    )
    exhibitor = models.ForeignKey(
        Exhibitor, on_delete=models.CASCADE, related_name="favourites", verbose_name=_("exhibitor")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("favourite exhibitor")
        verbose_name_plural = _("favourite exhibitors")
        constraints = [
            models.UniqueConstraint(fields=["unit", "exhibitor"], name="favourite_once"),
        ]

    def __str__(self):
        return f"{self.unit} ★ {self.exhibitor}"


class MatchingProfile(models.Model):
    """What a unit adds to its purchase intentions for matching: the countries and regions
    whose exhibitors it wants to see."""

    unit = models.OneToOneField(
        "registration.Unit",
        on_delete=models.CASCADE,
        related_name="matching_profile",
        verbose_name=_("unit"),
    )
    countries = models.JSONField(_("countries and regions of interest"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("matching preferences")
        verbose_name_plural = _("matching preferences")

    def __str__(self):
        return str(self.unit)


#: The half-hour slots a meeting can take on an expo day (Beijing time), as "HH:MM".
MEETING_SLOTS = [f"{hour:02d}:{minute:02d}" for hour in range(9, 17) for minute in (0, 30)]
#: Minutes a meeting lasts.
MEETING_MINUTES = 30


class Meeting(models.Model):
    """A meeting a unit asks an exhibitor for (洽谈预约), on an expo day at a slot.

    A requested, confirmed or held meeting holds its slot, for the exhibitor and for the unit:
    the database refuses a second one (``meeting_*_slot_once``)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", pgettext_lazy("meeting", "Awaiting reply")
        CONFIRMED = "confirmed", pgettext_lazy("meeting", "Confirmed")
        DECLINED = "declined", pgettext_lazy("meeting", "Declined")
        CANCELLED = "cancelled", pgettext_lazy("meeting", "Cancelled")
        HELD = "held", pgettext_lazy("meeting", "Held")

    #: The states that hold the slot.
    HOLDING = (Status.REQUESTED, Status.CONFIRMED, Status.HELD)

    unit = models.ForeignKey(
        "registration.Unit",
        on_delete=models.PROTECT,
        related_name="meetings",
        verbose_name=_("unit"),
    )
    exhibitor = models.ForeignKey(
        Exhibitor, on_delete=models.PROTECT, related_name="meetings", verbose_name=_("exhibitor")
    )
    day = models.DateField(_("day"))
    slot = models.CharField(
        _("time"), max_length=5, choices=[(slot, slot) for slot in MEETING_SLOTS]
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.REQUESTED
    )
    message = models.CharField(_("message"), max_length=300, blank=True)
    requested_by = models.ForeignKey(
        "registration.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    decided_at = models.DateTimeField(_("answered"), null=True, blank=True)
    #: Who answered: a staff member's name, or "exhibitor" (by the signed link).
    decided_by = models.CharField(_("answered by"), max_length=150, blank=True)
    held_at = models.DateTimeField(_("held"), null=True, blank=True)

    class Meta:
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")
        ordering = ["day", "slot", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["exhibitor", "day", "slot"],
                condition=Q(status__in=["requested", "confirmed", "held"]),
                name="meeting_exhibitor_slot_once",
            ),
            models.UniqueConstraint(
                fields=["unit", "day", "slot"],
                condition=Q(status__in=["requested", "confirmed", "held"]),
                name="meeting_unit_slot_once",
            ),
        ]

    def __str__(self):
        return f"{self.exhibitor} {self.day} {self.slot}"


_M = Meeting.Status
MEETING_STATES = StateMachine(
    name="meeting",
    choices=Meeting.Status,
    moves={
        # Answered by the exhibitor (signed link) or the organiser, or withdrawn by the unit.
        _M.REQUESTED: {_M.CONFIRMED, _M.DECLINED, _M.CANCELLED},
        _M.CONFIRMED: {_M.CANCELLED, _M.HELD},
        _M.DECLINED: set(),
        _M.CANCELLED: set(),
        _M.HELD: set(),
    },
)
