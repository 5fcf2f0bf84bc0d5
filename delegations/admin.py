from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from registration.models import DeliveryAddress, Unit, Visitor
from registration.returning import one_click_invite_send
from registration.services import UNIT_INFO_FIELDS

from .models import Delegation, DelegationContact, Secretary
from .selectors import scope_to_user


class DelegationContactInline(admin.TabularInline):
    model = DelegationContact
    extra = 0
    fields = ["position", "office", "persons", "phone", "email"]


class SubDelegationInline(admin.TabularInline):
    model = Delegation
    fk_name = "parent"
    extra = 0
    fields = ["position", "name", "code", "contact_unit", "is_active"]
    show_change_link = True
    verbose_name = _("sub-delegation")
    verbose_name_plural = _("sub-delegations")


class IsGroupFilter(admin.SimpleListFilter):
    title = _("level")
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return [("group", _("Trade delegation")), ("sub", _("Sub-delegation"))]

    def queryset(self, request, queryset):
        if self.value() == "group":
            return queryset.filter(parent__isnull=True)
        if self.value() == "sub":
            return queryset.filter(parent__isnull=False)
        return queryset


@admin.register(Delegation)
class DelegationAdmin(admin.ModelAdmin):
    list_display = ["name", "parent", "contact_unit", "sub_delegations", "is_active"]
    list_filter = [IsGroupFilter, "is_active"]
    list_select_related = ["parent"]
    search_fields = ["name", "code", "contact_unit", "contacts__persons"]
    prepopulated_fields = {}
    inlines = [DelegationContactInline, SubDelegationInline]
    fieldsets = [
        (None, {"fields": ["name", "code", "parent", "position", "is_active"]}),
        (_("Secretariat"), {"fields": ["contact_unit", "province_code"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(sub_count=Count("children"))

    @admin.display(description=_("sub-delegations"), ordering="sub_count")
    def sub_delegations(self, obj):
        return obj.sub_count


@admin.register(Secretary)
class SecretaryAdmin(admin.ModelAdmin):
    list_display = ["user", "delegation"]
    list_select_related = ["user", "delegation"]
    search_fields = ["user__username", "delegation__name"]
    autocomplete_fields = ["user", "delegation"]


class DelegationScopedAdmin(admin.ModelAdmin):
    """Secretaries see only their own delegation's subtree; see ``scope_to_user``."""

    delegation_field = "delegation"

    def get_queryset(self, request):
        return scope_to_user(
            super().get_queryset(request), request.user, delegation_field=self.delegation_field
        )


class DeliveryAddressInline(admin.TabularInline):
    model = DeliveryAddress
    extra = 0
    fields = ["recipient", "mobile", "address", "postcode", "is_default"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Unit)
class UnitAdmin(DelegationScopedAdmin):
    list_display = ["name", "uscc", "category", "delegation", "status", "submitted_at"]
    list_filter = ["status", "category", "region", "kind", "edition"]
    list_select_related = ["delegation", "edition"]
    search_fields = ["name", "uscc", "account_number"]
    # Units fill in their own information; the admin shows it and reviews it.
    readonly_fields = [
        "status", "edition", "account", "submitted_at", "created_at", "updated_at",
        "licence_link", *UNIT_INFO_FIELDS[2:], "info_saved_at", "previous",
    ]  # fmt: skip
    inlines = [DeliveryAddressInline]
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["edition", "delegation", "status", "submitted_at"]}),
        (_("Unit"), {"fields": [
            "region", "category", "kind", "name", "short_name", "uscc", "account_number",
            "recommendation_code", "invitation_code", "licence_link",
        ]}),
        (_("Unit information"), {"fields": [*UNIT_INFO_FIELDS[2:], "info_saved_at"]}),
        (_("Record"), {"fields": ["account", "previous", "created_at", "updated_at"]}),
    ]  # fmt: skip

    actions = ["send_one_click_invite"]

    @admin.action(
        description=_("Send the one-click registration link (earlier editions)"),
        permissions=["invite"],
    )
    def send_one_click_invite(self, request, queryset):
        sent = one_click_invite_send(
            units=queryset, actor=request.user, base_url=request.build_absolute_uri("/")
        )
        self.message_user(
            request,
            ngettext(
                "%(n)d unit was sent its one-click registration link.",
                "%(n)d units were sent their one-click registration link.",
                sent,
            )
            % {"n": sent},
            messages.SUCCESS,
        )

    def has_invite_permission(self, request):
        # Organisers only: they see every delegation's units.
        return request.user.has_perm("registration.view_all_units")

    @admin.display(description=_("qualification document"))
    def licence_link(self, obj):
        if not obj.licence:
            return "—"
        return format_html(
            '<a href="{}" target="_blank">{}</a>',
            reverse("delegations:unit_licence", args=[obj.pk]),
            _("view"),
        )


@admin.register(Visitor)
class VisitorAdmin(DelegationScopedAdmin):
    delegation_field = "unit__delegation"
    list_display = [
        "name",
        "id_number_masked",
        "person_type",
        "unit",
        "label",
        "status",
        "reference",
    ]
    list_filter = ["status", "label", "person_type", "id_type", "edition"]
    list_select_related = ["unit"]
    search_fields = ["name", "reference", "unit__name"]
    readonly_fields = [
        "edition", "unit", "reference", "person_type", "name", "id_type", "id_number_masked",
        "status", "photo_preview", "sex", "birth_date", "nationality", "surname_en",
        "given_name_en", "permit_name", "job_category", "position", "mobile", "email",
        "entry_period", "pickup", "address", "pledged_at", "submitted_at", "reuse_eligible",
        "created_at", "updated_at",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": [
            "edition", "unit", "reference", "status", "label", "photo_preview",
        ]}),
        (_("Person"), {"fields": [
            "person_type", "name", "surname_en", "given_name_en", "permit_name", "sex",
            "birth_date", "nationality", "id_type", "id_number_masked", "job_category",
            "position", "mobile", "email",
        ]}),
        (_("Credential"), {"fields": [
            "entry_period", "pickup", "address", "reuse_eligible", "pledged_at", "submitted_at",
            "created_at", "updated_at",
        ]}),
    ]  # fmt: skip

    @admin.display(description=_("photo"))
    def photo_preview(self, obj):
        if not obj.photo:
            return "—"
        return format_html(
            '<img src="{}" alt="" style="max-width:120px">',
            reverse("delegations:visitor_photo", args=[obj.pk]),
        )

    show_full_result_count = False

    def has_add_permission(self, request):
        return False
