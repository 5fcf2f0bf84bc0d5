"""``{% url %}`` with the URLs it reverses kept per process.

Django's ``reverse`` walks the URLconf's patterns on every call (about 10 µs); a visitor list
page reverses some 26 URLs, a fifth of its rendering. The same view name, arguments, URLconf,
script prefix, language and current app always give the same URL while the process runs, so
this tag — loaded as a builtin in ``TEMPLATES`` in place of Django's — keeps the answers (the
most recent 8,192). A name that does not reverse raises, or gives "" with ``as``, as Django's.
"""

from functools import lru_cache

from django import template
from django.conf import settings
from django.template import defaulttags
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape
from django.utils.translation import get_language

register = template.Library()


@lru_cache(maxsize=8192)
def _reversed(view_name, args, kwargs, current_app, urlconf, root, prefix, language) -> str:
    return reverse(view_name, args=args, kwargs=dict(kwargs), current_app=current_app)


def kept_reverse(view_name, args=(), kwargs=None, current_app=None) -> str:
    """``reverse`` remembered for the current URLconf, script prefix and language; arguments
    that cannot be remembered (unhashable) are reversed each time."""
    key = (
        view_name,
        tuple(args),
        tuple(sorted((kwargs or {}).items())),
        current_app,
        get_urlconf(),
        settings.ROOT_URLCONF,
        get_script_prefix(),
        get_language(),
    )
    try:
        hash(key)
    except TypeError:
        return reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)
    return _reversed(*key)


class KeptURLNode(defaulttags.URLNode):
    def render(self, context):
        from django.urls import NoReverseMatch

        args = [arg.resolve(context) for arg in self.args]
        kwargs = {k: v.resolve(context) for k, v in self.kwargs.items()}
        view_name = self.view_name.resolve(context)
        try:
            current_app = context.request.current_app
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace
            except AttributeError:
                current_app = None
        url = ""
        try:
            url = kept_reverse(view_name, args, kwargs, current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token):
    node = defaulttags.url(parser, token)
    return KeptURLNode(node.view_name, node.args, node.kwargs, node.asvar)
