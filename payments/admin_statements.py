"""Bank statements in the admin: upload, map the columns, import, and the matching queue.

Finance only (permission ``payments.confirm_transfer``): everyone else sees neither the models
nor the pages, and the statement file is served only through the permission-checked view.
"""

from itertools import islice

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ciie_portal.admin import ReadOnlyAdminMixin
from ciie_portal.private_files import private_file_response

from .models import BankStatement, StatementEntry
from .statement_files import FIELDS, MAX_FILE_BYTES, columns_check, order_numbers_in, parse_amount
from .statements import (
    entries_match,
    statement_entry_ignore,
    statement_entry_match,
    statement_import,
    statement_outgoing,
    statement_table,
    statement_upload,
)

CONFIRM_TRANSFER = "payments.confirm_transfer"
PREVIEW_ROWS = 5
REPORT_ROWS = 200


def is_finance(request) -> bool:
    user = request.user
    return user.is_active and user.is_staff and user.has_perm(CONFIRM_TRANSFER)


class FinanceOnlyMixin(ReadOnlyAdminMixin):
    """Statements are finance's: other staff see nothing of them (not even the model)."""

    def has_module_permission(self, request):
        return is_finance(request)

    def has_view_permission(self, request, obj=None):
        return is_finance(request)

    def has_confirm_transfer_permission(self, request):
        return is_finance(request)


# --- Forms --------------------------------------------------------------------------------------


class StatementUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Bank statement (CSV)"),
        help_text=_(
            "The statement exported from online banking as CSV (UTF-8 or GBK, separated by "
            "commas, semicolons or tabs), at most 10 MB."
        ),
        widget=forms.FileInput(attrs={"accept": ".csv,.txt,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".txt")):
            raise ValidationError(
                _("Upload the statement as a CSV file (.csv); save an Excel export as CSV."),
                code="extension",
            )
        if upload.size > MAX_FILE_BYTES:
            raise ValidationError(_("The file is larger than 10 MB."), code="size")
        return upload


class StatementMappingForm(forms.Form):
    """One dropdown per field, listing the file's columns."""

    def __init__(self, *args, headers, columns, **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = headers
        choices = [("", "—")] + [(str(i), header) for i, header in enumerate(headers)]
        for spec in FIELDS:
            self.fields[spec.key] = forms.ChoiceField(
                label=spec.label,
                choices=choices,
                required=spec.required,
                help_text=spec.help,
                initial=str(columns[spec.key]) if spec.key in columns else "",
            )

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                self.columns = columns_check(
                    {key: value for key, value in cleaned.items() if value != ""}, self.headers
                )
            except ValidationError as error:
                raise ValidationError(error.messages) from error
        return cleaned


# --- Bank statements ----------------------------------------------------------------------------


@admin.register(BankStatement)
class BankStatementAdmin(FinanceOnlyMixin, admin.ModelAdmin):
    change_list_template = "payments/admin/statement_change_list.html"
    list_display = [
        "filename",
        "status",
        "uploaded_at",
        "uploaded_by",
        "rows_total",
        "rows_new",
        "rows_repeated",
        "rows_matched",
        "next_step",
    ]
    list_filter = ["status"]
    list_select_related = ["uploaded_by"]
    search_fields = ["filename", "sha256"]
    date_hierarchy = "uploaded_at"
    fieldsets = [
        (None, {"fields": ["filename", "status", "file_link", "sha256", "next_step"]}),
        (
            _("Rows"),
            {"fields": ["rows_total", "rows_new", "rows_repeated", "rows_matched", "outgoing"]},
        ),
        (_("Column mapping"), {"fields": ["mapping_display"]}),
        (_("Record"), {"fields": ["uploaded_by", "uploaded_at", "imported_at"]}),
    ]
    readonly_fields = [field for _title, options in fieldsets for field in options["fields"]]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("upload/", view(self.upload_view), name="payments_bankstatement_upload"),
            path(
                "<int:statement_id>/map/",
                view(self.map_view),
                name="payments_bankstatement_map",
            ),
            path(
                "<int:statement_id>/report/",
                view(self.report_view),
                name="payments_bankstatement_report",
            ),
            path(
                "<int:statement_id>/file/",
                view(self.file_view),
                name="payments_bankstatement_file",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("next"))
    def next_step(self, statement):
        if statement.status == BankStatement.Status.UPLOADED:
            url = reverse("admin:payments_bankstatement_map", args=[statement.pk])
            return format_html('<a href="{}">{}</a>', url, _("Map the columns and import"))
        url = reverse("admin:payments_bankstatement_report", args=[statement.pk])
        return format_html('<a href="{}">{}</a>', url, _("Report"))

    @admin.display(description=_("statement file"))
    def file_link(self, statement):
        url = reverse("admin:payments_bankstatement_file", args=[statement.pk])
        return format_html('<a href="{}">{}</a>', url, statement.filename)

    @admin.display(description=_("debit rows skipped"))
    def outgoing(self, statement):
        return statement_outgoing(statement)

    @admin.display(description=_("column mapping"))
    def mapping_display(self, statement):
        headers = statement.mapping.get("headers") or []
        columns = statement.mapping.get("columns") or {}
        rows = [
            (spec.label, headers[columns[spec.key]])
            for spec in FIELDS
            if spec.key in columns and columns[spec.key] < len(headers)
        ]
        if not rows:
            return "-"
        return format_html(
            "<br>".join(["{}: {}"] * len(rows)),
            *(value for row in rows for value in row),
        )

    # --- The pages ------------------------------------------------------------------------------

    def _context(self, request, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "entry_opts": StatementEntry._meta,
            **extra,
        }

    def _finance_or_403(self, request):
        if not is_finance(request):
            raise PermissionDenied

    def upload_view(self, request):
        """Step 1: the file. It is kept; nothing is imported before the mapping is confirmed."""
        self._finance_or_403(request)
        form = StatementUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                statement = statement_upload(upload=form.cleaned_data["file"], actor=request.user)
            except ValidationError as error:
                form.add_error("file", error)
            else:
                return HttpResponseRedirect(
                    reverse("admin:payments_bankstatement_map", args=[statement.pk])
                )
        return TemplateResponse(
            request,
            "payments/admin/statement_upload.html",
            self._context(
                request,
                title=_("Upload a bank statement"),
                form=form,
                adminform=admin.helpers.AdminForm(form, [(None, {"fields": ["file"]})], {}),
            ),
        )

    def map_view(self, request, statement_id):
        """Step 2: which column is which, with the first rows to see it; then import."""
        self._finance_or_403(request)
        statement = get_object_or_404(BankStatement, pk=statement_id)
        if statement.status != BankStatement.Status.UPLOADED:
            return HttpResponseRedirect(
                reverse("admin:payments_bankstatement_report", args=[statement.pk])
            )
        table = statement_table(statement)
        headers = table.headers
        form = StatementMappingForm(
            request.POST or None,
            headers=headers,
            columns=statement.mapping.get("columns") or {},
        )
        refused = []
        if request.method == "POST" and form.is_valid():
            try:
                report = statement_import(
                    statement_id=statement.pk, columns=form.columns, actor=request.user
                )
            except ValidationError as error:
                refused = error.messages
            else:
                self.message_user(
                    request,
                    _(
                        "%(new)d new rows imported, %(repeated)d imported before; "
                        "%(matched)d matched to orders, %(queued)d left in the queue."
                    )
                    % {
                        "new": report.new,
                        "repeated": report.repeated,
                        "matched": report.matching.matched,
                        "queued": report.matching.queued,
                    },
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:payments_bankstatement_report", args=[statement.pk])
                )
        preview = [cells for _number, cells in islice(table.data_rows(), PREVIEW_ROWS)]
        earlier = (
            BankStatement.objects.filter(
                sha256=statement.sha256, status=BankStatement.Status.IMPORTED
            )
            .exclude(pk=statement.pk)
            .order_by("-imported_at")
            .first()
        )
        return TemplateResponse(
            request,
            "payments/admin/statement_map.html",
            self._context(
                request,
                title=_("Map the columns of %(file)s") % {"file": statement.filename},
                statement=statement,
                form=form,
                headers=headers,
                preview=preview,
                refused=refused,
                earlier=earlier,
                remembered=statement.mapping.get("guessed_from") == "remembered",
            ),
        )

    def report_view(self, request, statement_id):
        """Step 3: what the import did, and what is left for finance."""
        self._finance_or_403(request)
        statement = get_object_or_404(
            BankStatement.objects.select_related("uploaded_by"), pk=statement_id
        )
        counts = statement.entries.aggregate(
            queued=Count("pk", filter=Q(match=StatementEntry.Match.UNMATCHED)),
            ignored=Count("pk", filter=Q(match=StatementEntry.Match.IGNORED)),
            flagged=Count("pk", filter=Q(payment__flagged=True)),
        )
        queue = (
            statement.entries.filter(match=StatementEntry.Match.UNMATCHED)
            .order_by("booked_on", "pk")
            .only("booked_on", "amount", "payer_name", "reference", "note")[:REPORT_ROWS]
        )
        flagged = (
            statement.entries.filter(payment__flagged=True)
            .select_related("payment__order")
            .order_by("booked_on", "pk")[:REPORT_ROWS]
        )
        queue_url = reverse("admin:payments_statemententry_changelist")
        return TemplateResponse(
            request,
            "payments/admin/statement_report.html",
            self._context(
                request,
                title=_("Import of %(file)s") % {"file": statement.filename},
                statement=statement,
                outgoing=statement_outgoing(statement),
                counts=counts,
                queue=queue,
                flagged=flagged,
                queue_url=f"{queue_url}?statement__id__exact={statement.pk}"
                f"&match__exact={StatementEntry.Match.UNMATCHED}",
            ),
        )

    def file_view(self, request, statement_id):
        """The file as uploaded, for finance only (it names payers and their accounts)."""
        self._finance_or_403(request)
        statement = get_object_or_404(BankStatement, pk=statement_id)
        return private_file_response(
            statement.file, as_attachment=True, filename=statement.filename,
            content_type="text/csv",
        )  # fmt: skip


# --- The queue ----------------------------------------------------------------------------------


class FlaggedFilter(admin.SimpleListFilter):
    title = _("flagged for finance")
    parameter_name = "flagged"

    def lookups(self, request, model_admin):
        return [("yes", _("Money not accepted (flagged payment)"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(payment__flagged=True)
        return queryset


def _queued(queryset):
    return queryset.filter(match=StatementEntry.Match.UNMATCHED, payment__isnull=True)


@admin.register(StatementEntry)
class StatementEntryAdmin(FinanceOnlyMixin, admin.ModelAdmin):
    list_display = [
        "booked_on",
        "amount",
        "payer_name",
        "reference",
        "match",
        "order_number",
        "flagged",
        "note",
        "bank_reference",
        "statement",
    ]
    list_filter = ["match", FlaggedFilter, "booked_on", "statement"]
    list_select_related = ["statement", "payment__order"]
    search_fields = ["payer_name", "reference", "payer_account", "bank_reference"]
    date_hierarchy = "booked_on"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "statement",
                    "booked_on",
                    "amount",
                    "payer_name",
                    "payer_account",
                    "reference",
                    "bank_reference",
                ]
            },
        ),
        (
            _("Matching"),
            {"fields": ["match", "payment", "order_number", "note", "matched_by", "matched_at"]},
        ),
        (_("Row as read"), {"fields": ["raw", "checksum"]}),
    ]
    readonly_fields = [field for _title, options in fieldsets for field in options["fields"]]
    actions = ["rematch", "ignore", "match_to_order"]

    def get_search_results(self, request, queryset, search_term):
        """Also find an amount: "1200", "1,200.00" and "¥1200" all find 1200.00."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            amount = parse_amount(search_term)
        except ValueError:
            amount = None
        if amount is not None:
            found |= queryset.filter(amount=amount)
        return found, may_have_duplicates

    @admin.display(description=_("order"), ordering="payment__order__number")
    def order_number(self, entry):
        if entry.payment_id is None:
            return "-"
        number = entry.payment.order.number
        try:
            url = reverse("admin:credentials_credentialorder_change", args=[entry.payment.order_id])
        except NoReverseMatch:
            return number
        return format_html('<a href="{}">{}</a>', url, number)

    @admin.display(description=_("flagged"), boolean=True)
    def flagged(self, entry):
        return bool(entry.payment_id and entry.payment.flagged)

    # --- Actions --------------------------------------------------------------------------------

    @admin.action(
        description=_("Match the selected entries to orders again"),
        permissions=["confirm_transfer"],
    )
    def rematch(self, request, queryset):
        report = entries_match(
            entry_ids=list(_queued(queryset).values_list("pk", flat=True)), actor=request.user
        )
        self.message_user(
            request,
            _(
                "%(confirmed)d payments confirmed, %(linked)d linked to transfers confirmed "
                "before, %(flagged)d flagged for finance, %(queued)d left in the queue."
            )
            % {
                "confirmed": report.confirmed,
                "linked": report.linked,
                "flagged": report.flagged,
                "queued": report.queued,
            },
            messages.SUCCESS if report.matched else messages.WARNING,
        )

    @admin.action(
        description=_("Not an order payment: take out of the queue"),
        permissions=["confirm_transfer"],
    )
    def ignore(self, request, queryset):
        """Ask for a note first: what is this money?"""
        note = request.POST.get("note", "").strip()
        entries = _queued(queryset).select_related("statement")
        if "note" in request.POST and note:
            ignored = sum(
                statement_entry_ignore(entry_id=pk, note=note, actor=request.user)
                for pk in entries.values_list("pk", flat=True)
            )
            self.message_user(
                request,
                ngettext(
                    "%(n)d entry taken out of the queue.",
                    "%(n)d entries taken out of the queue.",
                    ignored,
                )
                % {"n": ignored},
                messages.SUCCESS if ignored else messages.WARNING,
            )
            return None
        return TemplateResponse(
            request,
            "payments/admin/statement_entry_ignore.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Not an order payment"),
                "entries": entries,
                "skipped": queryset.count() - entries.count(),
                "missing_note": "note" in request.POST,
                "opts": self.model._meta,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description=_("Match to an order by hand"), permissions=["confirm_transfer"])
    def match_to_order(self, request, queryset):
        """One entry, the order number and the reason; the amount must still be the total."""
        entries = list(_queued(queryset)[:2])
        if len(entries) != 1 or queryset.count() != 1:
            self.message_user(
                request,
                _("Select exactly one entry of the queue to match it by hand."),
                messages.ERROR,
            )
            return None
        entry = entries[0]
        error = ""
        if "order_number" in request.POST:
            try:
                outcome = statement_entry_match(
                    entry_id=entry.pk,
                    order_number=request.POST["order_number"],
                    actor=request.user,
                    reason=request.POST.get("reason", ""),
                )
            except ValidationError as refusal:
                error = " ".join(refusal.messages)
            else:
                entry.refresh_from_db()
                text = {
                    "confirmed": _("Payment confirmed: the order is paid."),
                    "linked": _("Linked to the transfer confirmed before."),
                    "flagged": _(
                        "Not confirmed: the money is recorded on a flagged payment. %(note)s"
                    ),
                    "queued": _("Not matched: %(note)s"),
                }[outcome] % {"note": entry.note}
                level = messages.SUCCESS if outcome in ("confirmed", "linked") else messages.WARNING
                self.message_user(request, text, level)
                return None
        numbers = sorted(order_numbers_in(entry.reference))
        return TemplateResponse(
            request,
            "payments/admin/statement_entry_match.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Match to an order by hand"),
                "entry": entry,
                "error": error,
                "order_number": request.POST.get("order_number", numbers[0] if numbers else ""),
                "reason": request.POST.get("reason", ""),
                "opts": self.model._meta,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )
