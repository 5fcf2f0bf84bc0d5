import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import OrderBy, Q
from django.db.models.functions import Collate, Upper
from django.db.models.indexes import IndexExpression
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from ciie_portal import crypto
from ciie_portal.choices import Region, UnitCategory
from ciie_portal.countries import CountryField
from ciie_portal.read_cache import WatchedQuerySet
from ciie_portal.states import StateMachine

# An index on ``OpClass(expression)`` is written ``(expression) opclass``: what
# django.contrib.postgres's AppConfig.ready() registers, without installing that app (none of
# its fields or lookups is used). Only ``Visitor.Meta.indexes`` (the trigram index) needs it.
IndexExpression.register_wrappers(OrderBy, OpClass, Collate)


class User(AbstractUser):
    """Everyone who logs in. Unit contacts log in with their USCC (or account number)."""

    mobile = models.CharField(_("mobile"), max_length=20, blank=True)
    #: Raised by "sign out of my other sessions" (``registration.account``): it is part of the
    #: session auth hash, so every session signed in before no longer matches and is signed out.
    session_generation = models.PositiveIntegerField(default=0, editable=False)

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def _get_session_auth_hash(self, secret=None):
        # Django's hash covers only the password (and so signs sessions out when it changes);
        # the generation adds "sign out everywhere else" without a new password. Generation 0
        # keeps Django's own hash, so no session was signed out by this field's arrival.
        if not self.session_generation:
            return super()._get_session_auth_hash(secret=secret)
        return salted_hmac(
            "registration.User.session_auth_hash",
            f"{self.password}:{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


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
    recommendation_code = models.CharField(_("recommendation code"), max_length=20, blank=True)
    invitation_code = models.CharField(_("invitation code"), max_length=20, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    # 单位信息
    country = CountryField(_("country or region"), blank=True)
    province = models.CharField(_("province"), max_length=6, blank=True)
    city = models.CharField(_("city"), max_length=6, blank=True)
    district = models.CharField(_("district"), max_length=6, blank=True)
    street = models.CharField(_("registered address"), max_length=200, blank=True)
    capital_band = models.CharField(_("registered capital"), max_length=16, blank=True)
    nature = models.CharField(_("unit nature"), max_length=24, blank=True)
    industry = models.CharField(_("industry (GB/T 4754-2017)"), max_length=4, blank=True)
    revenue = models.DecimalField(
        _("last year's revenue (10k USD)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    import_amount = models.DecimalField(
        _("last year's imports (10k USD)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    export_amount = models.DecimalField(
        _("last year's exports (10k USD)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    import_methods = models.JSONField(_("import methods"), default=list, blank=True)
    is_listed = models.BooleanField(_("listed company"), default=False)
    contact_name = models.CharField(_("contact person"), max_length=50, blank=True)
    contact_title = models.CharField(_("title"), max_length=8, blank=True)
    contact_mobile = models.CharField(_("contact's mobile"), max_length=20, blank=True)
    contact_department = models.CharField(_("department"), max_length=50, blank=True)
    contact_position = models.CharField(_("position"), max_length=50, blank=True)
    contact_phone = models.CharField(_("telephone"), max_length=30, blank=True)
    contact_email = models.EmailField(_("email"), blank=True)
    licence = models.FileField(
        _("qualification document"), upload_to="unit-documents/", blank=True, max_length=200
    )
    # 采购意向
    interest_areas = models.JSONField(_("exhibition areas of interest"), default=list, blank=True)
    interest_zones = models.JSONField(_("special zones of interest"), default=list, blank=True)
    purchase_1y = models.CharField(_("intended imports in 1 year"), max_length=16, blank=True)
    purchase_5y = models.CharField(_("intended imports in 5 years"), max_length=16, blank=True)
    info_saved_at = models.DateTimeField(_("unit information saved"), null=True, blank=True)
    previous = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("previous edition's unit"),
    )
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    # 交易团代付: set by a secretary (delegations.paid_by); visitors added later inherit it.
    paid_by_delegation = models.BooleanField(_("paid by the delegation"), default=False)
    # 一键注册: SHA-256 of the nonce in the unit's one-click registration link (only the latest
    # link holds it); emptied by the one use the link allows (registration.returning).
    one_click_nonce = models.CharField(max_length=64, blank=True, default="", editable=False)
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
                fields=["edition", "account_number"],
                condition=~Q(account_number=""),
                name="unit_account_number_once_per_edition",
            ),
        ]
        indexes = [
            models.Index(fields=["edition", "delegation", "status"]),
            # Units submitted per minute and per hour (the operations page's charts).
            models.Index(fields=["edition", "submitted_at"], name="unit_edition_submitted"),
        ]
        permissions = [("view_all_units", _("Can see the units of every delegation"))]

    def __str__(self):
        return self.name

    @property
    def login_name(self) -> str:
        return self.uscc or self.account_number

    @property
    def is_editable(self) -> bool:
        """Unit information can change until it is submitted, and again when returned."""
        return self.status in (self.Status.DRAFT, self.Status.RETURNED)


class UnitDraft(models.Model):
    """What the unit form held at its last autosave (every 5 s), so nothing typed is lost."""

    unit = models.OneToOneField(Unit, on_delete=models.CASCADE, related_name="draft")
    data = models.JSONField(default=dict)
    saved_at = models.DateTimeField()

    class Meta:
        verbose_name = _("unit form draft")
        verbose_name_plural = _("unit form drafts")

    def __str__(self):
        return f"{self.unit} @ {self.saved_at:%H:%M:%S}"


class VerificationCode(models.Model):
    """A one-time code sent by SMS or email. Only its hash is stored."""

    class Purpose(models.TextChoices):
        SIGNUP = "signup", _("Registration")
        PASSWORD_RESET = "password_reset", _("Password reset")
        RETURNING = "returning", _("Returning visitor verification")
        ACCOUNT_MOBILE = "account_mobile", _("New mobile number of an account")
        ACCOUNT_EMAIL = "account_email", _("New email address of an account")

    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    channel = models.CharField(max_length=8, default="sms")
    #: Where the code went; empty for the stand-in row of a request that sent nothing (an
    #: unknown login name: see ``verification.code_send_for_account``).
    target = models.CharField(max_length=254, db_index=True)
    #: The login name a code for an account was asked for (password reset, returning visitor);
    #: empty for sign-up codes, which go to the mobile number typed.
    account_name = models.CharField(max_length=150, blank=True, default="")
    code_hash = models.CharField(max_length=128)
    ip_address = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("verification code")
        verbose_name_plural = _("verification codes")
        indexes = [
            models.Index(fields=["target", "purpose", "created_at"]),
            models.Index(fields=["account_name", "created_at"]),
        ]

    def __str__(self):
        return f"{self.get_purpose_display()} → {self.target}"


class VerificationLock(models.Model):
    """One row per mobile number, email address, login name or client address that codes were
    asked for, locked (``SELECT … FOR UPDATE``) while a code request is counted and recorded, so
    that requests at the same moment are counted one after the other. The key is a keyed hash:
    the table holds no number or address."""

    key = models.CharField(max_length=64, primary_key=True)

    class Meta:
        verbose_name = _("verification code lock")
        verbose_name_plural = _("verification code locks")

    def __str__(self):
        return self.key


class RecommendationCode(models.Model):
    """推荐码: given out by a partner organisation; optional at registration."""

    edition = models.ForeignKey(
        "ciie_portal.Edition", on_delete=models.CASCADE, verbose_name=_("edition")
    )
    code = models.CharField(_("code"), max_length=20)
    partner = models.CharField(_("partner organisation"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("recommendation code")
        verbose_name_plural = _("recommendation codes")
        constraints = [
            models.UniqueConstraint(fields=["edition", "code"], name="recommendation_code_unique")
        ]

    def __str__(self):
        return f"{self.code} ({self.partner})"


class InvitationCode(models.Model):
    """邀请码: a delegation's code; a unit that enters it joins that delegation."""

    edition = models.ForeignKey(
        "ciie_portal.Edition", on_delete=models.CASCADE, verbose_name=_("edition")
    )
    code = models.CharField(_("code"), max_length=20)
    delegation = models.ForeignKey(
        "delegations.Delegation", on_delete=models.CASCADE, verbose_name=_("delegation")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("invitation code")
        verbose_name_plural = _("invitation codes")
        constraints = [
            models.UniqueConstraint(fields=["edition", "code"], name="invitation_code_unique")
        ]

    def __str__(self):
        return self.code


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


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class JobCategory(models.TextChoices):
    MANAGEMENT = "management", _("Management")
    PURCHASING = "purchasing", _("Purchasing")
    SALES = "sales", _("Sales")
    TECHNICAL = "technical", _("Technical")
    ADMINISTRATION = "administration", _("Administration")
    OTHER = "other", _("Other")


class Pickup(models.TextChoices):
    COURIER = "courier", _("By courier (free)")
    DELEGATION = "delegation", _("Collected by the delegation")


# Which documents each person type may register with.
ID_TYPES_BY_PERSON = {
    "mainland": ["resident_id"],
    "hmt": ["home_return_permit", "taiwan_permit", "hmt_residence_permit"],
    "foreign": ["passport", "foreigner_pr_card"],
    "overseas_chinese": ["passport"],
}


def new_visitor_reference() -> str:
    # 8 characters of Crockford base32: ~1.1e12 values, short enough to read out on the phone.
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "V" + "".join(secrets.choice(alphabet) for _ in range(8))


class ConsentBy(models.TextChoices):
    """Who ticked a visitor's consent to the processing of sensitive personal information."""

    CONTACT = "contact", _("the unit contact")
    COLLEAGUE = "colleague", _("the visitor (joined by link)")


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

    # No index of their own: the composite indexes below begin with the edition, and
    # (unit, status) with the unit, and serve every lookup by either. The visitors table takes
    # the season's writes, and every index is written on each insert and each change of state.
    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="visitors",
        verbose_name=_("edition"),
        db_index=False,
    )
    unit = models.ForeignKey(
        Unit,
        on_delete=models.PROTECT,
        related_name="visitors",
        verbose_name=_("unit"),
        db_index=False,
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
    # No index of its own: every lookup by state is within an edition or a unit, which the
    # composite indexes serve (migration 0019).
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.SAVED
    )
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    nationality = CountryField(_("nationality / region"), blank=True)
    surname_en = models.CharField(_("surname (English)"), max_length=50, blank=True)
    given_name_en = models.CharField(_("given name (English)"), max_length=50, blank=True)
    permit_name = models.CharField(_("name on the entry permit"), max_length=100, blank=True)
    job_category = models.CharField(
        _("job category"), max_length=16, choices=JobCategory.choices, blank=True
    )
    position = models.CharField(_("position"), max_length=50, blank=True)
    mobile = models.CharField(_("mobile"), max_length=20, blank=True)
    email = models.EmailField(_("email"), blank=True)
    entry_period = models.ForeignKey(
        "ciie_portal.EntryPeriod",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visitors",
        verbose_name=_("entry days"),
        # (edition, entry_period) serves the lookups; only deleting an entry period (PROTECT,
        # before an edition opens) reads the visitors without one.
        db_index=False,
    )
    pickup = models.CharField(
        _("how the credential is received"), max_length=12, choices=Pickup.choices, blank=True
    )
    address = models.ForeignKey(
        "DeliveryAddress",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="visitors",
        verbose_name=_("delivery address"),
    )
    photo = models.FileField(_("photo"), upload_to="visitor-photos/", blank=True, max_length=200)
    pledged_at = models.DateTimeField(_("truthfulness pledge"), null=True, blank=True)
    # PIPL art. 29: separate consent to processing the ID document and the face photo, given
    # by the contact for the visitor or by the colleague joining by link (registration.consent).
    sensitive_consent_at = models.DateTimeField(
        _("consent to sensitive personal information"), null=True, blank=True
    )
    sensitive_consent_by = models.CharField(
        _("sensitive consent given by"), max_length=12, choices=ConsentBy.choices, blank=True
    )
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    # 单位人员: joined through the unit's invite link, waiting for the contact's approval.
    join_pending = models.BooleanField(_("awaiting the unit's approval"), default=False)
    previous = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("previous edition's visitor"),
    )
    original_label = models.CharField(
        _("label at the previous edition"), max_length=8, choices=Label.choices, blank=True
    )
    needs_new_credential = models.BooleanField(
        _("needs a new credential"),
        default=False,
        help_text=_("The label was upgraded: last edition's credential cannot be reused."),
    )
    paid_by_delegation = models.BooleanField(_("paid by the delegation"), default=False)
    reuse_eligible = models.BooleanField(
        _("may reuse last edition's credential"),
        default=False,
        help_text=_("Held last edition's credential and passed its review."),
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
        indexes = [
            # By state and label, with sex and date of birth beside each entry: the organiser's
            # list filtered by those four is counted from the index alone (an index-only scan
            # where the heap would be read for a third of the edition).
            models.Index(
                fields=["edition", "status", "label"],
                include=["sex", "birth_date"],
                name="visitor_edition_status_label",
            ),
            models.Index(fields=["unit", "status"]),
            models.Index(fields=["edition", "person_type"]),
            models.Index(fields=["edition", "entry_period"]),
            models.Index(fields=["edition", "pickup"]),
            models.Index(fields=["edition", "created_at"]),
            models.Index(fields=["name"]),
            # The admin's list, newest first within an edition (``VisitorAdmin.ordering``).
            models.Index(fields=["edition", "id"], name="visitor_edition_newest"),
            # Its filters without an index above, counted within an edition.
            models.Index(fields=["edition", "label"], name="visitor_edition_label"),
            models.Index(fields=["edition", "sex"], name="visitor_edition_sex"),
            models.Index(fields=["edition", "birth_date"], name="visitor_edition_birth_date"),
            models.Index(fields=["edition", "paid_by_delegation"], name="visitor_edition_paid_by"),
            models.Index(fields=["edition", "reuse_eligible"], name="visitor_edition_reuse"),
            models.Index(
                fields=["edition", "needs_new_credential"], name="visitor_edition_new_credential"
            ),
            # Visitors submitted per minute and per hour (the operations page's charts).
            models.Index(fields=["edition", "submitted_at"], name="visitor_edition_submitted"),
            # The admin's search (``icontains``: UPPER(…) LIKE UPPER('%word%')) in the name and
            # reference number. PostgreSQL only (pg_trgm): migration 0011 skips it elsewhere.
            GinIndex(
                OpClass(Upper("name"), name="gin_trgm_ops"),
                OpClass(Upper("reference"), name="gin_trgm_ops"),
                name="visitor_search_trgm",
            ),
        ]

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
        # Back to 待支付 only when a secretary undoes 交易团代付 (delegations.paid_by) for a
        # professional visitor who has no order line and no review result yet.
        _V.PENDING_REVIEW: {
            _V.REVIEW_PASSED,
            _V.REVIEW_FAILED,
            _V.CANCELLED,
            _V.PENDING_PAYMENT,
        },  # fmt: skip
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


class WatchlistEntry(models.Model):
    """关注名单: a person security wants to know about, whatever the edition.

    Matched when a visitor is saved (``registration.watchlist``), by the blind index of the ID
    number or by name and date of birth. The ID number itself is never stored, not even masked.
    Only security learns of a match; the unit never does.
    """

    id_number_index = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    name = models.CharField(_("full name"), max_length=100, blank=True)
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300)
    expires_on = models.DateField(
        _("expires on"),
        null=True,
        blank=True,
        help_text=_("Not matched after this day (Beijing time). Empty: never expires."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("added by"),
        editable=False,
    )
    created_at = models.DateTimeField(_("added"), auto_now_add=True)

    objects = WatchedQuerySet.as_manager()  # what a visitor's save checks first (watchlist)

    class Meta:
        verbose_name = _("watchlist entry")
        verbose_name_plural = _("watchlist")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # An ID number, or a name with a date of birth: something to match on.
            models.CheckConstraint(
                condition=~Q(id_number_index="") | (~Q(name="") & Q(birth_date__isnull=False)),
                name="watchlist_entry_matchable",
            ),
        ]
        indexes = [models.Index(fields=["birth_date", "name"])]

    def __str__(self):
        return f"{self.name or '—'} · {self.reason}"


class WatchlistMatch(models.Model):
    """A visitor found on the watchlist: the mark security sees (never the unit)."""

    class On(models.TextChoices):
        ID_NUMBER = "id_number", _("ID number")
        NAME_BIRTH_DATE = "name_birth_date", _("Name and date of birth")

    entry = models.ForeignKey(
        WatchlistEntry,
        on_delete=models.PROTECT,
        related_name="matches",
        verbose_name=_("watchlist entry"),
    )
    visitor = models.ForeignKey(
        Visitor,
        on_delete=models.CASCADE,
        related_name="watchlist_matches",
        verbose_name=_("visitor"),
    )
    matched_on = models.CharField(_("matched on"), max_length=16, choices=On.choices)
    matched_at = models.DateTimeField(_("matched"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("watchlist match")
        verbose_name_plural = _("watchlist matches")
        ordering = ["-matched_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["entry", "visitor"], name="one_match_per_entry_visitor"
            ),
        ]

    def __str__(self):
        return f"{self.visitor} · {self.entry.reason}"


class ConsentRecord(models.Model):
    """A unit account's acceptance of one version of the privacy policy: when, from which
    address and browser (registration.consent). Written once, never changed."""

    class Kind(models.TextChoices):
        POLICY = "policy", _("privacy policy")

    USER_AGENT_MAX = 300

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="consents", verbose_name=_("account")
    )
    policy = models.ForeignKey(
        "ciie_portal.PrivacyPolicy",
        on_delete=models.PROTECT,
        related_name="consents",
        verbose_name=_("privacy policy"),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.POLICY)
    accepted_at = models.DateTimeField(_("accepted"), db_index=True)
    ip_address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=USER_AGENT_MAX, blank=True)

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-accepted_at", "-pk"]
        indexes = [models.Index(fields=["user", "policy"])]

    def __str__(self):
        return f"{self.user} · {self.policy} · {self.accepted_at:%Y-%m-%d %H:%M}"


def new_export_token() -> str:
    return secrets.token_urlsafe(24)


class ExportSubscription(models.Model):
    """A staff member's subscription to one of their lists by email (registration.exports):
    daily, or weekly on a weekday, from 07:00 Beijing time; built at send time with the
    subscriber's own permissions and scope."""

    class Frequency(models.TextChoices):
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly")

    user = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        related_name="export_subscriptions",
        verbose_name=_("account"),
    )
    export_key = models.CharField(_("export"), max_length=50)
    frequency = models.CharField(_("frequency"), max_length=10, choices=Frequency.choices)
    # Monday = 0 … Sunday = 6 (``date.weekday()``); only for weekly subscriptions.
    weekday = models.PositiveSmallIntegerField(_("weekday"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    inactive_reason = models.CharField(_("why inactive"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=10, default="zh-hans")
    # The portal's address the subscriber used, for the links of the emails.
    base_url = models.CharField(_("portal address"), max_length=200, blank=True)
    # The secret of the signed unsubscribe link; made new when an inactive one is renewed.
    token = models.CharField(max_length=64, default=new_export_token, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # The Beijing date of the last period claimed for sending, and when its email went.
    last_period = models.DateField(_("last period"), null=True, blank=True)
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("scheduled export")
        verbose_name_plural = _("scheduled exports")
        ordering = ["user", "export_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "export_key"], name="one_subscription_per_export"
            )
        ]
        indexes = [models.Index(fields=["active", "frequency", "last_period"])]

    def __str__(self):
        return f"{self.user} · {self.export_key} · {self.get_frequency_display()}"
