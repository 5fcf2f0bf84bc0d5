"""``{{ form|crispy_kept }}`` and ``{{ field|as_crispy_field_kept }}``: crispy-forms' ``crispy``
and ``as_crispy_field`` filters, with the HTML of an unbound form kept per process
(``ciie_portal.form_cache``)."""

from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field, as_crispy_form
from django import template

from ciie_portal import form_cache

register = template.Library()


@register.filter
def crispy_kept(form):
    return form_cache.rendered("form", form, list(form), lambda: as_crispy_form(form))


@register.filter
def as_crispy_field_kept(field):
    return form_cache.rendered("field", field.form, [field], lambda: as_crispy_field(field))
