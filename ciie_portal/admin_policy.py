"""The privacy policy (隐私政策) in the admin: organisers write a version per edition in Chinese
and English, change it while it is a draft, and publish it. A published version is shown, never
edited or deleted: a change is a new version, which unit accounts accept at their next sign-in
(``registration.consent``). Every addition, change and publication is audited."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .admin import CONFIG_CHANGE, AuditedAdminMixin
from .audit import audit_changes, audit_snapshot
from .models import Edition, PrivacyPolicy
from .privacy import policy_in_force, policy_next_version, policy_publish
from .timefmt import local_text


class PrivacyPolicyForm(forms.ModelForm):
    class Meta:
        model = PrivacyPolicy
        fields = ["edition", "text_zh", "text_en"]
        widgets = {
            "text_zh": forms.Textarea(attrs={"rows": 24, "cols": 100}),
            "text_en": forms.Textarea(attrs={"rows": 24, "cols": 100}),
        }


@admin.register(PrivacyPolicy)
class PrivacyPolicyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = PrivacyPolicyForm
    list_display = ["edition", "version", "published_local", "created_at"]
    list_filter = ["edition"]
    ordering = ["-edition__number", "-version"]
    actions = ["publish"]

    @admin.display(description=_("published (Beijing time)"), ordering="published_at")
    def published_local(self, obj):
        return local_text(obj.published_at) if obj.published_at else gettext("draft")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["edition", "text_zh", "text_en"]
        return ["edition", "version", "text_zh", "text_en", "published_local", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if obj.published_at:
            return ["edition", "version", "text_zh", "text_en", "published_local", "created_at"]
        # A draft's texts may change; its edition and number stay.
        return ["edition", "version", "published_local", "created_at"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.published_at is not None:
            return False  # shown read-only: a change is a new version
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.published_at is not None:
            return False
        return super().has_delete_permission(request, obj)

    def get_changeform_initial_data(self, request):
        """A new version starts from the current edition's latest one (published or not)."""
        initial = super().get_changeform_initial_data(request)
        edition = Edition.objects.filter(is_current=True).first()
        if edition is not None and "edition" not in initial:
            initial["edition"] = edition.pk
            latest = PrivacyPolicy.objects.filter(edition=edition).order_by("-version").first()
            if latest is not None:
                initial.update(text_zh=latest.text_zh, text_en=latest.text_en)
        return initial

    def save_model(self, request, obj, form, change):
        if change:
            stored = PrivacyPolicy.objects.select_for_update().get(pk=obj.pk)
            if stored.published_at is not None:
                raise PermissionDenied  # published meanwhile: never edited
            obj.edition_id, obj.version = stored.edition_id, stored.version
        else:
            obj.version = policy_next_version(obj.edition)
        super().save_model(request, obj, form, change)

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset.filter(published_at__isnull=True))

    @admin.action(description=_("Publish the selected versions"), permissions=["change"])
    def publish(self, request, queryset):
        published = 0
        for policy in queryset.select_related("edition").order_by("edition", "version"):
            if policy.published_at is not None:
                continue
            in_force = policy_in_force(policy.edition)
            if in_force is not None and in_force.version > policy.version:
                self.message_user(
                    request,
                    gettext(
                        "%(policy)s was not published: version %(version)d is already in force."
                    )
                    % {"policy": policy, "version": in_force.version},
                    messages.ERROR,
                )
                continue
            before = audit_snapshot(policy, ["published_at"])
            if policy_publish(policy):
                policy.refresh_from_db()
                changes = audit_changes(before, audit_snapshot(policy, ["published_at"]))
                self._audit(request, policy, CONFIG_CHANGE, changes, published=True)
                published += 1
        if published:
            self.message_user(
                request,
                ngettext(
                    "%(count)d version published. Unit accounts accept it at their next sign-in.",
                    "%(count)d versions published. Unit accounts accept them at their next "
                    "sign-in.",
                    published,
                )
                % {"count": published},
                messages.SUCCESS,
            )
