from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ciie_portal.admin import ReadOnlyAdminMixin
from delegations.selectors import scope_to_user

from .models import CredentialOrder, OrderLine


class OrderLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = ["visitor", "visitor_id_number", "label", "entry_period", "pickup", "fee", "open"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("visitor", "entry_period")

    @admin.display(description=_("ID number"))
    def visitor_id_number(self, line):
        return line.visitor.id_number_masked


@admin.register(CredentialOrder)
class CredentialOrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["number", "unit", "status", "total", "created_at", "expires_at", "paid_at"]
    list_filter = ["status", "edition"]
    list_select_related = ["unit", "edition"]
    search_fields = ["number", "unit__name"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-pk"]
    inlines = [OrderLineInline]
    fieldsets = [
        (None, {"fields": ["number", "edition", "unit", "status", "total"]}),
        (
            _("Times"),
            {"fields": ["created_at", "created_by", "expires_at", "paid_at", "closed_at"]},
        ),
    ]
    readonly_fields = [
        "number",
        "edition",
        "unit",
        "status",
        "total",
        "created_at",
        "created_by",
        "expires_at",
        "paid_at",
        "closed_at",
    ]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        user = request.user
        if getattr(user, "secretary", None) is not None and not (
            user.is_superuser or user.has_perm("registration.view_all_units")
        ):
            # A secretary (if given the view permission) sees only their delegation's orders.
            return scope_to_user(queryset, user, delegation_field="unit__delegation")
        return queryset
