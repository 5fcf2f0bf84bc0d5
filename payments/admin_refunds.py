"""Refunds in the admin: finance approves or rejects them, and marks bank transfers sent."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ciie_portal.admin import ReadOnlyAdminMixin

from .models import Method, Refund, RefundLine
from .refunds import refund_approve, refund_complete, refund_reject

APPROVE_REFUND = "payments.approve_refund"


class RefundLineInline(admin.TabularInline):
    model = RefundLine
    fields = ["visitor", "visitor_status", "order_line_fee", "amount", "active"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order_line__visitor")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("visitor"))
    def visitor(self, line):
        return line.order_line.visitor.name

    @admin.display(description=_("status"))
    def visitor_status(self, line):
        return line.order_line.visitor.get_status_display()

    @admin.display(description=_("credential fee (CNY)"))
    def order_line_fee(self, line):
        return line.order_line.fee


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "order",
        "payment_method",
        "amount",
        "status",
        "route",
        "requested_at",
        "decided_at",
        "refunded_at",
    ]
    list_filter = ["status", "route", "payment__method"]
    list_select_related = ["order", "payment"]
    search_fields = ["number", "order__number", "order__unit__name", "payee_name"]
    date_hierarchy = "requested_at"
    inlines = [RefundLineInline]
    fieldsets = [
        (None, {"fields": ["number", "order", "payment", "amount", "status", "reason"]}),
        (
            _("Refund route"),
            {"fields": ["route", "payee_name", "payee_account", "payee_bank", "payee_bank_code"]},
        ),
        (
            _("For finance"),
            {"fields": ["rejection_reason", "provider_reference", "last_error"]},
        ),
        (
            _("Times"),
            {
                "fields": [
                    "requested_at",
                    "requested_by",
                    "decided_at",
                    "decided_by",
                    "refunded_at",
                ]
            },
        ),
    ]
    readonly_fields = [field for _title, options in fieldsets for field in options["fields"]]
    actions = ["approve", "reject", "mark_refunded"]

    def has_approve_permission(self, request):
        return request.user.has_perm(APPROVE_REFUND)

    @admin.display(description=_("payment method"), ordering="payment__method")
    def payment_method(self, refund):
        return refund.payment.get_method_display()

    def _report(self, request, done: int, total: int, success: str, skipped: str):
        if done:
            self.message_user(request, success % {"n": done}, messages.SUCCESS)
        if total - done:
            self.message_user(request, skipped % {"n": total - done}, messages.WARNING)

    @admin.action(description=_("Approve the selected refunds"), permissions=["approve"])
    def approve(self, request, queryset):
        """审核通过: 未退款 → 退款中; gateway refunds are sent at once, after commit."""
        ids = list(queryset.values_list("pk", flat=True))
        done = 0
        for refund_id in ids:
            try:
                done += refund_approve(refund_id=refund_id, actor=request.user)
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
        self._report(
            request,
            done,
            len(ids),
            ngettext("%(n)d refund approved.", "%(n)d refunds approved.", done),
            _("%(n)d not approved: not awaiting a decision, or blocked."),
        )

    @admin.action(description=_("Reject the selected refunds"), permissions=["approve"])
    def reject(self, request, queryset):
        waiting = queryset.filter(status=Refund.Status.REQUESTED)
        text = request.POST.get("text", "").strip()
        if "text" in request.POST and text:
            done = sum(
                refund_reject(refund_id=pk, actor=request.user, reason=text)
                for pk in waiting.values_list("pk", flat=True)
            )
            self._report(
                request,
                done,
                queryset.count(),
                ngettext("%(n)d refund rejected.", "%(n)d refunds rejected.", done),
                _("%(n)d left as they are: not awaiting a decision."),
            )
            return None
        return self._ask(
            request,
            queryset,
            waiting,
            action="reject",
            title=_("Reject refunds"),
            label=_("Reason (the unit sees it)"),
            missing=_("Give the reason for rejecting the refund."),
        )

    @admin.action(
        description=_("Mark the selected bank transfer refunds as sent"), permissions=["approve"]
    )
    def mark_refunded(self, request, queryset):
        """Finance sent the money back by bank transfer: record the bank's reference."""
        sent = queryset.filter(status=Refund.Status.REFUNDING, payment__method=Method.TRANSFER)
        text = request.POST.get("text", "").strip()
        if "text" in request.POST and text:
            done = sum(
                refund_complete(refund_id=pk, actor=request.user, reference=text)
                for pk in sent.values_list("pk", flat=True)
            )
            self._report(
                request,
                done,
                queryset.count(),
                ngettext(
                    "%(n)d refund marked as refunded.", "%(n)d refunds marked as refunded.", done
                ),
                _("%(n)d left as they are: not bank transfer refunds in progress."),
            )
            return None
        return self._ask(
            request,
            queryset,
            sent,
            action="mark_refunded",
            title=_("Bank transfer refunds sent"),
            label=_("Bank reference of the refund transfer"),
            missing=_("Give the bank's or gateway's reference of the refund."),
        )

    def _ask(self, request, queryset, eligible, *, action, title, label, missing):
        return TemplateResponse(
            request,
            "payments/admin/refund_action.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "label": label,
                "missing": missing if "text" in request.POST else "",
                "refunds": eligible.select_related("order"),
                "skipped": queryset.count() - eligible.count(),
                "action": action,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )
