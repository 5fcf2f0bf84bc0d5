"""采购商满意度调查 in a real browser: the contact opens the survey from the dashboard, saves a
draft, comes back to it, submits without a required answer (told next to that question,
nothing lost), answers it and submits; the answers are then read-only. In Chinese on a desktop
and in English on a 390×844 phone; axe-core finds no serious violation on the form; no
Content-Security-Policy violation on the way (tests/browser/conftest.py)."""

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, expect

from delegations.survey.models import SurveyAnswer, SurveyResponse
from tests.browser.test_every_page import AXE, AXE_RUN
from tests.delegations.survey_factories import buyer_survey

pytestmark = pytest.mark.django_db(transaction=True)

LANG = {"zh-CN": "zh-hans", "en-US": "en"}


def _sign_in(page: Page, live_server, user):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def _option(page: Page, question, position: int):
    """The radio button or checkbox of ``question``'s choice at ``position``, by its label."""
    return page.locator(f"#id_q{question.pk}_{position}")


def _journey(page: Page, live_server, unit, survey, language):
    q = survey.q
    page.set_default_timeout(15_000)
    _sign_in(page, live_server, unit.account)
    page.goto(live_server.url + "/accounts/")
    expect(page.locator("html")).to_have_attribute("lang", LANG[language])
    panel = page.locator("#survey-panel")
    expect(panel).to_have_attribute("data-state", "new")
    title = "采购商满意度调查" if language == "zh-CN" else "Buyer satisfaction survey"
    expect(panel.locator("h2")).to_have_text(title)
    page.locator("#survey-panel-link").click()
    expect(page).to_have_url(re.compile(rf"/accounts/survey/{survey.pk}/$"))
    question = "总体满意度" if language == "zh-CN" else "How satisfied are you"
    expect(page.locator(f"#div_id_q{q[0].pk} legend")).to_contain_text(question)
    violations = page.evaluate(AXE + "\n;(" + AXE_RUN + ")()")
    assert violations == [], violations

    # A draft: one choice and two goods; saved, and there again when the page is opened anew.
    choice = "非常满意" if language == "zh-CN" else "Very satisfied"
    page.get_by_label(choice, exact=True).check()
    _option(page, q[1], 0).check()
    _option(page, q[1], 2).check()
    page.locator("#survey-save").click()
    expect(page.locator(".alert-success")).to_be_visible()
    page.goto(live_server.url + "/accounts/")
    expect(page.locator("#survey-panel")).to_have_attribute("data-state", "draft")
    page.locator("#survey-panel-link").click()
    expect(_option(page, q[0], 0)).to_be_checked()
    expect(_option(page, q[1], 0)).to_be_checked()
    expect(_option(page, q[1], 1)).not_to_be_checked()
    expect(_option(page, q[1], 2)).to_be_checked()

    # Submitted without the required rating: said next to it; nothing typed is lost.
    page.locator(f"#id_q{q[3].pk}").fill(
        "希望增加洽谈区座位" if language == "zh-CN" else "More seats"
    )
    page.locator("#survey-submit").click()
    expect(page.locator("#error-summary")).to_be_visible()
    rating = page.locator(f"#div_id_q{q[2].pk}")
    expect(rating.locator(".invalid-feedback")).to_be_visible()
    expect(page.locator(f"#div_id_q{q[0].pk} .invalid-feedback")).to_have_count(0)
    expect(page.locator(f"#id_q{q[3].pk}")).to_have_value(
        re.compile("希望增加洽谈区座位|More seats")
    )
    expect(_option(page, q[1], 2)).to_be_checked()

    # Answered and submitted: read-only from now on.
    _option(page, q[2], 3).check()  # a rating of 4
    page.locator("#survey-submit").click()
    expect(page.locator("#survey-submitted")).to_be_visible()
    expect(page.locator("#survey-form")).to_have_count(0)
    expect(page.locator("#survey-answers")).to_contain_text("4 / 5")
    response = SurveyResponse.objects.get(survey=survey, unit=unit)
    assert response.status == SurveyResponse.Status.SUBMITTED
    ratings = SurveyAnswer.objects.filter(response=response, question=q[2])
    assert list(ratings.values_list("rating", flat=True)) == [4]
    page.goto(live_server.url + "/accounts/")
    expect(page.locator("#survey-panel")).to_have_attribute("data-state", "submitted")


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_a_unit_answers_the_survey_in_chinese(page, live_server, unit, edition, browser_language):
    _journey(page, live_server, unit, buyer_survey(edition), browser_language)


@pytest.mark.phone
@pytest.mark.parametrize("browser_language", ["en-US"])
def test_a_unit_answers_the_survey_in_english_on_a_phone(
    page, live_server, unit, edition, browser_language
):
    _journey(page, live_server, unit, buyer_survey(edition), browser_language)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
