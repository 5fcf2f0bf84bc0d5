"""Side-event sign-ups in the admin (配套活动报名): organisers see every sign-up, approve or
decline them in bulk (actions calling the services: audited, notices queued) and export the
attendee list (.xlsx through the formula-safe sheet writer; ID numbers and mobiles masked).
Secretaries see their own delegation's sign-ups only (``staff``), read-only.

Imported from registration/admin.py.
"""

from urllib.parse import quote

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ciie_portal.admin import ReadOnlyAdminMixin
from ciie_portal.spreadsheets import sheet_workbook
from ciie_portal.timefmt import local_text

from ..account import mask_mobile
from .models import SideEventSignup
from .services import side_event_signups_approve, side_event_signups_decline
from .staff import scoped_signups

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DECIDE = "registration.decide_sideeventsignup"


@admin.register(SideEventSignup)
class SideEventSignupAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "visitor_name",
        "id_number",
        "label",
        "event",
        "unit",
        "delegation",
        "status",
        "signed_up",
    ]
    list_filter = ["event", "status", "event__edition"]
    search_fields = ["visitor__name", "visitor__reference", "unit__name"]
    list_select_related = ["event", "visitor", "unit__delegation"]
    list_per_page = 100
    actions = ["approve", "decline", "export_xlsx"]
    fields = ["event", "visitor_name", "id_number", "unit", "status", "signed_up"]
    readonly_fields = fields

    def get_queryset(self, request):
        return scoped_signups(super().get_queryset(request), request.user)

    def has_decide_permission(self, request):
        return request.user.has_perm(DECIDE)

    @admin.display(description=_("full name"), ordering="visitor__name")
    def visitor_name(self, signup):
        return signup.visitor.name

    @admin.display(description=_("ID number"))
    def id_number(self, signup):
        return signup.visitor.id_number_masked

    @admin.display(description=_("label"))
    def label(self, signup):
        return signup.visitor.get_label_display()

    @admin.display(description=_("delegation"))
    def delegation(self, signup):
        return signup.unit.delegation or "—"

    @admin.display(description=_("signed up (Beijing)"), ordering="pk")
    def signed_up(self, signup):
        return local_text(signup.created_at)

    def _report(self, request, call, success):
        try:
            count = call()
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return
        level = messages.SUCCESS if count else messages.WARNING
        self.message_user(request, success(count), level)

    @admin.action(description=_("Approve the selected sign-ups"), permissions=["decide"])
    def approve(self, request, queryset):
        self._report(
            request,
            lambda: side_event_signups_approve(signups=queryset, actor=request.user),
            lambda n: ngettext(
                "%(n)d sign-up approved.", "%(n)d sign-ups approved.", n
            ) % {"n": n},
        )  # fmt: skip

    @admin.action(description=_("Decline the selected sign-ups"), permissions=["decide"])
    def decline(self, request, queryset):
        self._report(
            request,
            lambda: side_event_signups_decline(signups=queryset, actor=request.user),
            lambda n: ngettext(
                "%(n)d sign-up declined; places given back went to those waiting.",
                "%(n)d sign-ups declined; places given back went to those waiting.",
                n,
            ) % {"n": n},
        )  # fmt: skip

    @admin.action(description=_("Export the selected sign-ups (attendee list, .xlsx)"))
    def export_xlsx(self, request, queryset):
        rows = queryset.select_related("event", "visitor", "unit__delegation").order_by(
            "event__starts_at", "event_id", "pk"
        )
        titles = [
            _("side event"),
            _("starts (Beijing)"),
            _("full name"),
            _("ID number"),
            _("label"),
            _("mobile"),
            _("unit"),
            _("delegation"),
            _("status"),
            _("signed up (Beijing)"),
        ]
        content = sheet_workbook(
            title=str(_("Attendees")),
            titles=[str(title) for title in titles],
            rows=(
                [
                    signup.event.display_name,
                    local_text(signup.event.starts_at),
                    signup.visitor.name,
                    signup.visitor.id_number_masked,
                    signup.visitor.get_label_display(),
                    mask_mobile(signup.visitor.mobile),
                    signup.unit.name,
                    str(signup.unit.delegation or ""),
                    signup.get_status_display(),
                    local_text(signup.created_at),
                ]
                for signup in rows.iterator(chunk_size=2000)
            ),
            widths={str(_("side event")): 30, str(_("unit")): 30},
        )
        response = HttpResponse(content, content_type=XLSX)
        filename = str(_("side-event-attendees")) + ".xlsx"
        response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
        response["Cache-Control"] = "no-store"
        return response
