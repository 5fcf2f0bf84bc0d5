"""A paid delegation order's page (the credentials app's admin) links to its invoices, under
the bank transfer's section: registered with ``credentials.orders.admin.order_section_register``,
since that app may not import this one."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from credentials.orders.admin import order_section_register


@admin.display(description=_("Invoices"))
def delegation_invoices_link(order):
    return format_html(
        '<a href="{}" id="delegation-invoice-link">{}</a>',
        reverse("invoicing:delegation_invoices", kwargs={"number": order.number}),
        _("Invoices"),
    )


order_section_register(
    title=_("Bank transfer"),
    display=delegation_invoices_link,
    applies=lambda order: order.is_delegation_order and order.status == order.Status.PAID,
)
