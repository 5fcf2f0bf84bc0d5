from django import template
from django.utils import timezone

from payments.models import Method

register = template.Library()


@register.simple_tag
def payment_methods(order):
    """The online methods for ``order``, each with its deadline and whether it is still open."""
    now = timezone.now()
    edition = order.edition
    return [
        {
            "value": method.value,
            "label": method.label,
            "deadline": edition.payment_deadline(method.value),
            "open": now <= edition.payment_deadline(method.value),
        }
        for method in Method
    ]
