"""Country fields checking a code by lookup (``ciie_portal.countries``): the same answers as
django-countries' walk over its choices, through the visitor form and the model."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from registration.forms_visitors import VisitorForm
from registration.models import PersonType, Unit, Visitor


def _form(unit, person_type, nationality):
    return VisitorForm(
        {"nationality": nationality},
        unit=unit,
        person_type=person_type,
        instance=Visitor(unit=unit, edition=unit.edition, person_type=person_type),
    )


@pytest.mark.parametrize(
    ("person_type", "code", "valid"),
    [
        (PersonType.FOREIGN, "DE", True),
        (PersonType.FOREIGN, "de", False),  # codes are upper-case, as in the select
        (PersonType.FOREIGN, "XX", False),
        (PersonType.FOREIGN, "Germany", False),
        (PersonType.OVERSEAS_CHINESE, "SG", True),
        (PersonType.HMT, "HK", True),
        (PersonType.HMT, "DE", False),  # the form narrowed the choices to three regions
    ],
)
def test_the_form_accepts_exactly_the_codes_it_offers(unit, person_type, code, valid):
    form = _form(unit, person_type, code)
    form.is_valid()
    offered = {str(value) for value, _label in form.fields["nationality"].choices if value}
    assert (code in offered) is valid
    assert ("nationality" not in form.errors) is valid
    if not valid:
        with translation.override("en"):
            assert "Select a valid choice" in str(_form(unit, person_type, code).errors)


def test_the_model_refuses_an_unknown_code_with_django_countries_message(unit):
    visitor = Visitor(unit=unit, edition=unit.edition, nationality="DE")
    Visitor._meta.get_field("nationality").validate(visitor.nationality, visitor)
    visitor.nationality = "XX"
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        Visitor._meta.get_field("nationality").validate(visitor.nationality, visitor)
    assert refused.value.code == "invalid_choice"
    assert "is not a valid choice" in refused.value.messages[0]
    with pytest.raises(ValidationError):
        Unit._meta.get_field("country").validate("ZZ", None)
    Unit._meta.get_field("country").validate("", None)  # blank is allowed


def test_the_codes_are_django_countries_own():
    from django_countries import countries

    field = Visitor._meta.get_field("nationality")
    assert field.country_codes == {code for code, _name in countries}
    assert len(field.country_codes) >= 249
