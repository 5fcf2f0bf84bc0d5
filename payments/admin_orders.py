"""A delegation's order page (the credentials app's admin) shows the account the delegation
transfers to and the links to this app's pages for it: registered with
``credentials.orders.admin.order_section_register``, since that app may not import this one."""

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from credentials.orders.admin import order_section_register

from .services import transfer_account


@admin.display(description=_("receiving account"))
def delegation_transfer_details(order):
    """The account the delegation transfers to, and its page to submit the remittance."""
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
    if url and order.status == order.Status.PAID:
        link = format_html(
            '{}<br><a href="{}" id="delegation-refund-link">{}</a>',
            link,
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


order_section_register(
    title=_("Bank transfer"),
    display=delegation_transfer_details,
    applies=lambda order: order.is_delegation_order,
)
