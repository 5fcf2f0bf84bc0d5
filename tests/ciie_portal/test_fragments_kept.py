"""The parts every page shares — the top bar, the menus, the footer, a unit's own menu — kept
rendered per process (``{% kept %}``: ``ciie_portal.templatetags.fragments_kept``) under what
they show: another language, a renamed edition, another page or kind of unit, another URLconf
is a fragment of its own, and what differs per request stays outside."""

import re

import pytest
from django.template import engines
from django.test import override_settings

from ciie_portal.models import Edition
from registration.models import Unit


def render(text, **context):
    return engines["django"].from_string("{% load fragments_kept %}" + text).render(context)


def _footer(page: str) -> str:
    return page[page.index('<footer class="portal-footer') :]


def test_each_language_has_its_own_top_bar_menus_and_footer(client, edition):
    chinese = client.get("/", headers={"accept-language": "zh-hans"}).content.decode()
    english = client.get("/", headers={"accept-language": "en"}).content.decode()
    again = client.get("/", headers={"accept-language": "zh-hans"}).content.decode()
    assert "本网站所有日期和时间均为北京时间" in _footer(chinese)
    assert "All dates and times on this site are Beijing time" in _footer(english)
    assert '<span class="portal-language portal-language-current" lang="zh-hans"' in chinese
    assert '<span class="portal-language portal-language-current" lang="en"' in english
    assert _footer(again) == _footer(chinese)


def test_a_renamed_edition_shows_on_the_next_page(client, edition):
    client.get("/")
    Edition.objects.filter(pk=edition.pk).update(name="第十届（改名）", name_en="10th (renamed)")
    edition.refresh_from_db()
    page = client.get("/", headers={"accept-language": "zh-hans"}).content.decode()
    top = page[page.index('class="portal-topbar-edition"') :]
    assert top.split("</span>")[0].count(edition.display_name) == 1
    assert edition.display_name in _footer(page)


def test_the_csrf_token_and_the_address_stay_per_request(client, edition):
    first = client.get("/privacy/").content.decode()
    second = client.get("/?from=here").content.decode()
    assert 'name="next" type="hidden" value="/privacy/"' in first
    assert 'name="next" type="hidden" value="/?from=here"' in second
    tokens = [
        re.search(
            r'id="language-form">\s*<input type="hidden" name="csrfmiddlewaretoken" '
            r'value="([^"]+)"',
            page,
        ).group(1)
        for page in (first, second)
    ]
    assert tokens[0] != tokens[1]  # masked anew for every page


def test_the_unit_menu_marks_the_page_and_fits_the_kind_of_unit(client, unit, edition):
    client.force_login(unit.account)
    visitors = client.get("/accounts/visitors/").content.decode()
    progress = client.get("/accounts/").content.decode()
    assert re.search(r'class="nav-link active" href="/accounts/visitors/" aria-current', visitors)
    assert re.search(r'class="nav-link active" href="/accounts/" aria-current', progress)
    for page in (visitors, progress):
        menu = page[page.index('id="unit-nav"') : page.index("</nav>", page.index('id="unit-nav"'))]
        assert menu.count('aria-current="page"') == 1
    assert "/accounts/join/" in visitors  # a unit invites colleagues
    Unit.objects.filter(pk=unit.pk).update(kind=Unit.Kind.INDIVIDUAL)
    alone = client.get("/accounts/visitors/").content.decode()
    assert 'href="/accounts/join/"' not in alone  # an individual registration does not


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_values_named_are_part_of_the_key(language):
    from django.utils import translation

    with translation.override(language):
        text = "{% kept sample name %}[{{ name }}]{% endkept %}"
        assert render(text, name="甲") == "[甲]"
        assert render(text, name="乙") == "[乙]"
        assert render(text, name="甲") == "[甲]"


@override_settings(ROOT_URLCONF="tests.ciie_portal.urls_other")
def test_another_urlconf_renders_its_own_fragment():
    text = "{% kept sample_urls %}{% url 'other' %}{% endkept %}"
    assert render(text) == "/elsewhere/"
    with override_settings(ROOT_URLCONF="ciie_portal.urls"):
        assert render("{% kept sample_urls %}{% url 'landing' %}{% endkept %}") == "/"
