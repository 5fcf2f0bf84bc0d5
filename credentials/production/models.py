"""证件制作: credentials, the production jobs that make them, and the print batches they go out in.

A **credential** is one visitor's card for one edition: a number, the card data as printed (a
snapshot, and its hash), the signed QR payload and the card PDF. At most one credential per
visitor is active (a partial unique index). When the card data changes (a label upgrade, a new
name, unit, photo or entry days) the credential is revoked — never edited — and the visitor
becomes producible again; the next production run makes the new one.

A **production job** makes the credentials of a selection of reviewed visitors in chunks, run by
one worker at a time (the worker holding its lease; a dead worker's job is taken over); each
chunk is one transaction and one **print batch**: the sheet PDF (four A6 cards on each A4 page)
and its manifest, fixed for good once made. A batch is then confirmed printed, or cancelled —
cancelling revokes its credentials, so a sheet that reached the printer anyway is refused at the
gate, and the visitors get new credentials (new numbers) on the next run. A revoked credential
keeps its print batch: a printed card that was revoked stays listed in its batch, as revoked.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ciie_portal.records import GuardedModel, GuardedQuerySet
from ciie_portal.states import StateMachine
from registration.models import Label

__all__ = [
    "CREDENTIAL_STATES",
    "JOB_STATES",
    "LATIN_NAME_PATTERN",
    "PRINT_BATCH_STATES",
    "Credential",
    "CredentialCounter",
    "NameScript",
    "PrintBatch",
    "ProductionJob",
]

# A name "in Latin script": Latin letters (with their accented forms), spaces and the
# punctuation of Western names. Everything else (汉字, Cyrillic, Arabic, …) is non-Latin. The
# same pattern filters in the database (PostgreSQL's ~ and Django's regex function on SQLite)
# and classifies in Python (credentials.production.cards.name_script), so both always agree.
LATIN_NAME_PATTERN = r"^[A-Za-zÀ-ÖØ-öø-ɏḀ-ỿ .,'’-]+$"


class PurgeableQuerySet(GuardedQuerySet):
    def purge(self):
        """Delete for good: only for removing a whole edition's data when its retention time
        is over (and for benchmarks that clean up after themselves)."""
        return models.QuerySet.delete(self)


class NameScript(models.TextChoices):
    """Names printed with Latin fonts and names that need CJK (or other) fonts."""

    LATIN = "latin", _("Latin script")
    NON_LATIN = "non_latin", _("Non-Latin script (e.g. Chinese)")


class ProductionJob(models.Model):
    """One run of batch production (证件制作) over a selection of reviewed visitors.

    Works in chunks of ``chunk_size`` visitors (a multiple of four: one A4 sheet holds four
    cards); after each chunk it counts its progress and looks at ``stop_requested``. It can be
    run again: visitors that already hold an active credential are skipped.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("production job", "Queued")
        RUNNING = "running", pgettext_lazy("production job", "Running")
        STOPPING = "stopping", pgettext_lazy("production job", "Stopping")
        STOPPED = "stopped", pgettext_lazy("production job", "Stopped")
        DONE = "done", pgettext_lazy("production job", "Done")
        FAILED = "failed", pgettext_lazy("production job", "Failed")

    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="production_jobs",
        verbose_name=_("edition"),
    )
    # The selection: reviewed visitors of the edition, optionally of one delegation (with its
    # sub-delegations), one label and one name script.
    delegation = models.ForeignKey(
        "delegations.Delegation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("delegation"),
        help_text=_("With its sub-delegations. Empty: every delegation."),
    )
    label = models.CharField(_("label"), max_length=8, choices=Label.choices, blank=True)
    script = models.CharField(
        _("name script"), max_length=10, choices=NameScript.choices, blank=True
    )
    chunk_size = models.PositiveSmallIntegerField(
        _("credentials per print batch"),
        default=100,
        validators=[MinValueValidator(4), MaxValueValidator(1000)],
        help_text=_("A multiple of 4: an A4 sheet holds four A6 cards."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    stop_requested = models.BooleanField(_("stop requested"), default=False)
    total = models.PositiveIntegerField(_("credentials to make"), default=0)
    done = models.PositiveIntegerField(_("credentials made"), default=0)
    batches = models.PositiveIntegerField(_("print batches made"), default=0)
    revoked = models.PositiveIntegerField(_("credentials revoked for changed card data"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Written after every chunk, with the lease.
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    # The lease: the one run (worker process) that works on the job now, and until when. It is
    # taken with a conditional UPDATE and renewed after every chunk; once ``lease_until`` has
    # passed, the worker is taken for dead and the job is handed to a new run. An empty owner
    # is a free lease (``lease_until`` then only delays the take-over a little, for the run
    # already queued). See credentials.production.services.
    lease_owner = models.CharField(
        _("worked on by"),
        max_length=100,
        blank=True,
        help_text=_("The worker process that holds the job's lease."),
    )
    lease_until = models.DateTimeField(_("lease ends"), null=True, blank=True)
    # Where the chunk being made writes its files (``credentials/<edition>/<batch number>``),
    # written before its first file: if its worker dies before the commit, the take-over deletes
    # them.
    chunk_folder = models.CharField(
        _("print batch being made"), max_length=200, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("production job")
        verbose_name_plural = _("production jobs")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(chunk_size__gte=4) & Q(chunk_size__lte=1000),
                name="production_job_chunk_size_range",
            ),
        ]

    def __str__(self):
        return _("Production job %(pk)s") % {"pk": self.pk}

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total:
            return 0
        return min(100, self.done * 100 // self.total)

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.STOPPED, self.Status.DONE, self.Status.FAILED)


class CredentialCounter(models.Model):
    """The last credential sequence number handed out in an edition.

    Numbers are reserved a chunk at a time in a short transaction of their own, so two jobs
    never wait for each other's rendering; a chunk that fails leaves a gap, never a duplicate
    (the unique constraints on Credential are the guarantee).
    """

    edition = models.OneToOneField(
        "ciie_portal.Edition", on_delete=models.PROTECT, related_name="+", verbose_name=_("edition")
    )
    last_sequence = models.PositiveIntegerField(_("last number reserved"), default=0)

    class Meta:
        verbose_name = _("credential number counter")
        verbose_name_plural = _("credential number counters")

    def __str__(self):
        return f"{self.edition_id}: {self.last_sequence}"


class PrintBatchQuerySet(PurgeableQuerySet):
    mutable_fields = frozenset({"status", "printed_at", "cancelled_at"})


class PrintBatch(GuardedModel):
    """One chunk of a production job as it goes to the printer: the sheet PDF (four A6 cards
    per A4 page) and the manifest CSV. Made once, never changed: only its status moves, to
    printed or cancelled (cancelling revokes its credentials)."""

    class Status(models.TextChoices):
        MADE = "made", _("Made, awaiting printing")
        PRINTED = "printed", _("Printed")
        CANCELLED = "cancelled", pgettext_lazy("print batch", "Cancelled")

    mutable_fields = PrintBatchQuerySet.mutable_fields

    number = models.CharField(_("print batch number"), max_length=20, editable=False)
    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="print_batches",
        verbose_name=_("edition"),
    )
    job = models.ForeignKey(
        ProductionJob,
        on_delete=models.PROTECT,
        related_name="print_batches",
        verbose_name=_("production job"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.MADE, db_index=True
    )
    sheet_pdf = models.FileField(_("print sheets (PDF)"), max_length=200, editable=False)
    sheet_sha256 = models.CharField(_("sheet fingerprint (SHA-256)"), max_length=64)
    manifest = models.FileField(_("manifest (CSV)"), max_length=200, editable=False)
    manifest_sha256 = models.CharField(_("manifest fingerprint (SHA-256)"), max_length=64)
    cards = models.PositiveIntegerField(_("cards"))
    sheets = models.PositiveIntegerField(_("A4 sheets"))
    first_number = models.CharField(_("first credential number"), max_length=16)
    last_number = models.CharField(_("last credential number"), max_length=16)
    made_at = models.DateTimeField(_("made"), auto_now_add=True)
    printed_at = models.DateTimeField(_("confirmed printed"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    objects = PrintBatchQuerySet.as_manager()

    class Meta:
        verbose_name = _("print batch")
        verbose_name_plural = _("print batches")
        ordering = ["-made_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="print_batch_number_unique"),
            models.CheckConstraint(
                condition=Q(sheets__gte=1) & Q(cards__gte=1), name="print_batch_not_empty"
            ),
        ]
        indexes = [models.Index(fields=["edition", "status"])]
        permissions = [
            ("confirm_printbatch", _("Can confirm print batches printed or cancel them")),
        ]

    def __str__(self):
        return self.number


class CredentialQuerySet(PurgeableQuerySet):
    mutable_fields = frozenset({"status", "revoked_at", "revoked_reason", "replaced_by"})


class Credential(GuardedModel):
    """One visitor's credential (证件) for one edition, as made and printed.

    Everything printed on the card is kept here as it was printed (the snapshot), with a hash
    of it: comparing that hash with the visitor's current data tells whether the card is still
    right. Only revocation changes a credential.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Valid")
        REVOKED = "revoked", _("Revoked")

    mutable_fields = CredentialQuerySet.mutable_fields

    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="credentials",
        verbose_name=_("edition"),
    )
    visitor = models.ForeignKey(
        "registration.Visitor",
        on_delete=models.PROTECT,
        related_name="credentials",
        verbose_name=_("visitor"),
    )
    sequence = models.PositiveIntegerField(_("sequence number"), editable=False)
    number = models.CharField(_("credential number"), max_length=16, editable=False)
    label = models.CharField(_("label"), max_length=8, choices=Label.choices)
    first_day = models.DateField(_("first entry day"))
    last_day = models.DateField(_("last entry day"))
    # The card data as printed.
    name = models.CharField(_("name on the card"), max_length=100)
    unit_name = models.CharField(_("unit on the card"), max_length=200)
    delegation_name = models.CharField(_("delegation on the card"), max_length=100, blank=True)
    card_data_hash = models.CharField(_("card data fingerprint"), max_length=64)
    qr_payload = models.CharField(_("QR payload"), max_length=200)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_reason = models.CharField(_("why revoked"), max_length=300, blank=True)
    replaced_by = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("replaced by"),
    )
    job = models.ForeignKey(
        ProductionJob,
        on_delete=models.PROTECT,
        related_name="credentials",
        verbose_name=_("production job"),
    )
    print_batch = models.ForeignKey(
        PrintBatch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credentials",
        verbose_name=_("print batch"),
    )
    card_pdf = models.FileField(_("card (PDF)"), max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(_("made"), auto_now_add=True)

    objects = CredentialQuerySet.as_manager()

    class Meta:
        verbose_name = _("credential")
        verbose_name_plural = _("credentials")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="credential_number_unique"),
            models.UniqueConstraint(
                fields=["edition", "sequence"], name="credential_sequence_unique_per_edition"
            ),
            # A visitor holds at most one valid credential, whatever runs at the same time.
            models.UniqueConstraint(
                fields=["visitor"],
                condition=Q(status="active"),
                name="one_active_credential_per_visitor",
            ),
            models.CheckConstraint(
                condition=Q(status="active", revoked_at__isnull=True)
                | Q(status="revoked", revoked_at__isnull=False),
                name="credential_revoked_has_time",
            ),
            models.CheckConstraint(
                condition=Q(last_day__gte=F("first_day")), name="credential_days_in_order"
            ),
        ]
        indexes = [
            # The revocation list of an edition, and the active credentials of a selection.
            models.Index(fields=["edition", "status"]),
        ]
        permissions = [
            ("revoke_credential", _("Can revoke credentials")),
            ("check_credential", _("Can check credentials at the gate")),
        ]

    def __str__(self):
        return self.number


_J = ProductionJob.Status
JOB_STATES = StateMachine(
    name="production_job",
    choices=ProductionJob.Status,
    moves={
        _J.QUEUED: {_J.RUNNING, _J.STOPPED},
        _J.RUNNING: {_J.STOPPING, _J.DONE, _J.FAILED, _J.STOPPED},
        # Asked to stop: the worker finishes its chunk, then stops (or was done anyway).
        _J.STOPPING: {_J.STOPPED, _J.DONE, _J.FAILED},
        # Resume, or run again: visitors that already have a credential are skipped.
        _J.STOPPED: {_J.QUEUED},
        _J.DONE: {_J.QUEUED},
        _J.FAILED: {_J.QUEUED},
    },
)

_B = PrintBatch.Status
PRINT_BATCH_STATES = StateMachine(
    name="print_batch",
    choices=PrintBatch.Status,
    moves={
        _B.MADE: {_B.PRINTED, _B.CANCELLED},
        _B.PRINTED: set(),
        _B.CANCELLED: set(),
    },
)

_C = Credential.Status
CREDENTIAL_STATES = StateMachine(
    name="credential",
    choices=Credential.Status,
    moves={
        _C.ACTIVE: {_C.REVOKED},
        _C.REVOKED: set(),  # a new credential replaces it
    },
)
