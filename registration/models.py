import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ciie_portal import crypto
from ciie_portal.choices import Region, UnitCategory
from ciie_portal.states import StateMachine


class User(AbstractUser):
    """Everyone who logs in. Unit contacts log in with their USCC (or account number)."""

    mobile = models.CharField(_("mobile"), max_length=20, blank=True)

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")


class Unit(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Not submitted")
        SUBMITTED = "submitted", _("Awaiting delegation review")
        RETURNED = "returned", _("Returned for changes")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    class Kind(models.TextChoices):
        UNIT = "unit", _("Unit registration")
        INDIVIDUAL = "individual", _("Individual registration")

    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="units",
        verbose_name=_("edition"),
    )
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="units",
        verbose_name=_("account"),
    )
    delegation = models.ForeignKey(
        "delegations.Delegation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="units",
        verbose_name=_("delegation"),
    )
    region = models.CharField(_("region"), max_length=16, choices=Region.choices)
    category = models.CharField(_("unit category"), max_length=32, choices=UnitCategory.choices)
    kind = models.CharField(
        _("registration type"), max_length=16, choices=Kind.choices, default=Kind.UNIT
    )
    name = models.CharField(_("unit name"), max_length=200)
    short_name = models.CharField(_("short name"), max_length=100, blank=True)
    uscc = models.CharField(
        _("Unified Social Credit Code"),
        max_length=18,
        blank=True,
        help_text=_("Overseas units without one get an account number instead."),
    )
    account_number = models.CharField(_("account number"), max_length=20, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        ordering = ["-created_at"]
        constraints = [
            # One unit, one account, per edition.
            models.UniqueConstraint(
                fields=["edition", "uscc"], condition=~Q(uscc=""), name="unit_uscc_once_per_edition"
            ),
            models.UniqueConstraint(
                fields=["account_number"],
                condition=~Q(account_number=""),
                name="unit_account_number_unique",
            ),
        ]
        indexes = [models.Index(fields=["edition", "delegation", "status"])]
        permissions = [("view_all_units", _("Can see the units of every delegation"))]

    def __str__(self):
        return self.name


UNIT_STATES = StateMachine(
    name="unit",
    choices=Unit.Status,
    moves={
        Unit.Status.DRAFT: {Unit.Status.SUBMITTED},
        Unit.Status.SUBMITTED: {Unit.Status.APPROVED, Unit.Status.RETURNED, Unit.Status.REJECTED},
        Unit.Status.RETURNED: {Unit.Status.SUBMITTED},
        Unit.Status.APPROVED: set(),
        Unit.Status.REJECTED: set(),  # final (审核不通过)
    },
)


class PersonType(models.TextChoices):
    MAINLAND = "mainland", _("Person from the Chinese mainland")
    HMT = "hmt", _("Person from Hong Kong, Macao or Taiwan")
    FOREIGN = "foreign", _("Person from another country or region")
    OVERSEAS_CHINESE = "overseas_chinese", _("Chinese citizen residing abroad")


class IdType(models.TextChoices):
    RESIDENT_ID = "resident_id", _("Resident identity card")
    HOME_RETURN_PERMIT = "home_return_permit", _("Mainland travel permit for HK/Macao residents")
    TAIWAN_PERMIT = "taiwan_permit", _("Mainland travel permit for Taiwan residents")
    HMT_RESIDENCE_PERMIT = (
        "hmt_residence_permit",
        _("Residence permit for HK/Macao/Taiwan residents"),
    )
    FOREIGNER_PR_CARD = "foreigner_pr_card", _("Foreigner's permanent residence ID card")
    PASSPORT = "passport", _("Passport")


class Label(models.TextChoices):
    VIP = "vip", _("VIP")
    STAFF = "staff", _("Staff")
    VISITOR = "visitor", _("Professional visitor")


def new_visitor_reference() -> str:
    # 8 characters of Crockford base32: ~1.1e12 values, short enough to read out on the phone.
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "V" + "".join(secrets.choice(alphabet) for _ in range(8))


class VisitorQuerySet(models.QuerySet):
    def with_id_number(self, number: str):
        return self.filter(id_number_index=crypto.blind_index(number))


class Visitor(models.Model):
    class Status(models.TextChoices):
        SAVED = "saved", _("Saved")
        SUBMITTED = "submitted", _("Submitted")
        PENDING_LOCK = "pending_lock", _("Awaiting lock")
        PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
        PENDING_REVIEW = "pending_review", _("Awaiting review")
        REVIEW_PASSED = "review_passed", _("Review passed")
        REVIEW_FAILED = "review_failed", _("Review failed")
        CANCELLED = "cancelled", _("Cancelled")

    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="visitors",
        verbose_name=_("edition"),
    )
    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, related_name="visitors", verbose_name=_("unit")
    )
    reference = models.CharField(
        _("reference number"),
        max_length=12,
        unique=True,
        default=new_visitor_reference,
        editable=False,
    )
    person_type = models.CharField(_("person type"), max_length=20, choices=PersonType.choices)
    name = models.CharField(_("full name"), max_length=100)
    id_type = models.CharField(_("ID type"), max_length=24, choices=IdType.choices)
    # The ID number itself is never stored in clear: see ciie_portal.crypto.
    id_number_encrypted = models.TextField(_("ID number (encrypted)"), editable=False)
    id_number_index = models.CharField(max_length=64, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=32, editable=False)
    label = models.CharField(_("label"), max_length=8, choices=Label.choices, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.SAVED, db_index=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = VisitorQuerySet.as_manager()

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")
        ordering = ["unit", "created_at"]
        constraints = [
            # One ID number is one visitor per edition, across all units.
            models.UniqueConstraint(
                fields=["edition", "id_number_index"], name="visitor_id_number_once_per_edition"
            ),
        ]
        indexes = [models.Index(fields=["edition", "status", "label"])]

    def __str__(self):
        return f"{self.name} ({self.id_number_masked})"

    @property
    def id_number(self) -> str:
        return crypto.decrypt(self.id_number_encrypted) if self.id_number_encrypted else ""

    @id_number.setter
    def id_number(self, value: str) -> None:
        sealed = crypto.seal(value)
        self.id_number_encrypted = sealed.encrypted
        self.id_number_index = sealed.index
        self.id_number_masked = sealed.masked


_V = Visitor.Status
VISITOR_STATES = StateMachine(
    name="visitor",
    choices=Visitor.Status,
    moves={
        # Saved visitors stay editable; submitting sends them to the delegation, or, for
        # holders of last edition's credential who reuse it, to 待锁定 with their old label.
        _V.SAVED: {_V.SUBMITTED, _V.PENDING_LOCK},
        # Locking: professional visitors pay first; VIP and staff go straight to review.
        _V.SUBMITTED: {_V.PENDING_PAYMENT, _V.PENDING_REVIEW, _V.CANCELLED},
        _V.PENDING_LOCK: {_V.PENDING_PAYMENT, _V.PENDING_REVIEW, _V.CANCELLED},
        _V.PENDING_PAYMENT: {_V.PENDING_REVIEW, _V.CANCELLED},
        _V.PENDING_REVIEW: {_V.REVIEW_PASSED, _V.REVIEW_FAILED, _V.CANCELLED},
        _V.REVIEW_PASSED: {_V.CANCELLED},
        _V.REVIEW_FAILED: set(),  # refundable; final
        _V.CANCELLED: set(),  # 注销: refundable; final
    },
)


class DeliveryAddress(models.Model):
    """Where credentials are posted (证件快递常用地址): at most five per unit, one default."""

    MAX_PER_UNIT = 5

    unit = models.ForeignKey(
        Unit, on_delete=models.CASCADE, related_name="addresses", verbose_name=_("unit")
    )
    recipient = models.CharField(_("recipient"), max_length=50)
    mobile = models.CharField(_("mobile"), max_length=20)
    province = models.CharField(_("province"), max_length=6, blank=True)
    city = models.CharField(_("city"), max_length=6, blank=True)
    district = models.CharField(_("district"), max_length=6, blank=True)
    address = models.CharField(_("address"), max_length=200)
    postcode = models.CharField(_("postcode"), max_length=10)
    is_default = models.BooleanField(_("default address"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("delivery address")
        verbose_name_plural = _("delivery addresses")
        ordering = ["unit", "-is_default", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit"], condition=Q(is_default=True), name="one_default_address_per_unit"
            ),
        ]

    def __str__(self):
        return f"{self.recipient} {self.address}"
