"""The portal's own look: the emblem and favicon, the language switch naming each language in
itself, the unit form in sections with their list, the licence's recognition status beside the
licence field, and the summary of errors linking to the fields."""

import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

from tests.registration.test_unit_info import valid_data

pytestmark = pytest.mark.django_db


def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_the_favicon_is_the_emblem(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("img/favicon.svg")
    assert finders.find("img/favicon.svg") and finders.find("img/emblem.svg")
    page = client.get("/").content.decode()
    assert 'rel="icon"' in page and "img/favicon.svg" in page
    assert "img/emblem.svg" in page


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_language_switch_names_each_language_in_itself(client, language):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = client.get("/").content.decode()
    switch = page[
        page.index('id="language-form"') : page.index("</form>", page.index('id="language-form"'))
    ]
    assert "简体中文" in switch and "English" in switch
    assert "英语" not in switch and "Simplified Chinese" not in switch
    # The language one reads is marked, the other is a button.
    current = re.search(r'aria-current="true">([^<]+)<', switch).group(1)
    assert current == ("简体中文" if language == "zh-hans" else "English")


@pytest.fixture
def draft_unit(unit):
    unit.status = "draft"
    unit.info_saved_at = None
    unit.save()
    return unit


def test_the_unit_form_comes_in_sections_with_their_list(client, contact, draft_unit):
    english(client).force_login(contact)
    page = client.get("/accounts/unit/").content.decode()
    anchors = re.findall(r'<fieldset[^>]*id="(unit-[a-z]+)"', page)
    assert anchors == [
        "unit-basics",
        "unit-address",
        "unit-business",
        "unit-contact",
        "unit-purchases",
    ]
    for anchor in anchors:
        assert f'href="#{anchor}"' in page  # the list beside the form
    assert "5. Purchase intentions" in page
    # The recognition's status stands right after the licence field, in the first section.
    basics = page[page.index('id="unit-basics"') : page.index('id="unit-address"')]
    assert basics.index('name="licence"') < basics.index('id="licence-ocr-status"')
    assert 'class="sticky-save"' in page


def test_errors_are_summarised_at_the_top_with_links_to_their_fields(client, contact, draft_unit):
    english(client).force_login(contact)
    response = client.post("/accounts/unit/", valid_data(contact_email="not an email", street=""))
    page = response.content.decode()
    summary = page[
        page.index('id="error-summary"') : page.index("</div>", page.index('id="error-summary"'))
    ]
    assert 'href="#id_contact_email"' in summary and 'href="#id_street"' in summary
    # Nothing typed is lost.
    assert 'value="天河路100号"' not in page  # the street was emptied on purpose
    assert 'value="陈联络"' in page
