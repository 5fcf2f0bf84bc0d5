"""The meetings admin (imported by ``admin.py``): organisers see every meeting, filtered by
edition, status and day, and confirm, decline or mark them held in bulk — actions calling the
services (audited, the unit told). Nobody edits a meeting by hand.

Staff who do not see every unit (secretaries) see their own delegation's units' meetings at
most, read-only (``side_events.staff``'s scope, which both share), and only with the view
permission; the actions need ``registration.change_meeting``."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ciie_portal.admin import ReadOnlyAdminMixin
from ciie_portal.timefmt import local_text

from ..side_events.staff import scoped_signups
from .meetings import meetings_answer, meetings_mark_held
from .models import Meeting

ANSWER = "registration.change_meeting"


@admin.register(Meeting)
class MeetingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["day", "slot", "exhibitor", "hall_booth", "unit", "status", "answered_by"]
    list_filter = ["exhibitor__edition", "status", "day"]
    search_fields = ["exhibitor__name", "exhibitor__name_en", "exhibitor__code", "unit__name"]
    list_select_related = ["exhibitor", "unit"]
    list_per_page = 100
    date_hierarchy = "day"
    actions = ["confirm", "decline", "mark_held"]
    fieldsets = [
        (None, {"fields": ["exhibitor", "unit", "day", "slot", "status", "message"]}),
        (
            _("Request and answer"),
            {"fields": ["requested_by", "requested", "answered", "decided_by", "held"]},
        ),
    ]
    readonly_fields = [
        "exhibitor",
        "unit",
        "day",
        "slot",
        "status",
        "message",
        "requested_by",
        "requested",
        "answered",
        "decided_by",
        "held",
    ]

    def get_queryset(self, request):
        # ``unit__delegation`` is the scope's field for sign-ups and meetings alike.
        return scoped_signups(super().get_queryset(request), request.user)

    def has_answer_permission(self, request):
        return request.user.has_perm(ANSWER)

    @admin.display(description=_("hall and booth"))
    def hall_booth(self, meeting):
        return " ".join(p for p in (meeting.exhibitor.hall, meeting.exhibitor.booth) if p) or "—"

    @admin.display(description=_("answered by"), ordering="decided_by")
    def answered_by(self, meeting):
        return meeting.decided_by or "—"

    @admin.display(description=_("requested (Beijing)"), ordering="created_at")
    def requested(self, meeting):
        return local_text(meeting.created_at)

    @admin.display(description=_("answered (Beijing)"), ordering="decided_at")
    def answered(self, meeting):
        return local_text(meeting.decided_at) or "—"

    @admin.display(description=_("held (Beijing)"), ordering="held_at")
    def held(self, meeting):
        return local_text(meeting.held_at) or "—"

    def _report(self, request, result, success):
        done, refusals = result
        self.message_user(request, success(done), messages.SUCCESS if done else messages.WARNING)
        for refusal in refusals[:20]:
            self.message_user(request, refusal, messages.ERROR)

    @admin.action(description=_("Confirm the selected meetings"), permissions=["answer"])
    def confirm(self, request, queryset):
        self._report(
            request,
            meetings_answer(meetings=queryset, accept=True, actor=request.user),
            lambda n: ngettext(
                "%(n)d meeting confirmed.", "%(n)d meetings confirmed.", n
            ) % {"n": n},
        )  # fmt: skip

    @admin.action(description=_("Decline the selected meetings"), permissions=["answer"])
    def decline(self, request, queryset):
        self._report(
            request,
            meetings_answer(meetings=queryset, accept=False, actor=request.user),
            lambda n: ngettext(
                "%(n)d meeting declined.", "%(n)d meetings declined.", n
            ) % {"n": n},
        )  # fmt: skip

    @admin.action(description=_("Mark the selected meetings as held"), permissions=["answer"])
    def mark_held(self, request, queryset):
        self._report(
            request,
            meetings_mark_held(meetings=queryset, actor=request.user),
            lambda n: ngettext(
                "%(n)d meeting marked as held.", "%(n)d meetings marked as held.", n
            ) % {"n": n},
        )  # fmt: skip
