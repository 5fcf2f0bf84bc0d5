"""Consent records in the admin (同意记录): which unit account accepted which version of the
privacy policy, when, from which address and browser. Read-only — a consent is never changed —
newest first, by edition and version, searchable by USCC or account name. Organisers
(``registration.view_consentrecord``) read it.

Imported from registration/admin.py.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ciie_portal.admin import ReadOnlyAdminMixin
from ciie_portal.timefmt import local_text

from .models import ConsentRecord


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["accepted_local", "user", "edition", "version", "kind", "ip_address"]
    list_filter = ["policy__edition", "policy__version", "kind"]
    search_fields = ["user__username", "user__first_name", "=ip_address"]
    list_select_related = ["user", "policy__edition"]
    show_full_result_count = False
    list_per_page = 100
    fields = ["accepted_local", "user", "policy", "kind", "ip_address", "user_agent"]
    readonly_fields = fields

    @admin.display(description=_("accepted (Beijing)"), ordering="accepted_at")
    def accepted_local(self, record):
        return local_text(record.accepted_at, "%Y-%m-%d %H:%M:%S")

    @admin.display(description=_("edition"), ordering="policy__edition__number")
    def edition(self, record):
        return record.policy.edition

    @admin.display(description=_("version"), ordering="policy__version")
    def version(self, record):
        return record.policy.version
