"""Credential orders in the admin: read-only, scoped to a secretary's delegation, and the
secretary's 结算代付订单 (settle the visitors the delegation pays for)."""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from ciie_portal.admin import ReadOnlyAdminMixin
from ciie_portal.context_processors import current_edition_for
from delegations.models import Secretary
from delegations.selectors import scope_to_user

from .delegation import delegation_order_create, delegation_settlement
from .models import CredentialOrder, OrderLine

SETTLE = "credentials.settle_delegation_order"


# --- Sections that apps building on this one add to an order's page ----------------------------
# This app may not import them, yet an order's page shows what they own: for a delegation's order
# the payments app adds the account it transfers to and the links to its pages (pay, refund,
# invoices). Such an app registers its section from its own admin module; this app only shows it.


@dataclass(frozen=True)
class OrderSection:
    title: str
    #: An ``@admin.display`` function, order → HTML, shown read-only under ``title``.
    display: Callable[[CredentialOrder], str]
    #: Which orders get the section.
    applies: Callable[[CredentialOrder], bool]


_order_sections: list[OrderSection] = []


def order_section_register(
    *, title: str, display: Callable, applies: Callable[[CredentialOrder], bool]
) -> None:
    """Show ``display`` on the page of every order for which ``applies(order)``, in the section
    titled ``title`` after the order's own fields. Registering the same display again does
    nothing."""
    if all(section.display is not display for section in _order_sections):
        _order_sections.append(OrderSection(title=title, display=display, applies=applies))


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


# Not the remittance's "paid by" (汇款方): who owes the order, a unit or its delegation.
PAID_BY = pgettext_lazy("credential order", "paid by")


class PayerFilter(admin.SimpleListFilter):
    title = PAID_BY
    parameter_name = "payer"

    def lookups(self, request, model_admin):
        return [("unit", _("A unit")), ("delegation", pgettext_lazy("paid by", "The delegation"))]

    def queryset(self, request, queryset):
        if self.value() == "unit":
            return queryset.filter(unit__isnull=False)
        if self.value() == "delegation":
            return queryset.filter(delegation__isnull=False)
        return queryset


def _secretary_of(user) -> Secretary | None:
    return Secretary.objects.select_related("delegation").filter(user=user).first()


@admin.register(CredentialOrder)
class CredentialOrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["number", "payer", "status", "total", "created_at", "expires_at", "paid_at"]
    list_filter = ["status", PayerFilter, "edition"]
    list_select_related = ["unit", "delegation", "edition"]
    search_fields = ["number", "unit__name", "delegation__name"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-pk"]
    inlines = [OrderLineInline]
    readonly_fields = [
        "number",
        "edition",
        "unit",
        "delegation",
        "status",
        "total",
        "created_at",
        "created_by",
        "expires_at",
        "paid_at",
        "closed_at",
    ]

    def get_fieldsets(self, request, obj=None):
        delegation_order = obj is not None and obj.is_delegation_order
        payer = "delegation" if delegation_order else "unit"
        fieldsets = [
            (None, {"fields": ["number", "edition", payer, "status", "total"]}),
            (
                _("Times"),
                {"fields": ["created_at", "created_by", "expires_at", "paid_at", "closed_at"]},
            ),
        ]
        if obj is not None:
            # After the order's own fields; sections of one title (the apps' parts of one
            # topic) share one fieldset, in the order they were registered.
            added: dict[str, list] = {}
            for section in _order_sections:
                if section.applies(obj):
                    added.setdefault(section.title, []).append(section.display)
            fieldsets[1:1] = [(title, {"fields": displays}) for title, displays in added.items()]
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        sections = [section.display for section in _order_sections]
        return [*super().get_readonly_fields(request, obj), *sections]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if getattr(request.user, "secretary", None) is None:
            # Finance and organisers: every order (the view permission decides who comes in).
            return queryset
        # A secretary sees the orders of their subtree: the units' orders (if given the view
        # permission) and the consolidated orders their delegation pays.
        return scope_to_user(
            queryset, request.user, delegation_field="unit__delegation"
        ) | scope_to_user(queryset, request.user, delegation_field="delegation")

    @admin.display(description=PAID_BY)
    def payer(self, order):
        return order.delegation if order.delegation_id else order.unit

    # --- 结算代付订单: the secretary settles the visitors the delegation pays for -------------

    def has_settle_permission(self, request) -> bool:
        return request.user.has_perm(SETTLE) and _secretary_of(request.user) is not None

    def get_urls(self):
        return [
            path(
                "settle/",
                self.admin_site.admin_view(self.settle_view),
                name="credentials_credentialorder_settle",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_settle": self.has_settle_permission(request)}
        return super().changelist_view(request, extra_context=extra_context)

    def settle_view(self, request):
        """Show what the delegation would settle (how many visitors, the total), and make the
        consolidated order once the secretary confirms that total."""
        secretary = _secretary_of(request.user)
        if secretary is None or not request.user.has_perm(SETTLE):
            raise PermissionDenied
        changelist = reverse("admin:credentials_credentialorder_changelist")
        edition = current_edition_for(request)
        if edition is None:
            self.message_user(
                request,
                _("No edition is current: an organiser marks one as current."),
                messages.ERROR,
            )
            return redirect(changelist)
        delegation = secretary.delegation
        if request.method == "POST":
            try:
                expected = Decimal(request.POST.get("total", ""))
            except InvalidOperation:
                expected = None
            if expected is None:
                self.message_user(request, _("Confirm the total shown."), messages.ERROR)
            else:
                try:
                    order = delegation_order_create(
                        delegation=delegation,
                        actor=request.user,
                        edition=edition,
                        expected_total=expected,
                    )
                except ValidationError as error:
                    self.message_user(request, " ".join(error.messages), messages.ERROR)
                else:
                    count = order.lines.count()
                    self.message_user(
                        request,
                        ngettext(
                            "Order %(number)s made for %(count)d visitor: ¥%(total)s to pay by "
                            "bank transfer.",
                            "Order %(number)s made for %(count)d visitors: ¥%(total)s to pay by "
                            "bank transfer.",
                            count,
                        )
                        % {"number": order.number, "count": count, "total": order.total},
                        messages.SUCCESS,
                    )
                    return redirect("admin:credentials_credentialorder_change", object_id=order.pk)
        settlement = delegation_settlement(delegation=delegation, edition=edition)
        units: dict[int, dict] = {}
        for visitor in settlement.visitors:
            row = units.setdefault(
                visitor.unit_id, {"unit": visitor.unit, "count": 0, "total": Decimal("0.00")}
            )
            row["count"] += 1
            row["total"] += settlement.fees[visitor.pk]
        deadline = edition.payment_deadline("transfer")
        return TemplateResponse(
            request,
            "admin/credentials/credentialorder/settle.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Settle the delegation's paid visitors"),
                "opts": self.model._meta,
                "delegation": delegation,
                "edition": edition,
                "settlement": settlement,
                "units": list(units.values()),
                "deadline": deadline,
                "closed": timezone.now() > deadline,
            },
        )
