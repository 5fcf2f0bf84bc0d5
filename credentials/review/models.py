"""Visitor review (人员信息审核 / 公安背审): the batches sent for the check and their results.

The security reviewer exports the visitors awaiting review (待审核) in batches and imports what
comes back: passed, or failed with a reason. A result is final and written once per visitor;
the visitor's state follows it (``credentials.review.services``).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

__all__ = ["ReviewBatch", "ReviewResult"]


class ReviewBatch(models.Model):
    """One export for the background check: who took it, when, and which visitors it held.

    The spreadsheet itself is not kept: it carries the ID numbers in clear, which are stored
    nowhere else but encrypted. The batch names its visitors, so the same file can be made
    again, and keeps the fingerprint (SHA-256) of the one that was handed out.
    """

    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="review_batches",
        verbose_name=_("edition"),
    )
    # The delegation the export was limited to, if any.
    delegation = models.ForeignKey(
        "delegations.Delegation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("delegation"),
    )
    visitors = models.ManyToManyField(
        "registration.Visitor", related_name="review_batches", verbose_name=_("visitors")
    )
    visitor_count = models.PositiveIntegerField(_("visitors"), default=0)
    file_name = models.CharField(_("file"), max_length=100, blank=True)
    file_sha256 = models.CharField(_("file fingerprint (SHA-256)"), max_length=64, blank=True)
    exported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("exported by"),
    )
    exported_at = models.DateTimeField(_("exported"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("review batch")
        verbose_name_plural = _("review batches")
        ordering = ["-exported_at", "-pk"]
        indexes = [models.Index(fields=["edition", "exported_at"])]

    def __str__(self):
        return self.code

    @property
    def code(self) -> str:
        """B000012: how the batch is named in its file and in the admin."""
        return f"B{self.pk or 0:06d}"


class ReviewResult(models.Model):
    """The result of one visitor's review: passed, or failed with a reason. Written once."""

    class Outcome(models.TextChoices):
        PASSED = "passed", pgettext_lazy("review result", "Passed")  # 审核通过
        FAILED = "failed", pgettext_lazy("review result", "Failed")  # 审核不通过

    visitor = models.OneToOneField(
        "registration.Visitor",
        on_delete=models.PROTECT,
        related_name="review_result",
        verbose_name=_("visitor"),
    )
    batch = models.ForeignKey(
        ReviewBatch,
        on_delete=models.PROTECT,
        related_name="results",
        verbose_name=_("review batch"),
    )
    outcome = models.CharField(
        pgettext_lazy("review", "result"), max_length=8, choices=Outcome.choices
    )
    reason = models.TextField(_("reason"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now, editable=False)
    # Where the result came from: the imported file's fingerprint and its row.
    source_sha256 = models.CharField(_("imported file (SHA-256)"), max_length=64, blank=True)
    source_row = models.PositiveIntegerField(_("row"), null=True, blank=True)

    class Meta:
        verbose_name = _("review result")
        verbose_name_plural = _("review results")
        ordering = ["-recorded_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome="passed") | (Q(outcome="failed") & ~Q(reason="")),
                name="review_result_failed_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["batch", "outcome"])]

    def __str__(self):
        return f"{self.visitor_id}: {self.get_outcome_display()}"
