"""The personal-data access log in the admin (个人信息访问记录): read-only, newest first, by what
and by staff member, searchable by whose data (name, reference) and by object id. Organisers
(``ciie_portal.view_accesslogentry``) read it; the visitor's, unit's and staff member's admin
pages link to their own part of it (``templates/admin/registration/*/change_form_object_tools``).

Imported from ciie_portal/admin.py.
"""

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .access_log import access_log_url
from .admin import ReadOnlyAdminMixin
from .models import AccessLogEntry
from .timefmt import local_text


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at_local", "actor", "what", "whose", "via", "count", "all_of_them"]
    list_filter = [
        "what",
        ("actor", admin.RelatedOnlyFieldListFilter),
        ("content_type", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["object_repr", "=object_id", "actor__username", "via"]
    list_select_related = ["actor", "content_type"]
    show_full_result_count = False
    list_per_page = 100
    fields = ["at_local", "actor", "what", "content_type", "object_id", "whose", "via", "count"]
    readonly_fields = fields

    @admin.display(description=_("time (Beijing)"), ordering="at")
    def at_local(self, entry):
        return local_text(entry.at, "%Y-%m-%d %H:%M:%S")

    @admin.display(description=_("whose"), ordering="object_repr")
    def whose(self, entry):
        """The person or record whose data it was, linked to its admin page where it has one."""
        model = entry.content_type.model_class()
        if model is None:
            return entry.object_repr
        try:
            url = reverse(
                f"admin:{model._meta.app_label}_{model._meta.model_name}_change",
                args=[entry.object_id],
            )
        except NoReverseMatch:
            return entry.object_repr
        return format_html('<a href="{}">{}</a>', url, entry.object_repr)

    @admin.display(description=_("every access to it"))
    def all_of_them(self, entry):
        url = access_log_url(content_type_id=entry.content_type_id, object_id=entry.object_id)
        return format_html('<a href="{}">{}</a>', url, _("list"))
