from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import UnitCategory
from .names import EnglishNamed
from .read_cache import WatchedQuerySet
from .records import GuardedModel, GuardedQuerySet

CENT = Decimal("0.01")


class NoCurrentEdition(Exception):
    pass


class EditionQuerySet(WatchedQuerySet):
    def current(self) -> "Edition":
        try:
            return self.get(is_current=True)
        except Edition.DoesNotExist:
            raise NoCurrentEdition(
                "No edition is marked current. An organiser sets one in the admin "
                "(or run `python manage.py demo_load`)."
            ) from None


class Edition(EnglishNamed, models.Model):
    """One expo (届): its dates, fees, deadlines and rules. Exactly one is current."""

    number = models.PositiveSmallIntegerField(_("edition number"), unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(
        _("name in English"),
        max_length=100,
        blank=True,
        help_text=_("Shown to visitors who use the portal in English; empty: the Chinese name."),
    )
    starts_on = models.DateField(_("expo opens"))
    ends_on = models.DateField(_("expo closes"))
    registration_opens_at = models.DateTimeField(_("registration opens"))
    registration_closes_at = models.DateTimeField(_("registration closes"))
    transfer_deadline = models.DateTimeField(
        _("bank transfer deadline"),
        help_text=_("Transfers must be made and their vouchers uploaded by then."),
    )
    online_payment_deadline = models.DateTimeField(
        _("QR and B2B payment deadline"),
    )
    order_payment_window = models.DurationField(
        _("order payment window"),
        default=timedelta(minutes=30),
        help_text=_("An unpaid order closes by itself after this time."),
    )
    # Payment reminders (credentials.orders.reminders) and finance's grace for bank transfers
    # (payments.grace).
    reminder_before_order_expiry = models.DurationField(
        _("reminder before an order's payment window ends"),
        default=timedelta(minutes=10),
        help_text=_("The unit gets an SMS and an email this long before an unpaid order closes."),
    )
    reminder_before_deadline = models.DurationField(
        _("reminder before a payment method's deadline"),
        default=timedelta(days=2),
        help_text=_(
            "The unit gets an SMS and an email this long before the bank transfer deadline and "
            "the QR and B2B payment deadline, for each unpaid order still open then."
        ),
    )
    transfer_grace_days = models.PositiveSmallIntegerField(
        _("days finance has after the bank transfer deadline"),
        default=3,
        help_text=_(
            "An order whose remittance was submitted before the transfer deadline stays open "
            "until finance decides, for at most this many days after the deadline; a transfer "
            "booked by the bank on or before the deadline still pays its order within them."
        ),
    )
    reuse_fee_percent = models.DecimalField(
        _("credential reuse fee (percent of the credential fee)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("50.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    default_vip_quota = models.PositiveIntegerField(
        _("default VIP quota per delegation"), default=100
    )
    default_staff_quota = models.PositiveIntegerField(
        _("default staff quota per delegation"), default=100
    )
    auto_approve_categories = models.JSONField(
        _("unit categories approved automatically"), default=list, blank=True
    )
    invitation_code_categories = models.JSONField(
        _("unit categories that need an invitation code"), default=list, blank=True
    )
    review_days_domestic = models.PositiveSmallIntegerField(
        _("visitor review days (domestic)"), default=7
    )
    review_days_foreign = models.PositiveSmallIntegerField(
        _("visitor review days (foreign)"), default=15
    )
    is_current = models.BooleanField(_("current edition"), default=False)
    # The end of an edition: its personal data is kept this long after the expo closes, then
    # shredded (ciie_portal.retention); the export made first is kept for archive_days.
    retention_days = models.PositiveIntegerField(
        _("personal data kept (days after the expo)"),
        default=365,
        help_text=_("After this many days the edition's personal data is due to be shredded."),
    )
    archive_days = models.PositiveIntegerField(
        _("export kept before shredding (days)"),
        default=90,
        help_text=_("The encrypted export made before a shred is deleted after this many days."),
    )
    shredded_at = models.DateTimeField(_("personal data shredded"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = EditionQuerySet.as_manager()

    class Meta:
        verbose_name = _("edition")
        verbose_name_plural = _("editions")
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"], condition=Q(is_current=True), name="one_current_edition"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="edition_dates_in_order"
            ),
            models.CheckConstraint(
                condition=Q(registration_closes_at__gt=models.F("registration_opens_at")),
                name="edition_registration_in_order",
            ),
        ]
        permissions = [
            # 运行监控 (ciie_portal/admin_ops.py): the page, with the parts one may act on…
            ("view_operations", _("Can see the operations page")),
            # … and all of it, for the whole portal (organisers).
            ("view_all_operations", _("Can see the whole operations page")),
        ]

    def __str__(self):
        return self.display_name

    def clean(self):
        errors = {}
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            errors["ends_on"] = _("The expo cannot close before it opens.")
        if (
            self.registration_opens_at
            and self.registration_closes_at
            and self.registration_closes_at <= self.registration_opens_at
        ):
            errors["registration_closes_at"] = _("Registration must close after it opens.")
        valid = set(UnitCategory.values)
        for field in ("auto_approve_categories", "invitation_code_categories"):
            value = getattr(self, field) or []
            if not isinstance(value, list) or not set(value) <= valid:
                errors[field] = _("Choose unit categories from the list.")
        if errors:
            raise ValidationError(errors)

    def reuse_fee(self, fee: Decimal) -> Decimal:
        """The fee for reusing last edition's credential: a percentage, rounded to the fen."""
        return (fee * self.reuse_fee_percent / Decimal(100)).quantize(CENT, ROUND_HALF_UP)

    def is_auto_approved(self, category: str) -> bool:
        return category in (self.auto_approve_categories or [])

    def needs_invitation_code(self, category: str) -> bool:
        return category in (self.invitation_code_categories or [])

    def payment_deadline(self, method: str):
        """Deadline for a payment method: bank transfers close earlier than QR and B2B."""
        return self.transfer_deadline if method == "transfer" else self.online_payment_deadline

    @property
    def transfer_grace_ends(self):
        """Until when finance may still accept a bank transfer made in time (the transfer
        deadline plus ``transfer_grace_days``)."""
        return self.transfer_deadline + timedelta(days=self.transfer_grace_days)


class EntryPeriod(EnglishNamed, models.Model):
    """Days a visitor can choose to enter (入场日期), each with its credential fee."""

    edition = models.ForeignKey(
        Edition, on_delete=models.CASCADE, related_name="entry_periods", verbose_name=_("edition")
    )
    name = models.CharField(_("name"), max_length=50)
    name_en = models.CharField(
        _("name in English"),
        max_length=50,
        blank=True,
        help_text=_("Shown to visitors who use the portal in English; empty: the Chinese name."),
    )
    first_day = models.DateField(_("first day"))
    last_day = models.DateField(_("last day"))
    fee = models.DecimalField(
        _("credential fee (CNY)"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    objects = WatchedQuerySet.as_manager()  # kept in the shared cache (read_cache)

    class Meta:
        verbose_name = _("entry period")
        verbose_name_plural = _("entry periods")
        ordering = ["edition", "position", "first_day"]
        constraints = [
            models.UniqueConstraint(
                fields=["edition", "first_day", "last_day"], name="entry_period_unique_days"
            ),
            models.CheckConstraint(
                condition=Q(last_day__gte=models.F("first_day")), name="entry_period_days_in_order"
            ),
            models.CheckConstraint(condition=Q(fee__gte=0), name="entry_period_fee_not_negative"),
        ]

    def __str__(self):
        return f"{self.display_name} ({self.first_day:%m-%d}–{self.last_day:%m-%d})"

    def clean(self):
        if self.first_day and self.last_day and self.last_day < self.first_day:
            raise ValidationError({"last_day": _("The last day cannot be before the first day.")})
        edition = getattr(self, "edition", None)
        if (
            edition
            and self.first_day
            and self.last_day
            and (self.first_day < edition.starts_on or self.last_day > edition.ends_on)
        ):
            raise ValidationError(_("Entry days must lie within the expo's dates."))


class AuditEntry(GuardedModel):
    """One state change or action anywhere in the portal: who, when, on what, from, to, why.

    Written only through ``ciie_portal.audit``; never edited or deleted (``records``: nothing
    is mutable; on PostgreSQL a trigger refuses every UPDATE and DELETE). The actor is
    protected: a user who appears in the log is deactivated, not deleted.
    """

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("performed by"),
    )
    actor_repr = models.CharField(_("performed by (as recorded)"), max_length=150)
    # No index of its own: (content_type, object_id, created_at) below begins with it.
    content_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, verbose_name=_("object type"), db_index=False
    )
    object_id = models.CharField(_("object id"), max_length=64)
    object_repr = models.CharField(_("object"), max_length=200)
    action = models.CharField(_("action"), max_length=64)
    from_state = models.CharField(_("from state"), max_length=32, blank=True)
    to_state = models.CharField(_("to state"), max_length=32, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    objects = GuardedQuerySet.as_manager()  # append-only: nothing mutable

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["content_type", "object_id", "created_at"])]

    def __str__(self):
        return (
            f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_repr} {self.action} {self.object_repr}"
        )


class Notice(models.Model):
    """An SMS or email sent (or to be sent) for one event; ``key`` makes it happen once."""

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("Email")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    event = models.CharField(_("event"), max_length=64, db_index=True)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=254)
    template = models.CharField(_("template"), max_length=64)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    language = models.CharField(_("language"), max_length=10, default="zh-hans")
    # The edition current when it was queued: its recipient and parameters are shredded with
    # that edition's personal data (ciie_portal.retention).
    edition = models.ForeignKey(
        Edition,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("edition"),
        db_index=False,  # (edition, sent_at) serves its lookups
    )
    # Looked up by state with the next attempt's time (the index below), never alone.
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # When a delivery task was last queued for it: a queued notice whose task has not come for
    # a while lost its message and is queued again (ciie_portal.notices.services).
    dispatched_at = models.DateTimeField(_("task queued"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("sending since"), null=True, blank=True)
    # The worker sending it and until when it may: after that the notice is resolved (did it
    # go?) before anybody sends it again.
    lease_owner = models.CharField(_("sent by worker"), max_length=100, blank=True)
    lease_until = models.DateTimeField(_("worker holds it until"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(
                fields=["lease_until"],
                name="notice_sending_lease",
                condition=Q(status="sending"),
            ),
            # Notices sent per minute and per hour (the operations page's charts).
            models.Index(fields=["edition", "sent_at"], name="notice_edition_sent"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} {self.template} → {self.recipient}"


class OutboxMessage(models.Model):
    """A task to queue, written in the same transaction as the change that asks for it.

    After the commit it is published to the broker at once; if that fails (the broker is down),
    the relay publishes it within seconds of the broker coming back. Tasks are safe to run
    twice, so a message published twice (the "published" mark was lost) does no harm.
    """

    task = models.CharField(_("task"), max_length=200)
    args = models.JSONField(_("arguments"), default=list, blank=True)
    kwargs = models.JSONField(_("keyword arguments"), default=dict, blank=True)
    #: The Celery message headers it is published with: the request id of the request that
    #: queued it (ciie_portal.logs.task_headers), so that the task's log lines carry it.
    headers = models.JSONField(_("message headers"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    publish_after = models.DateTimeField(_("publish after"))
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("failed publishing attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["-pk"]
        indexes = [
            models.Index(
                fields=["publish_after"],
                name="outbox_unpublished",
                condition=Q(published_at__isnull=True),
            ),
            models.Index(fields=["published_at"], name="outbox_published"),
        ]

    def __str__(self):
        return f"{self.task}{tuple(self.args)}"


class SideEvent(EnglishNamed, models.Model):
    """配套活动: a side event of the expo, listed to professional visitors when published.

    With a capacity it takes sign-ups (registration.side_events): units sign up their
    visitors within the sign-up window; beyond the capacity they wait in a list, in order.
    Without one it is only listed."""

    class Requires(models.TextChoices):
        """How far a visitor must be for the event to take them."""

        SUBMITTED = "submitted", _("Submitted (at least)")
        REVIEWED = "reviewed", _("Passed the visitor review")

    edition = models.ForeignKey(
        Edition, on_delete=models.CASCADE, related_name="side_events", verbose_name=_("edition")
    )
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(
        _("name in English"),
        max_length=200,
        blank=True,
        help_text=_("Shown to visitors who use the portal in English; empty: the Chinese name."),
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    venue = models.CharField(_("venue"), max_length=200, blank=True)
    organiser = models.CharField(_("organiser"), max_length=200)
    contact = models.CharField(_("contact"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    open_to_visitors = models.BooleanField(
        _("open to professional visitors"),
        default=True,
        help_text=_("Published: listed to units, and open for sign-up within its window."),
    )
    # Sign-up (配套活动报名): all of it empty for an event that is only listed.
    capacity = models.PositiveIntegerField(
        _("places"),
        null=True,
        blank=True,
        help_text=_(
            "How many visitors may attend. Empty: the event takes no sign-ups. Sign-ups beyond "
            "it wait in a list and move up, in order, when a place is given back."
        ),
    )
    signup_opens_at = models.DateTimeField(_("sign-up opens"), null=True, blank=True)
    signup_closes_at = models.DateTimeField(_("sign-up closes"), null=True, blank=True)
    labels = models.JSONField(
        _("open to visitors labelled"),
        default=list,
        blank=True,
        help_text=_("None ticked: every visitor, labelled or not."),
    )
    signup_requires = models.CharField(
        _("visitors must be"),
        max_length=12,
        choices=Requires.choices,
        default=Requires.SUBMITTED,
    )
    needs_approval = models.BooleanField(
        _("sign-ups need the organiser's approval"),
        default=False,
        help_text=_(
            "Sign-ups then await approval; they hold their places meanwhile, so that no place "
            "is promised twice."
        ),
    )

    objects = WatchedQuerySet.as_manager()  # kept in the shared cache (read_cache)

    class Meta:
        verbose_name = _("side event")
        verbose_name_plural = _("side events")
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                name="side_event_ends_after_it_starts",
            ),
            # A capacity (sign-up taken) needs its window, in order.
            models.CheckConstraint(
                condition=Q(capacity__isnull=True)
                | Q(
                    signup_opens_at__isnull=False,
                    signup_closes_at__gt=models.F("signup_opens_at"),
                ),
                name="side_event_signup_window_in_order",
            ),
        ]

    def __str__(self):
        return self.display_name

    @property
    def takes_signups(self) -> bool:
        return self.capacity is not None

    def signup_open_at(self, moment) -> bool:
        """Whether units may sign up at ``moment``: published, with a capacity, within its
        window."""
        return (
            self.open_to_visitors
            and self.takes_signups
            and self.signup_opens_at is not None
            and self.signup_closes_at is not None
            and self.signup_opens_at <= moment < self.signup_closes_at
        )

    def clean(self):
        from .side_events import label_values

        errors = {}
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("The event must end after it starts.")
        if self.capacity is not None:
            if self.signup_opens_at is None:
                errors["signup_opens_at"] = _("An event with places needs its sign-up window.")
            if self.signup_closes_at is None:
                errors["signup_closes_at"] = _("An event with places needs its sign-up window.")
        if (
            self.signup_opens_at
            and self.signup_closes_at
            and self.signup_closes_at <= self.signup_opens_at
        ):
            errors["signup_closes_at"] = _("Sign-up must close after it opens.")
        elif self.signup_closes_at and self.starts_at and self.signup_closes_at > self.starts_at:
            errors["signup_closes_at"] = _("Sign-up must close by the time the event starts.")
        if not isinstance(self.labels, list) or not set(self.labels) <= set(label_values()):
            errors["labels"] = _("Choose labels from the list.")
        if errors:
            raise ValidationError(errors)


class PrivacyPolicy(models.Model):
    """One version of an edition's privacy policy (隐私政策), in Chinese and English. Published
    versions are never edited: a change is a new version, which units accept at their next
    sign-in (registration.consent)."""

    edition = models.ForeignKey(
        Edition,
        on_delete=models.PROTECT,
        related_name="privacy_policies",
        verbose_name=_("edition"),
    )
    version = models.PositiveSmallIntegerField(_("version"))
    text_zh = models.TextField(_("text (Chinese)"))
    text_en = models.TextField(_("text (English)"))
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = WatchedQuerySet.as_manager()  # kept in the shared cache (read_cache)

    class Meta:
        verbose_name = _("privacy policy")
        verbose_name_plural = _("privacy policies")
        ordering = ["edition", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["edition", "version"], name="one_policy_version_per_edition"
            ),
        ]

    def __str__(self):
        return f"{self.edition} · v{self.version}"


class AccessLogEntry(GuardedModel):
    """One display or download of a full ID number, a photo, a licence or a voucher by staff:
    who, what, whose, when and through which page (ciie_portal.access_log). Written once."""

    class What(models.TextChoices):
        ID_NUMBER = "id_number", _("full ID number")
        PHOTO = "photo", _("photo")
        LICENCE = "licence", _("business licence")
        VOUCHER = "voucher", _("remittance voucher")
        EXPORT = "export", _("export with full ID numbers")

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("staff member"),
    )
    what = models.CharField(_("what"), max_length=12, choices=What.choices)
    content_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, verbose_name=_("object type")
    )
    object_id = models.CharField(_("object id"), max_length=64, db_index=True)
    object_repr = models.CharField(_("whose"), max_length=200)
    via = models.CharField(_("where"), max_length=100)
    count = models.PositiveIntegerField(_("records"), default=1)

    objects = GuardedQuerySet.as_manager()

    class Meta:
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["content_type", "object_id", "at"])]

    def __str__(self):
        return f"{self.actor} · {self.get_what_display()} · {self.object_repr}"


class ShredJob(models.Model):
    """Shredding one edition's personal data (ciie_portal.retention): the export first, then each
    app's shredder in turn, in chunks, resumable; a worker holds its lease while it runs."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        EXPORTING = "exporting", _("Exporting")
        SHREDDING = "shredding", _("Shredding")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    edition = models.OneToOneField(
        Edition, on_delete=models.PROTECT, related_name="shred_job", verbose_name=_("edition")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    preview = models.JSONField(_("what it removes (counts)"), default=dict)
    progress = models.JSONField(_("progress per part"), default=dict)
    archive = models.CharField(_("export (encrypted)"), max_length=200, blank=True)
    archive_sha256 = models.CharField(_("export fingerprint (SHA-256)"), max_length=64, blank=True)
    archive_expires_at = models.DateTimeField(_("export deleted after"), null=True, blank=True)
    archive_deleted_at = models.DateTimeField(_("export deleted"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("started by"),
    )
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    lease_owner = models.CharField(max_length=100, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("personal data shred")
        verbose_name_plural = _("personal data shreds")
        ordering = ["-created_at"]
        permissions = [("shred_edition", _("Can export and shred an edition's personal data"))]

    def __str__(self):
        return f"{self.edition} · {self.get_status_display()}"
