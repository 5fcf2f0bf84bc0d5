from django import template

from credentials.models import CredentialOrder

from ..models import Invoice, InvoiceKind

register = template.Library()


@register.inclusion_tag("invoicing/_order_actions.html")
def invoice_actions(order):
    """开票 / 查看发票 / 查看物流 / 退票 for one order of the order list or page.

    Reads ``order.invoices.all()``: prefetch ``"invoices"`` in a list to keep one query.
    """
    invoices = list(order.invoices.all())
    live = next(
        (i for i in invoices if i.original_id is None and i.status in Invoice.BLOCKING_STATES),
        None,
    )
    return {
        "order": order,
        "invoice": live,
        "has_invoices": bool(invoices),
        "can_request": live is None and order.status == CredentialOrder.Status.PAID,
        "paper": live is not None and live.kind == InvoiceKind.SPECIAL,
    }


@register.filter
def capital_amount(amount):
    """¥200.00 → 贰佰元整."""
    from ..numerals import amount_in_words

    return amount_in_words(amount)


@register.filter
def tax_percent(rate):
    """Decimal("0.0600") → 6%."""
    return f"{(rate * 100).normalize():f}%"
