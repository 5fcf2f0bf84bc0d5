from django import template
from django.utils import timezone

from payments.models import Method
from payments.services import payment_refusal

register = template.Library()


@register.simple_tag
def payment_methods(order):
    """The online methods for ``order``, each with its deadline, whether it can be used now and,
    if not, why (``services.payment_refusal``, the rule ``payment_create`` applies)."""
    now = timezone.now()
    edition = order.edition
    methods = []
    for method in Method:
        refusal = payment_refusal(order, method.value, now)
        methods.append(
            {
                "value": method.value,
                "label": method.label,
                "deadline": edition.payment_deadline(method.value),
                "open": not refusal,
                "refusal": refusal,
            }
        )
    return methods


@register.filter
def refusals_if_all_closed(methods) -> list[str]:
    """Each distinct reason, in order, when no method can be used: the page shows them instead
    of the buttons. Empty while a method is open."""
    if any(method["open"] for method in methods):
        return []
    return list(dict.fromkeys(method["refusal"] for method in methods))
