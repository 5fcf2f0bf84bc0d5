from decimal import Decimal, InvalidOperation

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from ciie_portal.admin import ReadOnlyAdminMixin
from ciie_portal.context_processors import current_edition_for
from delegations.models import Delegation, Secretary

from .models import CredentialOrder, OrderLine
from .services import delegation_order_create, delegation_settlement

SETTLE = "credentials.settle_delegation_order"


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
        "transfer_details",
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
        if delegation_order:
            fieldsets.insert(1, (_("Bank transfer"), {"fields": ["transfer_details"]}))
        return fieldsets

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        user = request.user
        if getattr(user, "secretary", None) is not None and not (
            user.is_superuser or user.has_perm("registration.view_all_units")
        ):
            # A secretary sees the orders of their subtree: the units' orders (if given the
            # view permission) and the consolidated orders their delegation pays.
            subtree = Delegation.objects.subtree_of(user.secretary.delegation).values("pk")
            return queryset.filter(Q(unit__delegation__in=subtree) | Q(delegation__in=subtree))
        return queryset

    @admin.display(description=PAID_BY)
    def payer(self, order):
        return order.delegation if order.delegation_id else order.unit

    @admin.display(description=_("receiving account"))
    def transfer_details(self, order):
        """The account the delegation transfers to, and its page to submit the remittance."""
        # The payments app owns the account; the admin only shows it (a page, not a service).
        from payments.services import transfer_account

        account = transfer_account(order)
        try:
            url = reverse("payments:delegation_transfer", kwargs={"number": order.number})
        except NoReverseMatch:  # the payments pages are not mounted
            url = ""
        link = (
            format_html(
                '<br><a href="{}" id="delegation-transfer-link">{}</a>',
                url,
                _("Submit the remittance (bank transfer voucher)"),
            )
            if url
            else ""
        )
        if url and order.status == CredentialOrder.Status.PAID:
            link = format_html(
                '{}<br><a href="{}" id="delegation-invoice-link">{}</a>'
                '<br><a href="{}" id="delegation-refund-link">{}</a>',
                link,
                reverse("invoicing:delegation_invoices", kwargs={"number": order.number}),
                _("Invoices"),
                reverse("payments:delegation_refund", kwargs={"number": order.number}),
                _("Ask for a refund"),
            )
        return format_html(
            "{}: {}<br>{}: {}<br>{}: {}<br>{}: <strong>¥{}</strong><br>{}: <strong>{}</strong>"
            "<br>{}: {}{}",
            _("Account name"),
            account["name"],
            _("Bank"),
            account["bank"],
            _("Account number"),
            account["account_number"],
            _("Amount to pay"),
            order.total,
            _("Remittance reference"),
            account["reference"],
            _("Submit the remittance by"),
            timezone.localtime(order.expires_at).strftime("%Y-%m-%d %H:%M"),
            link,
        )

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


# The credential's later life, each in its own module.
from . import admin_issuance, admin_production, admin_review  # noqa: E402, F401
