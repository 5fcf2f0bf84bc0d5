"""批量注册 pages for delegation secretaries (in the admin's look): the template to download
and the upload with its row-by-row report. The work itself is in ``delegations.bulk``."""

import io
from functools import wraps

from django import forms
from django.apps import apps
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from ciie_portal.admin_uploads import XLSX, SpreadsheetUploadForm, UploadReportView
from registration.access import edition_or_404
from registration.models import Visitor

from .bulk import bulk_register, template_workbook


class BulkRegisterForm(SpreadsheetUploadForm):
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = gettext_lazy(
            "The filled-in template as an .xlsx workbook, at most 5 MB."
        )


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


class BulkRegisterView(UploadReportView):
    """批量注册: upload the spreadsheet; every refused row is reported with its reasons. No
    preview: the rows that pass are saved as the file is read."""

    template_name = "admin/delegations/bulk_register.html"
    form_class = BulkRegisterForm
    form_id = "bulk_register_form"

    def dispatch(self, request, *args, **kwargs):
        if request.method.lower() in self.http_method_names:  # else 405 before 404
            self.edition = edition_or_404(request)
        self.title = _("Bulk registration")
        return super().dispatch(request, *args, **kwargs)

    def read(self, form):
        return bulk_register(
            rows_file=form.cleaned_data["file"],
            user=self.request.user,
            edition=self.edition,
            check=form.cleaned_data["check"],
        )

    def form_after(self, report):
        # Ready for the next file, with the same choice of check.
        return BulkRegisterForm(initial={"check": report.check})

    def extra_context(self):
        return {
            "edition": self.edition,
            "registration_app": apps.get_app_config("registration"),
            "visitor_opts": Visitor._meta,
        }


bulk_register_view = bulk_staff_only(BulkRegisterView.as_view())
