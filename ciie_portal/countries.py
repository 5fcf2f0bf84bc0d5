"""Country fields that check a code by looking it up: django-countries' field validates a code
by walking its 249 choices in the language of the request (names translated and sorted on
each walk), once in the form and once more in the model, and the kept form (``form_cache``)
would walk them again for its key. The choices, the error messages and the stored values are
django-countries' own; only the lookups are faster.
"""

from functools import cached_property

from django.utils.translation import get_language
from django_countries import fields as countries_fields


class CountryChoiceField(countries_fields.LazyTypedChoiceField):
    """The form field of ``CountryField``: while its choices are the field's countries (none
    set since), a posted code is checked in a set; choices set later (a form narrowing them
    to three regions) are walked as usual."""

    #: The codes of every country of the model field, while the choices are those countries.
    country_codes: frozenset | None = None

    @property
    def choices(self):
        return self._choices

    @choices.setter
    def choices(self, value):
        countries_fields.LazyTypedChoiceField.choices.fset(self, value)
        self.country_codes = None

    def valid_value(self, value):
        if self.country_codes is not None:
            return str(value) in self.country_codes
        return super().valid_value(value)

    def choices_signature(self):
        """What the rendered choices depend on (``form_cache``): the countries, by language."""
        if self.country_codes is None:
            return None
        return ("countries", get_language(), len(self.country_codes))


class CountryField(countries_fields.CountryField):
    """django-countries' ``CountryField`` (one country), with the code looked up in a set."""

    @cached_property
    def country_codes(self) -> frozenset:
        return frozenset(code for code, _name in self.countries)

    def validate(self, value, model_instance):
        if not self.multiple and self.editable and value and str(value) in self.country_codes:
            return  # a known code: what the walk over the choices would have found
        super().validate(value, model_instance)

    def formfield(self, **kwargs):
        if self.multiple:
            return super().formfield(**kwargs)
        field = super().formfield(choices_form_class=CountryChoiceField, **kwargs)
        if isinstance(field, CountryChoiceField):
            field.country_codes = self.country_codes
        return field


_NAMES: dict = {}


def country_name(country) -> str:
    """``country.name`` (a django-countries ``Country``) in the active language, translated
    once per code and language: the admin's visitor list shows it in every row."""
    key = (country.code, get_language())
    name = _NAMES.get(key)
    if name is None:
        name = _NAMES[key] = str(country.name)
    return name
