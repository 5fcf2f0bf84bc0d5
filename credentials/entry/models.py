"""入场: what happens at the gate — every scan, the entry rules, the gate devices, security holds.

A **scan** is one credential (or one unreadable code) shown at one gate at one time, with the
verdict and its reason, whether it was decided online or by an offline device, and whether staff
let the holder in anyway. Scans are written once and never changed or deleted (a trigger on
PostgreSQL), so the record of who entered when and where is the record.

An **entry rule** says, per edition and label, whether a credential admits once per day unless
an exit was scanned (anti-passback), whether exits are scanned at all, and from what time of the
evening everybody counts as gone.

A **gate device** is a phone, tablet or scanner station registered by a one-time enrolment
token; it calls the device API with its own key until the organiser revokes it.

A **security hold** stops one visitor at the gate ("请至安检服务台") and keeps production from
making their card, without revoking anything: it is lifted again when security has spoken to them.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ciie_portal.records import GuardedModel, GuardedQuerySet
from registration.models import Label

__all__ = ["EntryRule", "GateDevice", "Scan", "SecurityHold"]


class Direction(models.TextChoices):
    IN = "in", pgettext_lazy("gate direction", "Entry")
    OUT = "out", pgettext_lazy("gate direction", "Exit")


class Reason(models.TextChoices):
    """Why a scan admitted or refused (``credentials.entry.rules``, in the order tested)."""

    OK = "ok", _("Valid")
    MALFORMED = "malformed", _("Not a credential QR code")
    BAD_SIGNATURE = "bad_signature", _("Forged or altered")
    UNKNOWN = "unknown", _("Not a credential of this expo")
    REVOKED = "revoked", _("Revoked")
    HELD = "held", _("Security hold")
    NOT_AN_ENTRY_DAY = "not_an_entry_day", _("Not an entry day")
    NO_EXIT_SCANS = "no_exit_scans", _("No exit scans for this credential")
    ALREADY_INSIDE = "already_inside", _("Already entered")


class EntryRule(models.Model):
    """The entry rules of one label (or, with no label, of every label without its own)."""

    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.CASCADE,
        related_name="entry_rules",
        verbose_name=_("edition"),
    )
    label = models.CharField(
        _("label"),
        max_length=8,
        choices=Label.choices,
        blank=True,
        help_text=_("Leave empty for the rule of every label that has none of its own."),
    )
    anti_passback = models.BooleanField(
        _("once per day unless an exit was scanned"),
        default=True,
        help_text=_(
            "Refuse a second entry on the same day while the last admitted scan was an entry."
        ),
    )
    exit_scans = models.BooleanField(
        _("exits are scanned"),
        default=False,
        help_text=_("With exit scans, a holder who was scanned out may enter again."),
    )
    everyone_out_at = models.TimeField(
        _("everyone out at"),
        null=True,
        blank=True,
        help_text=_(
            "From this time of the evening (Beijing time) nobody counts as inside any more, "
            "whether they were scanned out or not."
        ),
    )

    class Meta:
        verbose_name = _("entry rule")
        verbose_name_plural = _("entry rules")
        ordering = ["edition", "label"]
        constraints = [
            models.UniqueConstraint(fields=["edition", "label"], name="one_entry_rule_per_label"),
        ]

    def __str__(self):
        return str(self.get_label_display() or _("every label"))


class GateDevice(models.Model):
    """A scanner registered by a one-time token, calling the device API with its own key."""

    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="gate_devices",
        verbose_name=_("edition"),
    )
    name = models.CharField(_("device name"), max_length=60)
    gate = models.CharField(_("gate"), max_length=40, help_text=_("As staff call it: 2号门"))
    # Only SHA-256 digests are kept: the token is shown once, the key is given once.
    enrolment_digest = models.CharField(max_length=64, blank=True, editable=False)
    enrolment_expires_at = models.DateTimeField(
        _("enrolment code valid until"), null=True, blank=True, editable=False
    )
    key_digest = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    enrolled_at = models.DateTimeField(_("registered"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)
    last_sync_at = models.DateTimeField(_("last sync"), null=True, blank=True, editable=False)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
        editable=False,
    )
    created_at = models.DateTimeField(_("issued"), auto_now_add=True)

    class Meta:
        verbose_name = _("gate device")
        verbose_name_plural = _("gate devices")
        ordering = ["gate", "name"]

    def __str__(self):
        return f"{self.gate} · {self.name}"

    @property
    def is_active(self) -> bool:
        return self.enrolled_at is not None and self.revoked_at is None


class Scan(GuardedModel):
    """One scan at a gate: written once, never changed (append-only on PostgreSQL)."""

    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="scans",
        verbose_name=_("edition"),
    )
    credential = models.ForeignKey(
        "credentials.Credential",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="scans",
        verbose_name=_("credential"),
    )
    # What the scanner read, kept only when it names no credential of ours.
    payload = models.CharField(_("code as read"), max_length=256, blank=True)
    direction = models.CharField(
        _("direction"), max_length=3, choices=Direction.choices, default=Direction.IN
    )
    admitted = models.BooleanField(_("admitted"))
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    forced = models.BooleanField(
        _("let in by staff"), default=False, help_text=_("Admitted although the check refused.")
    )
    offline = models.BooleanField(_("decided offline"), default=False)
    # An offline admission the server would have refused: recorded as it happened, flagged.
    flagged = models.BooleanField(_("flagged"), default=False, db_index=True)
    server_reason = models.CharField(
        _("server's verdict"), max_length=20, choices=Reason.choices, blank=True
    )
    scanned_at = models.DateTimeField(_("scanned"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    gate = models.CharField(_("gate"), max_length=40)
    device = models.ForeignKey(
        GateDevice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="scans",
        verbose_name=_("device"),
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff member"),
    )
    nonce = models.CharField(_("device's scan id"), max_length=64, blank=True)

    objects = GuardedQuerySet.as_manager()  # append-only: nothing mutable

    class Meta:
        verbose_name = _("scan")
        verbose_name_plural = _("scans")
        ordering = ["-scanned_at", "-pk"]
        constraints = [
            # An offline device's upload, sent twice, is recorded once.
            models.UniqueConstraint(
                fields=["device", "nonce"], condition=~Q(nonce=""), name="one_scan_per_nonce"
            ),
        ]
        indexes = [
            models.Index(fields=["credential", "scanned_at"]),
            models.Index(fields=["edition", "scanned_at"]),
        ]
        permissions = [
            ("force_entry", _("Can let a holder in although the check refused")),
        ]

    def __str__(self):
        return f"{self.gate} {self.scanned_at:%Y-%m-%d %H:%M}"


class SecurityHold(models.Model):
    """A visitor stopped at the gate by security, without their card being revoked."""

    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="security_holds",
        verbose_name=_("edition"),
    )
    visitor = models.ForeignKey(
        "registration.Visitor",
        on_delete=models.PROTECT,
        related_name="security_holds",
        verbose_name=_("visitor"),
    )
    reason = models.CharField(_("reason"), max_length=300)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("placed by"),
    )
    placed_at = models.DateTimeField(_("placed"), auto_now_add=True, db_index=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("lifted by"),
    )
    released_at = models.DateTimeField(_("lifted"), null=True, blank=True, db_index=True)
    release_reason = models.CharField(_("why lifted"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("security hold")
        verbose_name_plural = _("security holds")
        ordering = ["-placed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["visitor"],
                condition=Q(released_at__isnull=True),
                name="one_open_hold_per_visitor",
            ),
            models.CheckConstraint(
                condition=Q(released_at__isnull=True) | Q(released_by__isnull=False),
                name="hold_lifted_by_someone",
            ),
        ]
        permissions = [
            ("place_hold", _("Can put visitors on security hold and lift holds")),
        ]

    def __str__(self):
        return f"{self.visitor} · {self.reason}"

    @property
    def is_open(self) -> bool:
        return self.released_at is None
