"""Empty forms rendered once per process (``ciie_portal.form_cache``): the same HTML as
crispy-forms renders, per language and per choices; forms with what the user typed never kept."""

from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field, as_crispy_form
from django.utils import translation

from ciie_portal import form_cache
from ciie_portal.templatetags.form_cache import as_crispy_field_kept, crispy_kept
from registration.forms_visitors import VisitorForm
from registration.models import PersonType, Visitor
from tests.ciie_portal.factories import EntryPeriodFactory
from tests.registration.factories import DeliveryAddressFactory


def _form(unit, person_type=PersonType.FOREIGN, data=None):
    return VisitorForm(
        data,
        unit=unit,
        person_type=person_type,
        instance=Visitor(unit=unit, edition=unit.edition, person_type=person_type),
    )


def test_it_renders_what_crispy_renders_in_each_language(unit):
    form_cache.clear()
    for language in ("zh-hans", "en", "zh-hans", "en"):
        with translation.override(language):
            assert crispy_kept(_form(unit)) == as_crispy_form(_form(unit))
            for person_type in PersonType.values:
                assert crispy_kept(_form(unit, person_type)) == as_crispy_form(
                    _form(unit, person_type)
                )
    with translation.override("en"):
        english = crispy_kept(_form(unit))
    with translation.override("zh-hans"):
        chinese = crispy_kept(_form(unit))
    assert "Germany" in english and "德国" in chinese and english != chinese


def test_new_choices_make_a_new_form(unit):
    with translation.override("zh-hans"):
        before = crispy_kept(_form(unit))
        DeliveryAddressFactory(unit=unit, address="上海市青浦区崧泽大道999号")
        EntryPeriodFactory(edition=unit.edition, name="最后一天", first_day=unit.edition.ends_on)
        after = crispy_kept(_form(unit))
        assert after == as_crispy_form(_form(unit))
    assert "崧泽大道999号" in after and "最后一天" in after
    assert "崧泽大道999号" not in before


def test_a_form_with_what_the_user_typed_is_rendered_each_time(unit):
    with translation.override("zh-hans"):
        crispy_kept(_form(unit))
        typed = _form(unit, data={"surname_en": "Smith", "given_name_en": "Anna"})
        html = crispy_kept(typed)
    assert 'value="Smith"' in html and 'value="Anna"' in html
    assert "invalid-feedback" in html  # its errors too


def test_a_field_alone_is_kept_as_crispy_renders_it(unit):
    form = _form(unit)
    with translation.override("en"):
        assert as_crispy_field_kept(form["nationality"]) == as_crispy_field(
            _form(unit)["nationality"]
        )
        assert as_crispy_field_kept(_form(unit)["nationality"]) == as_crispy_field(
            _form(unit)["nationality"]
        )
