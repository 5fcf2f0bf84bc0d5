"""Templates compiled once per language, with their constant texts translated at compile time.

A page of the portal holds some 40 ``{% translate "…" %}`` tags; Django looks each one up in
the catalogue on every render (about a twentieth of a page's CPU, ``benchmarks/rush.py``). A
tag whose text is a literal — no filter, no variable, no ``as``, no ``noop``, a literal context
if any — gives the same text for the same language every time. This loader, Django's cached
loader in every other respect, keeps each template once per active language and replaces such
tags by the text they render in that language, rendered by the tag itself.

Only the portal's own templates are changed (those under ``BASE_DIR`` outside installed
packages): a package may keep a template object it loaded once and render it in several
languages. Nothing else about the templates changes; ``{% language %}`` blocks would need the
tags inside them left alone, and the portal's templates have none
(``tests/ciie_portal/test_template_loaders.py`` keeps it so).
"""

from pathlib import Path

from django.conf import settings
from django.template import Context
from django.template.base import TextNode, Variable
from django.template.defaulttags import IfNode
from django.template.loaders import cached
from django.templatetags.i18n import LanguageNode, TranslateNode
from django.utils.translation import get_language


def _literal(expression) -> bool:
    """A quoted string without filters (or no expression at all)."""
    if expression is None:
        return True
    if expression.filters:
        return False
    var = expression.var
    return isinstance(var, str) or (isinstance(var, Variable) and var.lookups is None)


def constant(node) -> bool:
    """Whether a ``{% translate %}`` tag renders the same text whatever the context."""
    return (
        isinstance(node, TranslateNode)
        and not node.noop
        and node.asvar is None
        and _literal(node.filter_expression)
        and node.filter_expression.var.literal is not None
        and _literal(node.message_context)
    )


def _child_nodelists(node):
    if isinstance(node, IfNode):
        yield from (nodelist for _condition, nodelist in node.conditions_nodelists)
        return
    for attr in getattr(node, "child_nodelists", ()):
        nodelist = getattr(node, attr, None)
        if nodelist:
            yield nodelist


def translate_constants(nodelist) -> int:
    """Replace, in place, the constant ``{% translate %}`` tags of ``nodelist`` (and of the
    nodelists inside its tags) by the text they render now. Returns how many were replaced."""
    replaced = 0
    for index, node in enumerate(nodelist):
        if isinstance(node, LanguageNode):
            continue  # rendered in another language than the active one
        if constant(node):
            text = TextNode(node.render(Context(autoescape=True)))
            text.token, text.origin = getattr(node, "token", None), getattr(node, "origin", None)
            nodelist[index] = text
            replaced += 1
            continue
        for child in _child_nodelists(node):
            replaced += translate_constants(child)
    return replaced


def _own(origin) -> bool:
    name = Path(str(origin.name))
    base = Path(settings.BASE_DIR)
    return base in name.parents and "site-packages" not in name.parts


class Loader(cached.Loader):
    """Django's cached loader, keeping each template per active language with its constant
    texts translated (``translate_constants``) when it is one of the portal's own."""

    def cache_key(self, template_name, skip=None):
        return f"{super().cache_key(template_name, skip)}@{get_language() or ''}"

    def get_template(self, template_name, skip=None):
        known = self.cache_key(template_name, skip) in self.get_template_cache
        template = super().get_template(template_name, skip)
        if not known and _own(template.origin):
            translate_constants(template.nodelist)
        return template
