"""人员信息审核 in the admin: the security reviewer (and organisers) export review batches and
import the results with a row-by-row report; delegation secretaries download a read-only list of
their visitors awaiting review. Staff cancel visitors (注销) from the visitor list.

The work itself is in ``services`` and ``cancellation``; these pages only ask and show.
"""

import hashlib
import io
from urllib.parse import quote

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME, AdminForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ciie_portal.access_log import access_record_many
from ciie_portal.admin import ReadOnlyAdminMixin
from ciie_portal.admin_uploads import SpreadsheetUploadForm, UploadReportView
from ciie_portal.audit import audit_record
from ciie_portal.context_processors import current_edition_for
from delegations.models import Delegation
from registration.models import PersonType, Visitor

from .cancellation import visitors_cancel
from .models import ReviewBatch, ReviewResult
from .selectors import can_list_for_delegation, pending_review_visitors
from .services import (
    delegation_review_list,
    review_batch_export,
    review_batch_file,
    review_plan_dump,
    review_plan_load,
    review_results_apply,
    review_results_import,
)
from .spreadsheet import MAX_EXPORT, XLSX

EXPORT = "credentials.add_reviewbatch"
IMPORT = "credentials.add_reviewresult"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def _xlsx_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    response["Cache-Control"] = "no-store"  # ID numbers in clear: never cached
    return response


class ReviewExportForm(forms.Form):
    delegation = forms.ModelChoiceField(
        label=gettext_lazy("Delegation"),
        queryset=Delegation.objects.filter(is_active=True).order_by("position", "pk"),
        required=False,
        help_text=gettext_lazy("Only the visitors of this delegation and its sub-delegations."),
    )
    person_types = forms.MultipleChoiceField(
        label=gettext_lazy("Person types"),
        choices=PersonType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy(
            "None ticked: every person type (foreign visitors take longer to check)."
        ),
    )
    only_new = forms.BooleanField(
        label=gettext_lazy("Only visitors not yet exported"),
        required=False,
        initial=True,
        help_text=gettext_lazy("Leave out visitors already sent in an earlier batch."),
    )
    limit = forms.IntegerField(
        label=gettext_lazy("At most"),
        min_value=1,
        max_value=MAX_EXPORT,
        initial=5000,
        help_text=gettext_lazy("Visitors in this batch, oldest first."),
    )


class ReviewImportForm(SpreadsheetUploadForm):
    max_bytes = MAX_UPLOAD_BYTES
    extension_message = gettext_lazy("Upload an Excel workbook (.xlsx).")
    size_message = gettext_lazy("The file is larger than 10 MB: split it into several files.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].label = gettext_lazy("Result file")
        self.fields["file"].help_text = gettext_lazy(
            "The exported batch with the columns “审核结果” and “不通过原因” filled in (.xlsx)."
        )


class ReviewImportView(UploadReportView):
    """导入: upload the results; preview what they would do; apply the good rows."""

    template_name = "admin/credentials/review_import.html"
    form_class = ReviewImportForm
    form_id = "review_import_form"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(IMPORT):
            raise PermissionDenied
        self.edition = current_edition_for(request)
        if self.edition is None:
            raise Http404(_("No edition is current."))
        self.title = _("Import review results")
        return super().dispatch(request, *args, **kwargs)

    def read(self, form):
        content = form.cleaned_data["file"].read()
        self.source_sha256 = hashlib.sha256(content).hexdigest()
        return review_results_import(
            rows_file=io.BytesIO(content),
            edition=self.edition,
            actor=self.request.user,
            dry_run=True,
        )

    def plan(self, report):
        if not report.to_apply:
            return ""
        return review_plan_dump(
            report, edition=self.edition, actor=self.request.user, source_sha256=self.source_sha256
        )

    def apply(self, plan):
        try:
            report, sha = review_plan_load(plan, edition=self.edition, actor=self.request.user)
        except ValidationError as error:
            # As a message above the page, which then offers the upload again.
            messages.error(self.request, " ".join(error.messages))
            return None
        report = review_results_apply(
            report=report, edition=self.edition, actor=self.request.user, source_sha256=sha
        )
        messages.success(
            self.request,
            _(
                "%(passed)d passed and %(failed)d failed recorded; %(units)d unit(s) "
                "told by SMS and email."
            )
            % {
                "passed": report.passed_count,
                "failed": report.failed_count,
                "units": report.units_told,
            },
        )
        return report

    def extra_context(self):
        opts = ReviewBatch._meta
        return {
            "opts": opts,
            "app_label": opts.app_label,
            "credentials_app": apps.get_app_config("credentials"),
            "edition": self.edition,
        }


@admin.register(ReviewBatch)
class ReviewBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "code",
        "edition",
        "delegation",
        "visitor_count",
        "passed",
        "failed",
        "exported_by",
        "exported_at",
    ]
    list_filter = ["edition"]
    list_select_related = ["edition", "delegation", "exported_by"]
    date_hierarchy = "exported_at"
    show_full_result_count = False
    fields = [
        "code",
        "edition",
        "delegation",
        "visitor_count",
        "passed",
        "failed",
        "file_name",
        "file_sha256",
        "exported_by",
        "exported_at",
        "links",
    ]
    readonly_fields = fields
    change_list_template = "admin/credentials/review_batch_change_list.html"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                passed_count=Count("results", filter=Q(results__outcome="passed")),
                failed_count=Count("results", filter=Q(results__outcome="failed")),
            )
        )

    @admin.display(description=gettext_lazy("batch"), ordering="pk")
    def code(self, batch):
        return batch.code

    @admin.display(description=gettext_lazy("passed"), ordering="passed_count")
    def passed(self, batch):
        return batch.passed_count

    @admin.display(description=gettext_lazy("failed"), ordering="failed_count")
    def failed(self, batch):
        return batch.failed_count

    @admin.display(description=gettext_lazy("links"))
    def links(self, batch):
        results = reverse("admin:credentials_reviewresult_changelist")
        return format_html(
            '<a href="{}">{}</a> · <a href="{}?batch__id__exact={}">{}</a>',
            reverse("admin:credentials_reviewbatch_download", args=[batch.pk]),
            _("Download the file again"),
            results,
            batch.pk,
            _("Results of this batch"),
        )

    # --- Custom pages ----------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("export/", view(self.export_view), name="credentials_reviewbatch_export"),
            path(
                "import/",
                view(ReviewImportView.as_view(admin_site=self.admin_site)),
                name="credentials_reviewbatch_import",
            ),
            path(
                "delegation-list/",
                view(self.delegation_list_view),
                name="credentials_reviewbatch_delegation_list",
            ),
            path(
                "<int:pk>/download/",
                view(self.download_view),
                name="credentials_reviewbatch_download",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_export": request.user.has_perm(EXPORT),
            "can_import": request.user.has_perm(IMPORT),
        }
        return super().changelist_view(request, extra_context=extra_context)

    def _page(self, request, template, title, **context):
        return TemplateResponse(
            request,
            f"admin/credentials/{template}",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.model._meta,
                "app_label": self.model._meta.app_label,
                "credentials_app": apps.get_app_config("credentials"),
                **context,
            },
        )

    def _edition(self, request):
        edition = current_edition_for(request)
        if edition is None:
            raise Http404(_("No edition is current."))
        return edition

    def export_view(self, request):
        """导出: a batch of visitors awaiting review, as the reviewer's spreadsheet."""
        if not request.user.has_perm(EXPORT):
            raise PermissionDenied
        edition = self._edition(request)
        form = ReviewExportForm(request.POST or None, initial={"limit": 5000, "only_new": True})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                batch, content = review_batch_export(
                    edition=edition,
                    actor=request.user,
                    delegation=data["delegation"],
                    person_types=data["person_types"],
                    only_new=data["only_new"],
                    limit=data["limit"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                return _xlsx_response(content, batch.file_name)
        return self._page(
            request,
            "review_export.html",
            _("Export visitors for review"),
            adminform=AdminForm(
                form, [(None, {"fields": ["delegation", "person_types", "only_new", "limit"]})], {}
            ),
            form=form,
            media=self.media + form.media,
            edition=edition,
            pending=pending_review_visitors(edition=edition).count(),
            not_exported=pending_review_visitors(edition=edition, only_new=True).count(),
        )

    def download_view(self, request, pk):
        """The batch's file again (the reviewer lost it)."""
        if not request.user.has_perm(EXPORT):
            raise PermissionDenied
        batch = get_object_or_404(ReviewBatch.objects.select_related("exported_by"), pk=pk)
        audit_record(actor=request.user, obj=batch, action="review.batch_download")
        access_record_many(
            actor=request.user, objects=batch.visitors.all(), what="export",
            via=f"review batch {batch.code} (again)",
        )  # fmt: skip
        return _xlsx_response(review_batch_file(batch), batch.file_name or f"{batch.code}.xlsx")

    def delegation_list_view(self, request):
        """A secretary's read-only list of their delegation's visitors awaiting review."""
        if not can_list_for_delegation(request.user):
            raise PermissionDenied
        edition = self._edition(request)
        if request.method == "POST":
            count, content = delegation_review_list(edition=edition, actor=request.user)
            return _xlsx_response(content, "待审核人员.xlsx")
        return self._page(
            request,
            "review_delegation_list.html",
            _("Visitors awaiting review"),
            delegation=request.user.secretary.delegation,
            pending=pending_review_visitors(edition=edition, user=request.user).count(),
            registration_app=apps.get_app_config("registration"),
            visitor_opts=Visitor._meta,
        )


@admin.register(ReviewResult)
class ReviewResultAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "visitor",
        "visitor_reference",
        "outcome",
        "reason",
        "batch",
        "recorded_by",
        "recorded_at",
    ]
    list_filter = ["outcome", "batch__edition"]
    list_select_related = ["visitor", "batch", "recorded_by"]
    search_fields = ["visitor__reference", "visitor__name", "reason"]
    raw_id_fields = ["batch"]
    show_full_result_count = False
    fields = [
        "visitor",
        "outcome",
        "reason",
        "batch",
        "recorded_by",
        "recorded_at",
        "source_sha256",
        "source_row",
    ]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("reference number"), ordering="visitor__reference")
    def visitor_reference(self, result):
        return result.visitor.reference


# --- 注销 by staff: an action of the visitor list (delegations.admin.VisitorAdmin) ----------
# Offered there through ``delegations.admin.visitor_action_register`` (CredentialsConfig.ready).


@admin.action(
    description=gettext_lazy("Cancel the selected visitors (注销)"), permissions=["change"]
)
def cancel_visitors(modeladmin, request, queryset):
    """Ask for the reason on an intermediate page, then cancel. ``queryset`` is already scoped
    to the user's delegation by the visitor admin."""
    if "confirm" in request.POST:
        result = visitors_cancel(
            visitors=queryset, actor=request.user, reason=request.POST.get("reason", "")
        )
        modeladmin.message_user(
            request,
            ngettext(
                "%(n)d visitor cancelled; the unit is told by email.",
                "%(n)d visitors cancelled; their units are told by email.",
                result.count,
            )
            % {"n": result.count},
            messages.SUCCESS if result.count else messages.WARNING,
        )
        if result.skipped:
            modeladmin.message_user(
                request,
                ngettext(
                    "%(n)d visitor could not be cancelled (saved, failed or already cancelled).",
                    "%(n)d visitors could not be cancelled (saved, failed or already cancelled).",
                    result.skipped,
                )
                % {"n": result.skipped},
                messages.WARNING,
            )
        return None
    return TemplateResponse(
        request,
        "admin/credentials/review_cancel_visitors.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": _("Cancel visitors (注销)"),
            "visitors": queryset.select_related("unit").order_by("pk"),
            "opts": modeladmin.model._meta,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        },
    )
