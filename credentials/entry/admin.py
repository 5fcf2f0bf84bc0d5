"""Admin of the gate (入场): gate devices (register by a one-time QR code, revoke), the scans
(read-only, with admissions counted per day, gate and hour) and the entry rules.

Imported from credentials/admin.py. Devices change only through the services in
credentials.entry.services, each audited; entry rules through the audited admin.
"""

import segno
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ciie_portal.admin import AuditedAdminMixin, ReadOnlyAdminMixin
from ciie_portal.context_processors import current_edition_for

from .models import EntryRule, GateDevice, Scan
from .rules import SHANGHAI
from .selectors import admissions
from .services import device_create, device_enrolment_token, device_revoke


def beijing(moment) -> str:
    return timezone.localtime(moment, SHANGHAI).strftime("%Y-%m-%d %H:%M") if moment else "—"


@admin.register(EntryRule)
class EntryRuleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "edition", "anti_passback", "exit_scans", "everyone_out_at")
    list_filter = ("edition",)
    fields = ("edition", "label", "anti_passback", "exit_scans", "everyone_out_at")


@admin.register(GateDevice)
class GateDeviceAdmin(admin.ModelAdmin):
    list_display = ("name", "gate", "state", "enrolled", "last_seen", "last_sync", "edition")
    list_filter = ("edition", "gate")
    search_fields = ("name", "gate")
    fields = ("name", "gate")
    actions = ["new_enrolment_code", "revoke_devices"]

    @admin.display(description=_("state"))
    def state(self, device):
        if device.revoked_at:
            return _("revoked %(time)s") % {"time": beijing(device.revoked_at)}
        if device.enrolled_at:
            return _("in use")
        return _("waiting for registration")

    @admin.display(description=_("registered"), ordering="enrolled_at")
    def enrolled(self, device):
        return beijing(device.enrolled_at)

    @admin.display(description=_("last seen"), ordering="last_seen_at")
    def last_seen(self, device):
        return beijing(device.last_seen_at)

    @admin.display(description=_("last sync"), ordering="last_sync_at")
    def last_sync(self, device):
        return beijing(device.last_sync_at)

    def has_change_permission(self, request, obj=None):
        # A device is registered and revoked, never edited (its scans name its gate).
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        edition = current_edition_for(request)
        if edition is None:
            raise ValidationError(_("There is no current edition."))
        device, token = device_create(
            edition=edition, name=obj.name, gate=obj.gate, actor=request.user
        )
        obj.pk = device.pk
        obj._enrolment_token = token

    def response_add(self, request, obj, post_url_continue=None):
        return self._enrolment_page(request, obj, obj._enrolment_token)

    def _enrolment_page(self, request, device, token):
        url = request.build_absolute_uri(reverse("gate:app")) + f"#enrol={token}"
        return TemplateResponse(
            request,
            "admin/credentials/gate_device_enrolment.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("Register %(device)s") % {"device": device},
                "device": GateDevice.objects.get(pk=device.pk),
                "enrolment_url": url,
                "qr_data_uri": segno.make(url, error="m").png_data_uri(scale=6, border=2),
            },
        )

    @admin.action(description=_("Show a new registration code for the selected device"))
    def new_enrolment_code(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Choose exactly one device."), messages.WARNING)
            return None
        device = queryset.get()
        try:
            token = device_enrolment_token(device=device, actor=request.user)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return None
        return self._enrolment_page(request, device, token)

    @admin.action(description=_("Revoke the selected devices"))
    def revoke_devices(self, request, queryset):
        count = 0
        for device in queryset.filter(revoked_at__isnull=True):
            device_revoke(device=device, actor=request.user)
            count += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d device revoked: its key no longer works.",
                "%(count)d devices revoked: their keys no longer work.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(Scan)
class ScanAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "when",
        "gate",
        "direction",
        "credential",
        "admitted",
        "reason",
        "forced",
        "offline",
        "flagged",
        "device",
        "staff",
    )
    list_filter = ("admitted", "reason", "direction", "flagged", "offline", "forced", "gate")
    list_select_related = ("credential", "device", "staff")
    search_fields = ("credential__number", "=gate")
    date_hierarchy = "scanned_at"
    change_list_template = "admin/credentials/scan_change_list.html"
    show_full_result_count = False

    @admin.display(description=_("scanned (Beijing time)"), ordering="scanned_at")
    def when(self, scan):
        return timezone.localtime(scan.scanned_at, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")

    def changelist_view(self, request, extra_context=None):
        edition = current_edition_for(request)
        counts = admissions(edition.pk) if edition else None
        if counts:
            hours = counts["by_hour"]
            counts["peak"] = max(hours.values(), default=0) or 1
            counts["hours"] = [
                (hour, hours.get(hour, 0))
                for hour in range(24)
                if hours.get(hour, 0) or 6 <= hour <= 20
            ]
        return super().changelist_view(
            request, {**(extra_context or {}), "admissions": counts, "edition": edition}
        )
