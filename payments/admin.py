from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ciie_portal.admin import ReadOnlyAdminMixin

from .models import Payment, PaymentNotification


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
    list_filter = ["status", "method", "flagged"]
    list_select_related = ["order"]
    search_fields = ["order__number", "provider_reference"]
    date_hierarchy = "created_at"
    fieldsets = [
        (None, {"fields": ["order", "method", "amount", "status"]}),
        (_("Gateway"), {"fields": ["provider_reference", "received_amount"]}),
        (_("For finance"), {"fields": ["flagged", "flag_reason"]}),
        (_("Times"), {"fields": ["created_at", "created_by", "confirmed_at"]}),
    ]
    readonly_fields = [field for _title, options in fieldsets for field in options["fields"]]


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
