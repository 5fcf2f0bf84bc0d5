from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ciie_portal.names import EnglishNamed
from ciie_portal.read_cache import WatchedQuerySet


class DelegationQuerySet(WatchedQuerySet):
    def groups(self):
        return self.filter(parent__isnull=True)

    def subtree_of(self, delegation: "Delegation"):
        """The delegation and its sub-delegations (the tree is two levels deep)."""
        return self.filter(Q(pk=delegation.pk) | Q(parent_id=delegation.pk))


class Delegation(EnglishNamed, models.Model):
    """A trade delegation (交易团) or one of its sub-delegations (分团)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    name_en = models.CharField(
        _("name in English"),
        max_length=100,
        blank=True,
        help_text=_("Shown to visitors who use the portal in English; empty: the Chinese name."),
    )
    code = models.SlugField(_("code"), max_length=40, unique=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("trade delegation"),
        help_text=_("Empty for a trade delegation; set for a sub-delegation."),
    )
    contact_unit = models.CharField(
        _("contact unit"),
        max_length=100,
        blank=True,
        help_text=_("The body that runs the secretariat, e.g. 广东省商务厅."),
    )
    province_code = models.CharField(
        _("province code"),
        max_length=6,
        blank=True,
        help_text=_("Units registered in this province without an invitation code join here."),
    )
    position = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    objects = DelegationQuerySet.as_manager()

    class Meta:
        verbose_name = _("delegation")
        verbose_name_plural = _("delegations")
        ordering = ["position", "pk"]

    def __str__(self):
        return self.display_name

    @property
    def is_group(self) -> bool:
        return self.parent_id is None

    def clean(self):
        if self.parent_id:
            if self.parent_id == self.pk:
                raise ValidationError({"parent": _("A delegation cannot be its own parent.")})
            if self.parent.parent_id:
                raise ValidationError(
                    {
                        "parent": _(
                            "A sub-delegation must belong to a trade delegation, not to "
                            "another sub-delegation."
                        )
                    }
                )
            if self.pk and self.children.exists():
                raise ValidationError(
                    {
                        "parent": _(
                            "This delegation has sub-delegations of its own, so it cannot "
                            "become a sub-delegation."
                        )
                    }
                )


class DelegationContact(models.Model):
    """A contact point of a delegation's secretariat (秘书处联络员); some have two offices."""

    delegation = models.ForeignKey(
        Delegation,
        on_delete=models.CASCADE,
        related_name="contacts",
        verbose_name=_("delegation"),
    )
    office = models.CharField(_("office"), max_length=100, blank=True)
    persons = models.CharField(_("contact person"), max_length=100)
    phone = models.CharField(_("contact phone"), max_length=100)
    email = models.EmailField(_("email"), blank=True)
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    objects = WatchedQuerySet.as_manager()  # the landing page's directory (read_cache)

    class Meta:
        verbose_name = _("delegation contact")
        verbose_name_plural = _("delegation contacts")
        ordering = ["delegation", "position", "pk"]

    def __str__(self):
        return f"{self.persons} {self.phone}"


class Secretary(models.Model):
    """A secretariat member (秘书处) who works on one delegation and its sub-delegations."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="secretary",
        verbose_name=_("user"),
    )
    delegation = models.ForeignKey(
        Delegation,
        on_delete=models.PROTECT,
        related_name="secretaries",
        verbose_name=_("delegation"),
    )

    class Meta:
        verbose_name = _("secretary")
        verbose_name_plural = _("secretaries")

    def __str__(self):
        return f"{self.user.get_username()} @ {self.delegation}"


class DelegationQuota(models.Model):
    """VIP and staff quotas of a trade delegation in one edition (for its whole subtree).

    Without a row the edition's defaults apply; the row is also what labelling locks, so that
    two secretaries labelling at once cannot pass the limit together.
    """

    edition = models.ForeignKey(
        "ciie_portal.Edition", on_delete=models.CASCADE, verbose_name=_("edition")
    )
    delegation = models.ForeignKey(
        Delegation, on_delete=models.CASCADE, related_name="quotas", verbose_name=_("delegation")
    )
    vip_limit = models.PositiveIntegerField(_("VIP quota"), null=True, blank=True)
    staff_limit = models.PositiveIntegerField(_("staff quota"), null=True, blank=True)

    class Meta:
        verbose_name = _("quota")
        verbose_name_plural = _("quotas")
        constraints = [
            models.UniqueConstraint(fields=["edition", "delegation"], name="one_quota_per_edition")
        ]

    def __str__(self):
        return f"{self.delegation} ({self.edition})"


class GroupMail(models.Model):
    """群发邮件: one email from a secretariat to the units of its subtree."""

    edition = models.ForeignKey(
        "ciie_portal.Edition", on_delete=models.PROTECT, verbose_name=_("edition")
    )
    delegation = models.ForeignKey(
        Delegation, on_delete=models.PROTECT, related_name="mails", verbose_name=_("delegation")
    )
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("message"))
    unit_status = models.CharField(_("units with status"), max_length=16, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("sent by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    recipients = models.PositiveIntegerField(_("recipients"), default=0)

    class Meta:
        verbose_name = _("group email")
        verbose_name_plural = _("group emails")
        ordering = ["-created_at"]

    def __str__(self):
        return self.subject
