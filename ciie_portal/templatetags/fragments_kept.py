"""``{% kept name value … %}…{% endkept %}``: Django's ``{% cache %}`` fragment, kept for as
long as the process runs in the "template_fragments" cache (per-process memory,
``settings.CACHES``), under its name, the values given and what every fragment is rendered
from besides: the language, the URLconf and the script prefix (its ``{% url %}``s).

For the parts every page shares (the top bar, the menus, the footer): a fragment names every
value it shows, so a changed value is a new key and nothing needs invalidating. What differs per
request (the CSRF token, the page's own address) stays outside.
"""

from django import template
from django.conf import settings
from django.templatetags.cache import CacheNode
from django.urls import get_script_prefix, get_urlconf
from django.utils.translation import get_language

register = template.Library()


class _RenderedFrom:
    """The key's part every fragment varies on (resolved as a ``vary_on`` value)."""

    def resolve(self, context):
        return f"{get_language()}|{get_urlconf() or settings.ROOT_URLCONF}|{get_script_prefix()}"


@register.tag
def kept(parser, token):
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError("'kept' takes a fragment name, then its values.")
    nodelist = parser.parse(("endkept",))
    parser.delete_first_token()
    return CacheNode(
        nodelist,
        parser.compile_filter("None"),  # no expiry: the key changes instead
        bits[1],
        [*(parser.compile_filter(bit) for bit in bits[2:]), _RenderedFrom()],
        None,  # the "template_fragments" cache
    )
