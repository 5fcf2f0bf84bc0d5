"""``{% url %}`` remembering what it reversed (``ciie_portal.templatetags.urls_kept``): the same
URLs as Django's own tag, for every URLconf, language and argument."""

import pytest
from django.template import engines
from django.test import override_settings
from django.urls import NoReverseMatch, reverse

from ciie_portal.templatetags import urls_kept


def render(text, **context):
    return engines["django"].from_string(text).render(context)


def test_the_tag_is_the_builtin_and_gives_djangos_urls():
    assert render("{% url 'registration:visitors' %}") == reverse("registration:visitors")
    for pk in (1, 22, 333):
        assert render("{% url 'registration:visitor_edit' pk %}", pk=pk) == reverse(
            "registration:visitor_edit", args=[pk]
        )
        assert render("{% url 'registration:visitor_edit' pk=pk %}", pk=pk) == reverse(
            "registration:visitor_edit", kwargs={"pk": pk}
        )


def test_a_name_that_does_not_reverse_raises_or_gives_nothing_with_as():
    with pytest.raises(NoReverseMatch):
        render("{% url 'no-such-view' %}")
    assert render("{% url 'no-such-view' as there %}[{{ there }}]") == "[]"


def test_as_a_variable():
    text = "{% url 'registration:visitors' as u %}{{ u }}"
    assert render(text) == reverse("registration:visitors")


@override_settings(ROOT_URLCONF="tests.ciie_portal.urls_other")
def test_another_urlconf_is_reversed_anew():
    assert render("{% url 'registration:visitors' as u %}[{{ u }}]") == "[]"
    assert render("{% url 'other' %}") == "/elsewhere/"


def test_unhashable_arguments_are_reversed_each_time():
    class Seven:  # equal to nothing else, and so unhashable
        __hash__ = None

        def __str__(self):
            return "7"

    kept = urls_kept._reversed.cache_info().currsize
    assert urls_kept.kept_reverse("registration:visitor_edit", [Seven()]) == reverse(
        "registration:visitor_edit", args=[7]
    )
    assert urls_kept._reversed.cache_info().currsize == kept
