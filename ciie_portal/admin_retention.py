"""Admin of the end of an edition: the shred action on the editions list (a preview with
counts, the edition's number typed to confirm), the shred jobs with their progress, and the
encrypted export's download — for staff with ``ciie_portal.shred_edition`` only."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .admin import ReadOnlyAdminMixin
from .models import Edition, ShredJob
from .retention import archive_progress, retention_due, shred_preview, shred_start

SHRED = "ciie_portal.shred_edition"


class ShredConfirmForm(forms.Form):
    confirm = forms.CharField(
        label=_("Type the edition's number to confirm"), max_length=10, required=True
    )


def shred_personal_data(modeladmin, request, queryset):
    """Export, then shred, one edition's personal data: the preview first."""
    if not request.user.has_perm(SHRED):
        raise PermissionDenied
    if queryset.count() != 1:
        modeladmin.message_user(request, _("Select exactly one edition."), messages.ERROR)
        return None
    edition = queryset.get()
    form = ShredConfirmForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        try:
            job = shred_start(
                edition=edition, actor=request.user, confirm=form.cleaned_data["confirm"]
            )
        except ValidationError as error:
            form.add_error("confirm", error)
        else:
            modeladmin.message_user(
                request,
                _("The export and shred of %(edition)s have started.") % {"edition": edition},
                messages.SUCCESS,
            )
            return redirect(reverse("admin:ciie_portal_shredjob_change", args=[job.pk]))
    return TemplateResponse(
        request,
        "admin/ciie_portal/shred_confirm.html",
        {
            **modeladmin.admin_site.each_context(request),
            "opts": Edition._meta,
            "title": _("Export and shred the personal data of %(edition)s") % {"edition": edition},
            "edition": edition,
            "due": retention_due(edition),
            "preview": shred_preview(edition),
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        },
    )


shred_personal_data.short_description = _("Export and shred personal data")


@admin.register(ShredJob)
class ShredJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["edition", "status", "percent", "created_at", "finished_at", "download"]
    fields = [
        "edition",
        "status",
        "percent",
        "preview",
        "progress",
        "started_by",
        "created_at",
        "finished_at",
        "archive_sha256",
        "archive_expires_at",
        "archive_deleted_at",
        "download",
        "error",
    ]
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(SHRED) or super().has_view_permission(request, obj)

    @admin.display(description=_("progress"))
    def percent(self, job):
        return format_html(
            '<progress max="100" value="{0}">{0}%</progress> {0}%', archive_progress(job)
        )

    @admin.display(description=_("export (encrypted)"))
    def download(self, job):
        if not job.archive or job.archive_deleted_at:
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:ciie_portal_shredjob_archive", args=[job.pk]),
            _("Download"),
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/archive/",
                self.admin_site.admin_view(self.archive_view),
                name="ciie_portal_shredjob_archive",
            ),
            *super().get_urls(),
        ]

    def archive_view(self, request, pk):
        if not request.user.has_perm(SHRED):
            raise PermissionDenied
        job = get_object_or_404(ShredJob, pk=pk)
        if not job.archive or job.archive_deleted_at:
            raise Http404
        from django.core.files.storage import default_storage

        from .audit import audit_record

        audit_record(actor=request.user, obj=job.edition, action="edition.export_downloaded")
        return FileResponse(
            default_storage.open(job.archive, "rb"),
            as_attachment=True,
            filename=f"edition-{job.edition.number}-personal-data.ciiearc",
            content_type="application/octet-stream",
        )
