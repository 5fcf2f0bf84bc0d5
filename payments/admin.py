from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ciie_portal.admin import ReadOnlyAdminMixin

from .models import Method, Payment, PaymentNotification, StatementEntry, TransferRemittance
from .services import transfer_confirm, transfer_reject

CONFIRM_TRANSFER = "payments.confirm_transfer"


class AwaitingConfirmationFilter(admin.SimpleListFilter):
    title = _("bank transfers")
    parameter_name = "transfer"

    def lookups(self, request, model_admin):
        return [("awaiting", _("Awaiting confirmation"))]

    def queryset(self, request, queryset):
        if self.value() == "awaiting":
            return queryset.filter(method=Method.TRANSFER, status=Payment.Status.CREATED)
        return queryset


def _awaiting(queryset):
    return queryset.filter(method=Method.TRANSFER, status=Payment.Status.CREATED)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "pk",
        "order",
        "method",
        "amount",
        "status",
        "flagged",
        "received_amount",
        "created_at",
        "confirmed_at",
    ]
    list_filter = [AwaitingConfirmationFilter, "status", "method", "flagged"]
    list_select_related = ["order"]
    search_fields = ["order__number", "provider_reference"]
    date_hierarchy = "created_at"
    fieldsets = [
        (None, {"fields": ["order", "method", "amount", "status"]}),
        (_("Gateway"), {"fields": ["provider_reference", "received_amount"]}),
        (_("Bank transfer"), {"fields": ["remittance_details"]}),
        (_("For finance"), {"fields": ["flagged", "flag_reason", "statement_entry_link"]}),
        (_("Times"), {"fields": ["created_at", "created_by", "confirmed_at"]}),
    ]
    readonly_fields = [field for _title, options in fieldsets for field in options["fields"]]
    actions = ["confirm_transfer", "reject_transfer"]

    def has_confirm_transfer_permission(self, request):
        return request.user.has_perm(CONFIRM_TRANSFER)

    @admin.display(description=_("bank statement entry"))
    def statement_entry_link(self, payment):
        entry = StatementEntry.objects.filter(payment=payment).first()
        if entry is None:
            return "-"
        url = reverse("admin:payments_statemententry_change", args=[entry.pk])
        return format_html('<a href="{}">{}</a>', url, entry)

    @admin.display(description=_("remittance"))
    def remittance_details(self, payment):
        remittance = TransferRemittance.objects.filter(payment=payment).first()
        if remittance is None:
            return "-"
        try:
            url = reverse("payments:voucher", kwargs={"payment_id": payment.pk})
        except NoReverseMatch:  # the payments pages are not mounted
            url = ""
        return format_html(
            "{}: {}<br>{}: {}<br>{}: {}<br>{}: {}<br>{}: ¥{}<br>{}: {}<br>{}: {}<br>{}",
            _("paid by"),
            remittance.get_payer_kind_display(),
            _("paying unit or person"),
            remittance.payer_name,
            _("bank branch"),
            remittance.bank_branch,
            _("account number"),
            remittance.account_number,
            _("amount remitted (CNY)"),
            remittance.amount,
            _("remitted on"),
            remittance.remitted_on.isoformat(),
            _("telephone"),
            remittance.phone,
            format_html('<a href="{}" target="_blank">{}</a>', url, _("remittance voucher"))
            if url
            else remittance.voucher.name,
        )

    @admin.action(
        description=_("Confirm the selected bank transfers"), permissions=["confirm_transfer"]
    )
    def confirm_transfer(self, request, queryset):
        """确认到账: the money arrived; refused (flagged) when the amount is not the order's."""
        results = {"confirmed": 0, "flagged": 0, "skipped": 0}
        for payment_id in queryset.values_list("pk", flat=True):
            try:
                results[transfer_confirm(payment_id=payment_id, actor=request.user)] += 1
            except ValidationError as error:
                results["skipped"] += 1
                self.message_user(request, " ".join(error.messages), messages.ERROR)
        if results["confirmed"]:
            self.message_user(
                request,
                ngettext(
                    "%(n)d transfer confirmed: its order is paid.",
                    "%(n)d transfers confirmed: their orders are paid.",
                    results["confirmed"],
                )
                % {"n": results["confirmed"]},
                messages.SUCCESS,
            )
        if results["flagged"]:
            self.message_user(
                request,
                ngettext(
                    "%(n)d transfer not confirmed and flagged: the amount or the order does "
                    "not fit.",
                    "%(n)d transfers not confirmed and flagged: the amount or the order does "
                    "not fit.",
                    results["flagged"],
                )
                % {"n": results["flagged"]},
                messages.WARNING,
            )
        if results["skipped"]:
            self.message_user(
                request,
                ngettext(
                    "%(n)d payment skipped: not a bank transfer awaiting confirmation.",
                    "%(n)d payments skipped: not bank transfers awaiting confirmation.",
                    results["skipped"],
                )
                % {"n": results["skipped"]},
                messages.WARNING,
            )

    @admin.action(
        description=_("Reject the selected bank transfers"), permissions=["confirm_transfer"]
    )
    def reject_transfer(self, request, queryset):
        """The money did not arrive or the voucher does not fit: ask for the reason first."""
        reason = request.POST.get("reason", "").strip()
        if "reason" in request.POST and reason:
            rejected = sum(
                transfer_reject(payment_id=pk, actor=request.user, reason=reason)
                for pk in _awaiting(queryset).values_list("pk", flat=True)
            )
            self.message_user(
                request,
                ngettext(
                    "%(n)d transfer rejected: the unit may submit a new remittance.",
                    "%(n)d transfers rejected: the units may submit a new remittance.",
                    rejected,
                )
                % {"n": rejected},
                messages.SUCCESS if rejected else messages.WARNING,
            )
            return None
        return TemplateResponse(
            request,
            "payments/admin/transfer_reject.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Reject bank transfers"),
                "payments": _awaiting(queryset).select_related("order", "remittance"),
                "skipped": queryset.count() - _awaiting(queryset).count(),
                "missing_reason": "reason" in request.POST,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(PaymentNotification)
class PaymentNotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "received_at",
        "provider",
        "provider_transaction_id",
        "payment",
        "signature_valid",
        "result",
        "times_received",
    ]
    list_filter = ["provider", "result", "signature_valid"]
    list_select_related = ["payment"]
    search_fields = ["provider_transaction_id", "payment__order__number"]
    date_hierarchy = "received_at"
    fields = [
        "received_at",
        "provider",
        "provider_transaction_id",
        "payment",
        "signature_valid",
        "result",
        "detail",
        "times_received",
        "body",
    ]
    readonly_fields = fields


from . import admin_orders, admin_refunds, admin_statements  # noqa: E402, F401  (their own modules)
