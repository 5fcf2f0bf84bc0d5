from django import forms
from django.contrib import admin, messages
from django.core.exceptions import FieldDoesNotExist
from django.db import router, transaction
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from . import side_events
from .audit import audit_changes, audit_record, audit_snapshot
from .choices import UnitCategory
from .models import AuditEntry, Edition, EntryPeriod, Notice, SideEvent
from .notices.services import notice_retry
from .services import edition_make_current
from .windows import edition_window_changes_record, window_values

# --- Configuration edits, audited with their old and new values ------------------------------

CONFIG_ADD, CONFIG_CHANGE, CONFIG_DELETE = "config.add", "config.change", "config.delete"


class AuditedAdminMixin:
    """Every addition, change and deletion made in this admin (and in its inlines) is written
    to the audit log (``config.add`` / ``config.change`` / ``config.delete``) with the changed
    fields' old and new values: ``data = {"changes": {field: [old, new]}}``.

    "Old" is the row as stored right before the save (read again when the form is saved, not
    as the form was first shown); "new" is the row as stored after it, whoever wrote it (the
    admin's save or a service it calls). ``audited_fields`` limits the fields recorded (None:
    every stored field but the primary key and automatic timestamps).
    """

    audited_fields: tuple[str, ...] | None = None

    def _audit(self, request, obj, action: str, changes: dict, **data) -> None:
        if changes:
            audit_record(
                actor=request.user, obj=obj, action=action, data={"changes": changes, **data}
            )

    def _stored(self, model, pk):
        return model._base_manager.filter(pk=pk).first()

    def save_form(self, request, form, change):
        obj = super().save_form(request, form, change)
        if change and obj.pk is not None:
            stored = self._stored(type(obj), obj.pk)
            obj._audit_before = audit_snapshot(stored, self.audited_fields) if stored else None
        return obj

    def _audit_saved(self, request, obj, *, added: bool) -> None:
        stored = self._stored(type(obj), obj.pk)
        if stored is None:
            return
        before = None if added else getattr(obj, "_audit_before", None)
        after = audit_snapshot(stored, self.audited_fields)
        if not added and before is None:
            return  # not read before the save: nothing to compare with
        changes = audit_changes(before, after)
        self._audit(request, stored, CONFIG_ADD if added else CONFIG_CHANGE, changes)

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        self._audit_saved(request, obj, added=True)
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        self._audit_saved(request, obj, added=False)
        return entry

    def _audit_deleted(self, request, obj, **data) -> None:
        before = audit_snapshot(obj, self.audited_fields)
        self._audit(request, obj, CONFIG_DELETE, audit_changes(before, None), **data)

    def delete_model(self, request, obj):
        with transaction.atomic(using=router.db_for_write(type(obj))):
            self._audit_deleted(request, obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic(using=router.db_for_write(queryset.model)):
            for obj in queryset:
                self._audit_deleted(request, obj)
            super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        """Inline rows (an edition's entry periods and fees, a delegation's contacts and
        sub-delegations): each one added, changed or deleted is audited on its own, naming
        the object it belongs to."""
        model = formset.model
        parent = {"parent": str(form.instance)}
        existing = [f.instance.pk for f in formset.initial_forms if f.instance.pk is not None]
        before = {
            obj.pk: audit_snapshot(obj) for obj in model._base_manager.filter(pk__in=existing)
        }
        for deleted in formset.deleted_forms:
            if deleted.instance.pk in before:
                changes = audit_changes(before[deleted.instance.pk], None)
                self._audit(request, deleted.instance, CONFIG_DELETE, changes, **parent)
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            stored = self._stored(model, obj.pk)
            self._audit(
                request, stored, CONFIG_ADD, audit_changes(None, audit_snapshot(stored)), **parent
            )
        for obj, _names in formset.changed_objects:
            stored = self._stored(model, obj.pk)
            changes = audit_changes(before.get(obj.pk, {}), audit_snapshot(stored))
            self._audit(request, stored, CONFIG_CHANGE, changes, **parent)


class EditionForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Defaults (a year; 90 days) when left empty.
        for name in (
            "retention_days",
            "archive_days",
            "reminder_before_order_expiry",
            "reminder_before_deadline",
            "transfer_grace_days",
        ):
            if name in self.fields:
                self.fields[name].required = False

    def clean_retention_days(self):
        value = self.cleaned_data.get("retention_days")
        return 365 if value is None else value

    def clean_archive_days(self):
        value = self.cleaned_data.get("archive_days")
        return 90 if value is None else value

    def _default_when_empty(self, name):
        # The payment reminders' lead times and the transfer grace (Edition fields added later
        # than the others): left out of a form or empty, the model's default.
        value = self.cleaned_data.get(name)
        return Edition._meta.get_field(name).get_default() if value is None else value

    def clean_reminder_before_order_expiry(self):
        return self._default_when_empty("reminder_before_order_expiry")

    def clean_reminder_before_deadline(self):
        return self._default_when_empty("reminder_before_deadline")

    def clean_transfer_grace_days(self):
        return self._default_when_empty("transfer_grace_days")

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
    fields = ["position", "name", "name_en", "first_day", "last_day", "fee"]


@admin.register(Edition)
class EditionAdmin(AuditedAdminMixin, admin.ModelAdmin):
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
    readonly_fields = ["is_current", "shredded_at", "created_at", "updated_at"]
    inlines = [EntryPeriodInline]
    actions = ["make_current"]
    fieldsets = [
        (None, {"fields": ["number", "name", "name_en", "is_current"]}),
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
                    "reminder_before_order_expiry",
                    "reminder_before_deadline",
                    "transfer_grace_days",
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
        (_("Personal data"), {"fields": ["retention_days", "archive_days", "shredded_at"]}),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]

    def get_urls(self):
        from .admin_clone import edition_clone_view

        def clone(request, object_id):
            return edition_clone_view(self, request, object_id)

        clone_url = path(
            "<path:object_id>/clone/",
            self.admin_site.admin_view(clone),
            name="ciie_portal_edition_clone",
        )
        return [clone_url, *super().get_urls()]

    def get_actions(self, request):
        from .admin_retention import shred_personal_data

        actions = super().get_actions(request)
        if request.user.has_perm("ciie_portal.shred_edition"):
            actions["shred_personal_data"] = (
                shred_personal_data,
                "shred_personal_data",
                shred_personal_data.short_description,
            )
        return actions

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


class SideEventForm(forms.ModelForm):
    labels = forms.MultipleChoiceField(
        label=_("open to visitors labelled"),
        choices=side_events.label_choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("None ticked: every visitor, labelled or not."),
    )

    class Meta:
        model = SideEvent
        # The admin's fieldsets choose the fields; this one needs the widget above.
        fields = ["labels"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None or "capacity" not in self.fields:
            return cleaned
        # Counted with the event's row locked until the save commits (the admin saves in one
        # transaction): a sign-up at this moment waits, and is counted after the change.
        SideEvent.objects.select_for_update().filter(pk=self.instance.pk).exists()
        held = side_events.places_held([self.instance.pk]).get(self.instance.pk, 0)
        capacity = cleaned.get("capacity")
        if held and capacity is None:
            self.add_error(
                "capacity",
                _("Visitors hold %(held)d places: the event keeps taking sign-ups.")
                % {"held": held},
            )
        elif capacity is not None and capacity < held:
            self.add_error(
                "capacity",
                _(
                    "Visitors hold %(held)d places already: the event cannot have fewer. "
                    "Decline sign-ups first."
                )
                % {"held": held},
            )
        return cleaned


@admin.register(SideEvent)
class SideEventAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """配套活动, published by organisers. Places and sign-ups: ``registration.side_events``
    (through ``ciie_portal.side_events``)."""

    form = SideEventForm
    list_display = [
        "name",
        "starts_at",
        "venue",
        "organiser",
        "places",
        "signup_closes_at",
        "needs_approval",
        "open_to_visitors",
        "edition",
    ]
    list_filter = ["edition", "open_to_visitors", "needs_approval"]
    search_fields = ["name", "name_en", "organiser"]
    list_select_related = ["edition"]
    fieldsets = [
        (None, {"fields": ["edition", "name", "name_en", "open_to_visitors"]}),
        (
            _("Time and place"),
            {
                "fields": [
                    "starts_at",
                    "ends_at",
                    "venue",
                    "organiser",
                    "contact",
                    "description",
                ]
            },
        ),
        (
            _("Sign-up"),
            {
                "fields": [
                    "capacity",
                    "signup_opens_at",
                    "signup_closes_at",
                    "labels",
                    "signup_requires",
                    "needs_approval",
                ]
            },
        ),
    ]

    def get_changelist_instance(self, request):
        # The places held on the page's events in one query, not one per row.
        changelist = super().get_changelist_instance(request)
        held = side_events.places_held(event.pk for event in changelist.result_list)
        for event in changelist.result_list:
            event.places_held = held.get(event.pk, 0)
        return changelist

    @admin.display(description=_("places held"))
    def places(self, event):
        if event.capacity is None:
            return "—"
        text = f"{getattr(event, 'places_held', 0)} / {event.capacity}"
        hooks = side_events.signup_hooks()
        url = hooks.signups_url(event.pk) if hooks else ""
        return format_html('<a href="{}">{}</a>', url, text) if url else text

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        hooks = side_events.signup_hooks()
        if change and hooks is not None:
            # Places added (or the approval rule changed): waiting sign-ups move up now.
            hooks.event_changed(event=obj, actor=request.user)


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


from . import admin_policy  # noqa: E402, F401  (the privacy policy's versions, audited)


def _change_label(model, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name) if model else name
    except FieldDoesNotExist:
        return name


def _change_text(value) -> str:
    if value is None or value in ("", [], {}):
        return "—"
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, list):
        return ", ".join(_change_text(item) for item in value)
    return str(value)


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
        "changes",
    ]
    readonly_fields = ["changes"]

    @admin.display(description=_("changes (old → new)"))
    def changes(self, obj):
        """A configuration edit's fields, one a line: "fee: 200.00 → 150.00"."""
        changes = (obj.data or {}).get("changes") if isinstance(obj.data, dict) else None
        if not isinstance(changes, dict) or not changes:
            return "—"
        model = obj.content_type.model_class() if obj.content_type_id else None
        rows = []
        for name, pair in changes.items():
            old, new = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
            rows.append((_change_label(model, name), _change_text(old), _change_text(new)))
        return format_html_join(mark_safe("<br>"), "{}: {} → {}", rows)

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


# The end of an edition's admin (shred jobs), which builds on the classes above.
from . import admin_retention  # noqa: E402, F401

# The personal-data access log (read-only), which builds on the classes above.
from .admin_access import AccessLogEntryAdmin  # noqa: E402, F401
