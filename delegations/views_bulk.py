"""批量注册 pages for delegation secretaries (in the admin's look): the template to download
and the upload with its row-by-row report. The work itself is in ``delegations.bulk``."""

import io
from functools import wraps

from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.helpers import AdminForm
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from registration.access import edition_or_404
from registration.models import Visitor

from .bulk import bulk_register, template_workbook

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class BulkRegisterForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Spreadsheet"),
        help_text=gettext_lazy("The filled-in template as an .xlsx workbook, at most 5 MB."),
        widget=forms.FileInput(attrs={"accept": ".xlsx," + XLSX}),
    )
    check = forms.BooleanField(
        label=gettext_lazy("Check the information"),
        required=False,
        initial=True,
        help_text=gettext_lazy(
            "On: every row is checked as the visitor form checks it (ID check digits, date of "
            "birth and sex agreeing with the ID number, required fields). Off: only the unit, "
            "the person type, the ID document and the name are checked."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".xlsx"):
            raise ValidationError(
                _("Upload an Excel workbook (.xlsx); .xls and .csv files cannot be read."),
                code="extension",
            )
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(
                _("The file is larger than 5 MB: split it into several files."), code="size"
            )
        return upload


def bulk_staff_only(view):
    """Staff who may change visitors (secretaries); everyone else 403 (or the admin login)."""

    @staff_member_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.has_perm("registration.change_visitor"):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


@bulk_staff_only
@require_GET
def bulk_template(request):
    """批量注册模板: the .xlsx to fill in, with a 说明 sheet."""
    edition = edition_or_404(request)
    return FileResponse(
        io.BytesIO(template_workbook(edition)),
        as_attachment=True,
        filename="批量注册模板.xlsx",
        content_type=XLSX,
    )


@bulk_staff_only
@require_http_methods(["GET", "POST"])
def bulk_register_view(request):
    """批量注册: upload the spreadsheet; every refused row is reported with its reasons."""
    edition = edition_or_404(request)
    form = BulkRegisterForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            report = bulk_register(
                rows_file=form.cleaned_data["file"],
                user=request.user,
                edition=edition,
                check=form.cleaned_data["check"],
            )
        except ValidationError as error:
            form.add_error("file", error)
        else:
            # Ready for the next file, with the same choice of check.
            form = BulkRegisterForm(initial={"check": report.check})
    return render(
        request,
        "admin/delegations/bulk_register.html",
        {
            **admin.site.each_context(request),
            "title": _("Bulk registration"),
            "adminform": AdminForm(form, [(None, {"fields": ["file", "check"]})], {}),
            "media": form.media,
            "report": report,
            "edition": edition,
            "registration_app": apps.get_app_config("registration"),
            "visitor_opts": Visitor._meta,
        },
    )
