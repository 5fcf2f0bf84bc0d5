"""The unit's matching preferences: the countries and regions whose exhibitors it wants to
see."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django_countries import countries as all_countries


def _country_choices():
    # Called per form: the names in the request's language, sorted as django-countries sorts.
    return [(code, name) for code, name in all_countries]


class MatchingPreferencesForm(forms.Form):
    countries = forms.MultipleChoiceField(
        label=_("Countries and regions you want to see"),
        required=False,
        choices=_country_choices,
        widget=forms.SelectMultiple(attrs={"size": 12}),
        help_text=_(
            "Exhibitors from these countries and regions rank higher in your recommendations. "
            "Hold Ctrl (⌘ on a Mac) to choose several; on a phone, tap each one. Choose none "
            "to leave the country out of the matching."
        ),
    )
