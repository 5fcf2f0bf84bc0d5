"""Admin pages that take a spreadsheet and answer with a row-by-row report.

The shape is always the same: upload the file → read and check it (a file that cannot be read
at all is an error on the form's file field) → show the report of what was done, or, for a
page with a preview, of what would be done → apply the previewed plan with a second POST.

``SpreadsheetUploadForm`` is the upload field (.xlsx only, a size limit); ``UploadReportView``
is the page, rendered in the admin's look with ``templates/admin/upload_report.html`` (whose
blocks a page overrides for its introduction and its report).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import AdminForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class SpreadsheetUploadForm(forms.Form):
    """An .xlsx upload of at most ``max_bytes``; subclasses add their own options."""

    max_bytes = 5 * 1024 * 1024
    extension_message = gettext_lazy(
        "Upload an Excel workbook (.xlsx); .xls and .csv files cannot be read."
    )
    size_message = gettext_lazy("The file is larger than 5 MB: split it into several files.")

    file = forms.FileField(
        label=gettext_lazy("Spreadsheet"),
        widget=forms.FileInput(attrs={"accept": ".xlsx," + XLSX}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".xlsx"):
            raise ValidationError(self.extension_message, code="extension")
        if upload.size > self.max_bytes:
            raise ValidationError(self.size_message, code="size")
        return upload


class UploadReportView(TemplateView):
    """Upload a spreadsheet, show its row report, and (with a preview) apply it.

    A page sets ``form_class`` and ``title`` and implements ``read(form)``: read the uploaded
    file and return the report (saved at once, or a preview); raise ``ValidationError`` when
    the file as a whole is refused. A page with a preview also implements ``plan(report)`` (a
    signed, hidden-field-sized description of what applying would do, or "" when there is
    nothing to apply) and ``apply(plan)``, called on the POST that carries ``plan`` and
    returning the report of what was done.

    The context holds ``adminform`` (the form in the admin's fieldset), ``report`` (None until
    a file was read) and ``plan``, with ``extra_context()`` added.
    """

    template_name = "admin/upload_report.html"
    admin_site = admin.site
    http_method_names = ["get", "post"]
    form_class: type[forms.Form] = SpreadsheetUploadForm
    title = ""
    form_id = "upload_form"

    def read(self, form):
        raise NotImplementedError

    def plan(self, report) -> str:
        return ""

    def apply(self, plan: str):
        raise NotImplementedError

    def form_after(self, report) -> forms.Form:
        """The form offered again once a file was read: empty, ready for the next file."""
        return self.form_class()

    def extra_context(self) -> dict:
        return {}

    def get(self, request, *args, **kwargs):
        return self.render_page(self.form_class())

    def post(self, request, *args, **kwargs):
        if "plan" in request.POST:
            try:
                report = self.apply(request.POST["plan"])
            except ValidationError as error:
                # The plan could not be applied (it expired, or what it would change changed):
                # said above an empty form, ready for the file again.
                for message in error.messages:
                    messages.error(request, message)
                return self.render_page(self.form_class())
            return self.render_page(self.form_class(), report=report)
        form = self.form_class(request.POST, request.FILES)
        if form.is_valid():
            try:
                report = self.read(form)
            except ValidationError as error:
                form.add_error("file", error)
            else:
                return self.render_page(
                    self.form_after(report), report=report, plan=self.plan(report)
                )
        return self.render_page(form)

    def render_page(self, form, *, report=None, plan: str = ""):
        fields = list(form.fields)
        return self.render_to_response(
            {
                **self.admin_site.each_context(self.request),
                "title": self.title or _("Upload"),
                "form_id": self.form_id,
                "adminform": AdminForm(form, [(None, {"fields": fields})], {}),
                "media": form.media,
                "report": report,
                "plan": plan,
                **self.extra_context(),
            }
        )
