"""Finance's invoice desk: invoices to issue, posting, returns to confirm, reversals; and the
invoice types each edition offers (InvoiceOptions, for organisers).

Invoices are read-only here: every change is an action that calls a service, which moves the
invoice through its state machine and audits it. Viewing needs ``invoicing.view_invoice``;
the actions need ``invoicing.issue_invoice`` (the finance role has both).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ciie_portal.admin import AuditedAdminMixin, ReadOnlyAdminMixin
from credentials.models import CredentialOrder

from . import admin_orders  # noqa: F401  (its part of a delegation's order page)
from .forms import InvoiceRequestForm, kind_notes
from .models import ELECTRONIC_KINDS, Invoice, InvoiceKind, InvoiceLine, InvoiceOptions
from .numerals import amount_in_words
from .services import (
    invoice_issue,
    invoice_reject,
    invoice_request,
    invoice_return_confirm,
    invoice_reverse,
    invoice_ship,
    locked_title,
    offered_kinds,
)

ISSUE_INVOICE = "invoicing.issue_invoice"
Status = Invoice.Status


class WorkFilter(admin.SimpleListFilter):
    """What finance has to do: the desk's in-trays."""

    title = _("to do")
    parameter_name = "todo"

    def lookups(self, request, model_admin):
        return [
            ("issue", _("Paper special invoices to issue")),
            ("post", _("Paper special invoices to post")),
            ("returns", _("Returns to confirm")),
            ("electronic", _("Electronic invoices awaiting the system")),
        ]

    def queryset(self, request, queryset):
        special = queryset.filter(kind=InvoiceKind.SPECIAL)
        if self.value() == "issue":
            return special.filter(status=Status.REQUESTED)
        if self.value() == "post":
            return special.filter(status=Status.ISSUED, tracking_number="")
        if self.value() == "returns":
            return special.filter(status=Status.RETURNING)
        if self.value() == "electronic":
            return queryset.filter(kind__in=ELECTRONIC_KINDS, status=Status.REQUESTED)
        return queryset


class CreditNoteFilter(admin.SimpleListFilter):
    title = _("document")
    parameter_name = "document"

    def lookups(self, request, model_admin):
        return [("invoice", _("Invoices")), ("credit_note", _("Red-letter credit notes"))]

    def queryset(self, request, queryset):
        if self.value() == "invoice":
            return queryset.ordinary()
        if self.value() == "credit_note":
            return queryset.credit_notes()
        return queryset


class InvoiceLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    fields = ["position", "description", "quantity", "unit_price", "amount_excl_tax", "tax_amount"]
    readonly_fields = fields


class IssueForm(forms.Form):
    number = forms.CharField(
        label=_("Invoice number"),
        max_length=32,
        required=False,
        help_text=_("The number printed on the paper invoice; leave empty to draw the next one."),
    )
    issued_on = forms.DateField(
        label=_("Issue date"), widget=forms.DateInput(attrs={"type": "date"})
    )


class ShipForm(forms.Form):
    courier = forms.CharField(label=_("Courier"), max_length=50)
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=50)


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


class ReverseForm(forms.Form):
    reason = forms.CharField(label=_("Reason for the reversal"), max_length=200)


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "kind",
        "status",
        "is_credit_note",
        "title",
        "total",
        "order",
        "requested_at",
        "issued_on",
        "tracking_number",
    ]
    list_filter = [WorkFilter, "status", "kind", CreditNoteFilter, "edition"]
    list_select_related = ["order", "edition"]
    search_fields = ["number", "title", "tax_number", "order__number"]
    date_hierarchy = "requested_at"
    inlines = [InvoiceLineInline]
    fieldsets = [
        (None, {"fields": ["number", "kind", "status", "order", "edition", "original", "pdf"]}),
        (
            _("Buyer"),
            {
                "fields": [
                    "title_kind",
                    "title",
                    "title_locked",
                    "tax_number",
                    "phone",
                    "email",
                    "address",
                    "address_phone",
                    "bank_name",
                    "bank_account",
                    "remark",
                ]
            },
        ),
        (
            _("Amounts"),
            {"fields": ["tax_rate", "amount_excl_tax", "tax_amount", "total", "total_in_words"]},
        ),
        (
            _("Issue"),
            {
                "fields": [
                    "requested_at",
                    "requested_by",
                    "issued_on",
                    "issued_at",
                    "issued_by",
                    "seller",
                    "rejection_reason",
                ]
            },
        ),
        (
            _("Paper invoice"),
            {
                "fields": [
                    "courier",
                    "tracking_number",
                    "shipped_at",
                    "return_courier",
                    "return_tracking_number",
                    "return_posted_at",
                    "return_received_at",
                ]
            },
        ),
        (_("Reversal"), {"fields": ["reversal_reason", "reversed_at"]}),
    ]
    readonly_fields = [field for _title, options in fieldsets for field in options["fields"]]
    change_list_template = "invoicing/admin/change_list.html"
    actions = [
        "issue_special",
        "ship_special",
        "confirm_return",
        "reject_request",
        "reverse_electronic",
        "issue_electronic_now",
    ]

    def has_issue_permission(self, request):
        return request.user.has_perm(ISSUE_INVOICE)

    def get_urls(self):
        return [
            path(
                "request/",
                self.admin_site.admin_view(self.request_view),
                name="invoicing_invoice_request",
            ),
            *super().get_urls(),
        ]

    def request_view(self, request):
        """Finance asks for an invoice on a unit's behalf, or for an order without a unit (a
        delegation's consolidated order, 交易团代付), through the same service as the unit."""
        if not self.has_issue_permission(request):
            raise PermissionDenied
        number = request.GET.get("order", "").strip()
        order = (
            CredentialOrder.objects.select_related("unit", "edition").filter(number=number).first()
            if number
            else None
        )
        form, kinds = None, []
        if order is not None:
            kinds = offered_kinds(order.edition)
            form = InvoiceRequestForm(
                request.POST if request.method == "POST" else None,
                locked=locked_title(order),
                kinds=kinds,
            )
            form.fields.pop("save_profile")
            if request.method == "POST" and form.is_valid():
                try:
                    invoice = invoice_request(
                        order=order,
                        actor=request.user,
                        kind=form.cleaned_data["kind"],
                        buyer=form.buyer(),
                        remark=form.cleaned_data.get("remark", ""),
                    )
                except ValidationError as error:
                    form.add_error(None, error)
                else:
                    self.message_user(
                        request,
                        _("Invoice requested for order %(number)s.") % {"number": order.number},
                        messages.SUCCESS,
                    )
                    return redirect("admin:invoicing_invoice_change", invoice.pk)
        return TemplateResponse(
            request,
            "invoicing/admin/invoice_request.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Request an invoice for an order"),
                "opts": self.model._meta,
                "number": number,
                "order": order,
                "form": form,
                "kind_notes": kind_notes(kinds),
            },
        )

    def changelist_view(self, request, extra_context=None):
        extra = {"can_issue": self.has_issue_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    @admin.display(description=_("red-letter"), boolean=True)
    def is_credit_note(self, invoice):
        return invoice.is_credit_note

    @admin.display(description=_("total in words"))
    def total_in_words(self, invoice):
        return amount_in_words(invoice.total)

    @admin.display(description=_("PDF"))
    def pdf(self, invoice):
        if invoice.number is None:
            return "-"
        try:
            url = reverse("invoicing:pdf", kwargs={"pk": invoice.pk})
        except NoReverseMatch:  # the invoice pages are not mounted
            return "-"
        return format_html('<a href="{}" target="_blank">{}</a>', url, _("Download the PDF"))

    # --- Actions ---------------------------------------------------------------------------

    def _form_page(self, request, queryset, *, action, title, form, intro, eligible):
        return TemplateResponse(
            request,
            "invoicing/admin/invoice_action.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "intro": intro,
                "form": form,
                "invoices": eligible,
                "skipped": queryset.count() - len(eligible),
                "action": action,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def _report(self, request, message: str, done: int, skipped: int):
        self.message_user(request, message, messages.SUCCESS if done else messages.WARNING)
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)d selected invoice skipped: not in a state for this action.",
                    "%(n)d selected invoices skipped: not in a state for this action.",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Issue the selected paper special invoices"), permissions=["issue"])
    def issue_special(self, request, queryset):
        """开具专用发票: number (entered or drawn) and issue date, one form for the selection."""
        eligible = list(
            queryset.filter(kind=InvoiceKind.SPECIAL, status=Status.REQUESTED).select_related(
                "order"
            )
        )
        form = IssueForm(
            request.POST if "apply" in request.POST else None,
            initial={"issued_on": timezone.localdate()},
        )
        if "apply" in request.POST and form.is_valid():
            number = form.cleaned_data["number"].strip()
            if number and len(eligible) != 1:
                form.add_error("number", _("Enter a number only when issuing one invoice."))
            else:
                issued, errors = 0, []
                for invoice in eligible:
                    try:
                        done = invoice_issue(
                            invoice_id=invoice.pk,
                            actor=request.user,
                            number=number,
                            issued_on=form.cleaned_data["issued_on"],
                        )
                    except ValidationError as error:
                        errors.extend(error.messages)
                        continue
                    issued += done is not None
                for error in errors:
                    self.message_user(request, error, messages.ERROR)
                self._report(
                    request,
                    ngettext(
                        "%(n)d special invoice issued.", "%(n)d special invoices issued.", issued
                    )
                    % {"n": issued},
                    issued,
                    queryset.count() - len(eligible),
                )
                return None
        return self._form_page(
            request,
            queryset,
            action="issue_special",
            title=_("Issue special invoices"),
            intro=_("These special (paper) invoices are issued with the number and date below:"),
            form=form,
            eligible=eligible,
        )

    @admin.action(
        description=_("Enter courier and tracking number (posted)"), permissions=["issue"]
    )
    def ship_special(self, request, queryset):
        eligible = list(
            queryset.filter(kind=InvoiceKind.SPECIAL, status=Status.ISSUED).select_related("order")
        )
        form = ShipForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            posted = sum(
                invoice_ship(invoice_id=invoice.pk, actor=request.user, **form.cleaned_data)
                for invoice in eligible
            )
            self._report(
                request,
                ngettext(
                    "%(n)d paper invoice marked as posted.",
                    "%(n)d paper invoices marked as posted.",
                    posted,
                )
                % {"n": posted},
                posted,
                queryset.count() - len(eligible),
            )
            return None
        return self._form_page(
            request,
            queryset,
            action="ship_special",
            title=_("Paper invoices posted"),
            intro=_("These paper invoices were posted with the courier and tracking number below:"),
            form=form,
            eligible=eligible,
        )

    @admin.action(description=_("Confirm receipt of the returned invoices"), permissions=["issue"])
    def confirm_return(self, request, queryset):
        """The unit posted the paper invoice back and it arrived: it is reversed."""
        ids = queryset.filter(kind=InvoiceKind.SPECIAL, status=Status.RETURNING).values_list(
            "pk", flat=True
        )
        confirmed = sum(invoice_return_confirm(invoice_id=pk, actor=request.user) for pk in ids)
        self._report(
            request,
            ngettext(
                "%(n)d returned invoice received: it is reversed.",
                "%(n)d returned invoices received: they are reversed.",
                confirmed,
            )
            % {"n": confirmed},
            confirmed,
            queryset.count() - confirmed,
        )

    @admin.action(description=_("Reject the selected invoice requests"), permissions=["issue"])
    def reject_request(self, request, queryset):
        eligible = list(
            queryset.filter(status=Status.REQUESTED, original__isnull=True).select_related("order")
        )
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            rejected = sum(
                invoice_reject(
                    invoice_id=invoice.pk, actor=request.user, reason=form.cleaned_data["reason"]
                )
                for invoice in eligible
            )
            self._report(
                request,
                ngettext(
                    "%(n)d invoice request rejected: the unit may ask again.",
                    "%(n)d invoice requests rejected: the units may ask again.",
                    rejected,
                )
                % {"n": rejected},
                rejected,
                queryset.count() - len(eligible),
            )
            return None
        return self._form_page(
            request,
            queryset,
            action="reject_request",
            title=_("Reject invoice requests"),
            intro=_("These invoice requests are rejected with the reason below; the unit sees it:"),
            form=form,
            eligible=eligible,
        )

    @admin.action(
        description=_("Reverse the selected electronic invoices (red-letter credit note)"),
        permissions=["issue"],
    )
    def reverse_electronic(self, request, queryset):
        """General and special electronic invoices alike: a credit note of the same kind."""
        eligible = list(
            queryset.filter(
                kind__in=ELECTRONIC_KINDS, status=Status.ISSUED, original__isnull=True
            ).select_related("order")
        )
        form = ReverseForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            reversed_count = 0
            for invoice in eligible:
                try:
                    invoice_reverse(
                        invoice_id=invoice.pk,
                        actor=request.user,
                        reason=form.cleaned_data["reason"],
                    )
                except ValidationError as error:
                    self.message_user(request, " ".join(error.messages), messages.ERROR)
                    continue
                reversed_count += 1
            self._report(
                request,
                ngettext(
                    "%(n)d invoice reversed: a red-letter credit note is issued.",
                    "%(n)d invoices reversed: red-letter credit notes are issued.",
                    reversed_count,
                )
                % {"n": reversed_count},
                reversed_count,
                queryset.count() - len(eligible),
            )
            return None
        return self._form_page(
            request,
            queryset,
            action="reverse_electronic",
            title=_("Reverse electronic invoices"),
            intro=_("A red-letter credit note is issued for each of these invoices:"),
            form=form,
            eligible=eligible,
        )

    @admin.action(
        description=_("Issue the selected electronic invoices now"), permissions=["issue"]
    )
    def issue_electronic_now(self, request, queryset):
        """For an electronic invoice whose task was lost: issue it at once."""
        ids = queryset.filter(kind__in=ELECTRONIC_KINDS, status=Status.REQUESTED).values_list(
            "pk", flat=True
        )
        issued = sum(
            invoice_issue(invoice_id=pk, actor=request.user) is not None for pk in list(ids)
        )
        self._report(
            request,
            ngettext(
                "%(n)d electronic invoice issued.", "%(n)d electronic invoices issued.", issued
            )
            % {"n": issued},
            issued,
            queryset.count() - issued,
        )


@admin.register(InvoiceOptions)
class InvoiceOptionsAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """发票类型: which invoice types an edition offers its units (the electronic general invoice
    always). An edition without a row offers every type; each edit is audited with its old and
    new values. Turning a type off refuses new requests of it; requests already made stay."""

    list_display = ["edition", "electronic_special", "paper_special"]
    list_filter = ["electronic_special", "paper_special"]
    fields = ["edition", "electronic_special", "paper_special"]

    def get_readonly_fields(self, request, obj=None):
        return ["edition"] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        # Without its row an edition offers every type again: turn them off here instead.
        return False
