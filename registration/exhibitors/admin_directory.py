"""The directory admin (imported by ``admin.py``): exhibitors with their products, listed or
taken off the directory in bulk, and the import page (展商展品导入: preview, then import)
with its template file.

Editing by hand goes through ``directory.exhibitor_refresh`` (search text rebuilt, audited);
the import through ``importer`` (permission registration.add_exhibitor and change_exhibitor).
"""

import time
import uuid
from pathlib import PurePosixPath
from urllib.parse import quote

from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import HttpResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ciie_portal.admin_uploads import XLSX, UploadReportView
from ciie_portal.models import Edition

from ..reference import EXHIBITION_AREAS, SPECIAL_ZONES, area_label
from .directory import exhibitor_refresh, exhibitors_set_listed
from .forms_directory import DirectoryImportForm
from .importer import directory_check, directory_import, template_workbook
from .models import Exhibitor, Product

IMPORT_PERMISSIONS = ("registration.add_exhibitor", "registration.change_exhibitor")
#: Where a previewed file waits for its import (private storage), and for how long.
PENDING_DIR = "exhibitor-imports"
PENDING_SECONDS = 3600
_PLAN_SALT = "registration.exhibitors.import"


class ProductInline(admin.TabularInline):
    model = Product
    extra = 0
    fields = ["code", "name", "name_en", "category", "category_en", "industry", "description"]
    show_change_link = False


class _SlugFilter(admin.SimpleListFilter):
    slugs: list = []

    def lookups(self, request, model_admin):
        return [(slug, area_label(slug)) for slug, *_names in self.slugs]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{self.parameter_name: value}) if value else queryset


class AreaFilter(_SlugFilter):
    title = gettext_lazy("exhibition area")
    parameter_name = "area"
    slugs = EXHIBITION_AREAS


class ZoneFilter(_SlugFilter):
    title = gettext_lazy("special zone")
    parameter_name = "zone"
    slugs = SPECIAL_ZONES


@admin.register(Exhibitor)
class ExhibitorAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "country", "hall", "booth", "area_name", "is_listed"]
    list_filter = ["edition", AreaFilter, ZoneFilter, "is_listed"]
    search_fields = ["code", "name", "name_en"]
    list_select_related = ["edition"]
    list_per_page = 100
    readonly_fields = ["industries", "created_at", "updated_at"]
    inlines = [ProductInline]
    actions = ["list_exhibitors", "unlist_exhibitors"]

    @admin.display(description=gettext_lazy("exhibition area"), ordering="area")
    def area_name(self, exhibitor):
        return area_label(exhibitor.area) or exhibitor.area or "—"

    def has_import_permission(self, request) -> bool:
        return request.user.has_perms(IMPORT_PERMISSIONS)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        changed = set(form.changed_data)
        for formset in formsets:
            if formset.has_changed():
                changed.add("products")
        exhibitor_refresh(form.instance, actor=request.user, changed=changed)

    @admin.action(description=gettext_lazy("List the selected exhibitors"), permissions=["change"])
    def list_exhibitors(self, request, queryset):
        count = exhibitors_set_listed(queryset, listed=True, actor=request.user)
        self.message_user(
            request,
            ngettext("%(n)d exhibitor listed.", "%(n)d exhibitors listed.", count) % {"n": count},
        )

    @admin.action(
        description=gettext_lazy("Take the selected exhibitors off the directory"),
        permissions=["change"],
    )
    def unlist_exhibitors(self, request, queryset):
        count = exhibitors_set_listed(queryset, listed=False, actor=request.user)
        self.message_user(
            request,
            ngettext(
                "%(n)d exhibitor taken off the directory.",
                "%(n)d exhibitors taken off the directory.",
                count,
            )
            % {"n": count},
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "import/",
                view(DirectoryImportView.as_view(admin_site=self.admin_site)),
                name="registration_exhibitor_import",
            ),
            path(
                "import-template/",
                view(self.template_view),
                name="registration_exhibitor_import_template",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_import": self.has_import_permission(request),
        }
        return super().changelist_view(request, extra_context=extra_context)

    def template_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        response = HttpResponse(template_workbook(), content_type=XLSX)
        filename = _("exhibitor-directory-template") + ".xlsx"
        response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
        response["Cache-Control"] = "no-store"
        return response


def _keep_upload(upload) -> str:
    """Keep a previewed file in private storage until it is imported; forget old ones."""
    try:
        _dirs, names = default_storage.listdir(PENDING_DIR)
    except FileNotFoundError:
        names = []
    for name in names:
        try:
            stamp = int(name.split("-", 1)[0])
        except ValueError:
            continue
        if stamp < time.time() - PENDING_SECONDS:
            default_storage.delete(f"{PENDING_DIR}/{name}")
    suffix = PurePosixPath(upload.name).suffix.lower()
    upload.seek(0)
    name = f"{PENDING_DIR}/{int(time.time())}-{uuid.uuid4().hex}{suffix}"
    return default_storage.save(name, upload)


class DirectoryImportView(UploadReportView):
    """展商展品导入: upload a file and see the row report (nothing imported yet), then import
    its valid rows with one more click."""

    template_name = "admin/registration/exhibitor/import.html"
    form_class = DirectoryImportForm
    form_id = "exhibitor_import_form"
    title = gettext_lazy("Import exhibitors and products")

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perms(IMPORT_PERMISSIONS):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def read(self, form):
        upload = form.cleaned_data["file"]
        self.edition = form.cleaned_data["edition"]
        report = directory_check(rows_file=upload, filename=upload.name, edition=self.edition)
        self.kept_name = _keep_upload(upload) if report.accepted else ""
        self.filename = upload.name
        report.edition = self.edition
        return report

    def plan(self, report) -> str:
        if not self.kept_name:
            return ""
        return signing.dumps(
            {
                "file": self.kept_name,
                "name": self.filename,
                "edition": self.edition.pk,
                "user": self.request.user.pk,
            },
            salt=_PLAN_SALT,
        )

    def apply(self, plan):
        try:
            data = signing.loads(plan, salt=_PLAN_SALT, max_age=PENDING_SECONDS)
        except signing.BadSignature:
            data = None
        if (
            data is None
            or data["user"] != self.request.user.pk
            or not default_storage.exists(data["file"])
        ):
            # As a message above the page, which offers the upload again.
            messages.error(self.request, _("The preview has expired: upload the file again."))
            return None
        edition = Edition.objects.get(pk=data["edition"])
        with default_storage.open(data["file"], "rb") as kept:
            report = directory_import(
                rows_file=kept, filename=data["name"], edition=edition, actor=self.request.user
            )
        default_storage.delete(data["file"])
        report.edition = edition
        messages.success(
            self.request,
            _("Imported: %(exhibitors)d exhibitors and %(products)d products.")
            % {
                "exhibitors": report.exhibitors_new + report.exhibitors_updated,
                "products": report.accepted,
            },
        )
        return report

    def extra_context(self):
        return {
            "opts": Exhibitor._meta,
            "template_url": reverse("admin:registration_exhibitor_import_template"),
        }
