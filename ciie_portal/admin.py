from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .choices import UnitCategory
from .models import AuditEntry, Edition, EntryPeriod, Notice, SideEvent
from .notices.services import notice_retry
from .services import edition_make_current
from .windows import edition_window_changes_record, window_values


class EditionForm(forms.ModelForm):
    auto_approve_categories = forms.MultipleChoiceField(
        label=_("unit categories approved automatically"),
        choices=UnitCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    invitation_code_categories = forms.MultipleChoiceField(
        label=_("unit categories that need an invitation code"),
        choices=UnitCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = Edition
        # The admin's fieldsets choose the fields; these two need the widgets above.
        fields = ["auto_approve_categories", "invitation_code_categories"]


class EntryPeriodInline(admin.TabularInline):
    model = EntryPeriod
    extra = 0
    fields = ["position", "name", "first_day", "last_day", "fee"]


@admin.register(Edition)
class EditionAdmin(admin.ModelAdmin):
    form = EditionForm
    list_display = [
        "number",
        "name",
        "starts_on",
        "ends_on",
        "registration_closes_at",
        "is_current",
    ]
    list_filter = ["is_current"]
    readonly_fields = ["is_current", "created_at", "updated_at"]
    inlines = [EntryPeriodInline]
    actions = ["make_current"]
    fieldsets = [
        (None, {"fields": ["number", "name", "is_current"]}),
        (
            _("Dates"),
            {
                "fields": [
                    "starts_on",
                    "ends_on",
                    "registration_opens_at",
                    "registration_closes_at",
                ]
            },
        ),
        (
            _("Payment"),
            {
                "fields": [
                    "transfer_deadline",
                    "online_payment_deadline",
                    "order_payment_window",
                    "reuse_fee_percent",
                ]
            },
        ),
        (
            _("Delegations and review"),
            {
                "fields": [
                    "default_vip_quota",
                    "default_staff_quota",
                    "auto_approve_categories",
                    "invitation_code_categories",
                    "review_days_domestic",
                    "review_days_foreign",
                ]
            },
        ),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]

    def save_model(self, request, obj, form, change):
        # Organisers extend (or shorten) windows here: each changed window is audited, with
        # the values as stored before this save (not as the form was first shown).
        before = window_values(Edition.objects.get(pk=obj.pk)) if change and obj.pk else None
        super().save_model(request, obj, form, change)
        if before is not None:
            edition_window_changes_record(edition=obj, before=before, actor=request.user)

    @admin.action(description=_("Make the selected edition the current one"))
    def make_current(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one edition."), messages.ERROR)
            return
        edition = edition_make_current(edition=queryset.get(), actor=request.user)
        self.message_user(request, _("%(edition)s is now current.") % {"edition": edition})


@admin.register(SideEvent)
class SideEventAdmin(admin.ModelAdmin):
    list_display = ["name", "starts_at", "organiser", "open_to_visitors", "edition"]
    list_filter = ["edition", "open_to_visitors"]
    search_fields = ["name", "organiser"]
    list_select_related = ["edition"]


class ReadOnlyAdminMixin:
    """Records written by services only (audit log, notices, orders, payments): nobody adds,
    changes or deletes them by hand; every change goes through a service that audits it."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "actor_repr",
        "action",
        "content_type",
        "object_repr",
        "from_state",
        "to_state",
        "reason",
    ]
    list_filter = ["content_type", "action"]
    search_fields = ["object_repr", "actor_repr", "object_id", "reason"]
    list_select_related = ["content_type"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "event",
        "channel",
        "recipient",
        "template",
        "status",
        "attempts",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "channel", "event"]
    search_fields = ["recipient", "key"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["retry"]

    @admin.action(description=_("Send the selected failed notices again"))
    def retry(self, request, queryset):
        count = notice_retry(notice_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            ngettext("%(count)d notice queued again.", "%(count)d notices queued again.", count)
            % {"count": count},
        )

    def has_change_permission(self, request, obj=None):
        # The retry action needs change permission on the list; the form stays read-only.
        return obj is None and request.user.has_perm("ciie_portal.change_notice")
