"""采购商满意度调查, the unit's side: the dashboard shows the open survey (answer / continue the
draft / answered) at no query while none is open and one while one is; a unit saves a draft
and resumes it, submits once (required questions said next to each, nothing lost), then sees
its answers read-only; another unit, an anonymous visitor, another edition reach none of it."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from ciie_portal.models import AuditEntry
from delegations.survey.models import Survey, SurveyAnswer, SurveyResponse
from delegations.survey.services import (
    SurveyIncomplete,
    response_save,
    response_submit,
    survey_close,
    survey_open,
)
from tests.ciie_portal.factories import EditionFactory
from tests.delegations.survey_factories import buyer_survey
from tests.registration.factories import UnitFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    """These tests read the English texts (the Chinese ones where a request asks for them):
    what a request does not ask for is English, and so are the messages made after it."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


HOME = "/accounts/"
R = SurveyResponse.Status


@pytest.fixture
def survey(edition):
    return buyer_survey(edition)


def _url(survey):
    return reverse("survey:answer", args=[survey.pk])


def _signed_in(client, user):
    client.force_login(user)
    return client


def _answers(survey, *, single=None, multiple=(), rating=None, text=""):
    """The POST data of the survey form."""
    q = survey.q
    data = {}
    if single is not None:
        data[f"q{q[0].pk}"] = str(single)
    if multiple:
        data[f"q{q[1].pk}"] = [str(item) for item in multiple]
    if rating is not None:
        data[f"q{q[2].pk}"] = str(rating)
    if text:
        data[f"q{q[3].pk}"] = text
    return data


def _stored(survey, unit) -> dict:
    response = SurveyResponse.objects.get(survey=survey, unit=unit)
    answers = {a.question_id: a for a in SurveyAnswer.objects.filter(response=response)}
    q = survey.q
    return {
        "status": response.status,
        "single": answers[q[0].pk].choices if q[0].pk in answers else None,
        "multiple": answers[q[1].pk].choices if q[1].pk in answers else None,
        "rating": answers[q[2].pk].rating if q[2].pk in answers else None,
        "text": answers[q[3].pk].text if q[3].pk in answers else None,
    }


def checked(page: str, question) -> set[str]:
    """The values of ``question``'s radio buttons or checkboxes that the page shows checked."""
    found = set()
    for tag in re.findall(rf'<input[^>]*name="q{question.pk}"[^>]*>', page):
        if re.search(r"\schecked[\s>]", tag):
            found.add(re.search(r'value="([^"]*)"', tag).group(1))
    return found


# --- The dashboard ----------------------------------------------------------------------------


def _dashboard_queries(client) -> tuple[int, str]:
    client.get(HOME)  # the shared cache warmed, as on every request after the first
    with CaptureQueriesContext(connection) as queries:
        page = client.get(HOME)
    assert page.status_code == 200
    return len(queries.captured_queries), page.content.decode()


def test_the_dashboard_asks_nothing_while_no_survey_is_open_and_once_while_one_is(
    client, contact, unit, edition
):
    _signed_in(client, contact)
    draft = buyer_survey(edition, status=Survey.Status.DRAFT)
    none_open, page = _dashboard_queries(client)
    assert 'id="survey-panel"' not in page

    Survey.objects.filter(pk=draft.pk).update(status=Survey.Status.OPEN)  # a bulk update too
    one_open, page = _dashboard_queries(client)
    assert one_open == none_open + 1
    assert 'id="survey-panel"' in page and 'data-state="new"' in page
    assert _url(draft) in page and "Answer the survey" in page

    survey_close(survey=Survey.objects.get(pk=draft.pk), actor=None)
    closed, page = _dashboard_queries(client)
    assert closed == none_open
    assert 'id="survey-panel"' not in page


def test_the_dashboard_says_whether_the_unit_has_a_draft_or_answered(client, contact, unit, survey):
    _signed_in(client, contact)
    response_save(survey=survey, unit=unit, answers={survey.q[0].pk: 1}, actor=contact)
    page = client.get(HOME).content.decode()
    assert 'data-state="draft"' in page and "Continue your draft" in page

    response_submit(
        survey=survey, unit=unit, answers={survey.q[0].pk: 1, survey.q[2].pk: 4}, actor=contact
    )
    page = client.get(HOME).content.decode()
    assert 'data-state="submitted"' in page and "View your answers" in page


def test_the_dashboard_shows_the_survey_in_chinese_and_in_english(client, contact, survey):
    _signed_in(client, contact)
    with translation.override("zh-hans"):
        page = client.get(HOME, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "采购商满意度调查" in page
    page = client.get(HOME, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Buyer satisfaction survey" in page


# --- Who may answer ---------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, survey):
    for url in (reverse("survey:current"), _url(survey)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("registration:login"))
    assert client.post(_url(survey), _answers(survey, single=0)).status_code == 302
    assert not SurveyResponse.objects.exists()


def test_the_survey_page_leads_to_the_open_survey(client, contact, edition):
    _signed_in(client, contact)
    page = client.get(reverse("survey:current"))
    assert page.status_code == 200 and 'id="survey-none-open"' in page.content.decode()
    survey = buyer_survey(edition)
    assert client.get(reverse("survey:current"))["Location"] == _url(survey)


def test_a_draft_or_another_editions_survey_is_not_found(client, contact, edition):
    _signed_in(client, contact)
    draft = buyer_survey(edition, status=Survey.Status.DRAFT)
    elsewhere = buyer_survey(EditionFactory(number=9))
    for survey in (draft, elsewhere):
        assert client.get(_url(survey)).status_code == 404
        assert client.post(_url(survey), _answers(survey, single=0)).status_code == 404
    assert not SurveyResponse.objects.exists()


def test_another_unit_neither_sees_nor_changes_a_units_answers(
    client, contact, other_contact, unit, other_unit, survey
):
    response_save(
        survey=survey,
        unit=unit,
        answers={survey.q[0].pk: 0, survey.q[3].pk: "展馆指引很清楚"},
        actor=contact,
    )
    _signed_in(client, other_contact)
    page = client.get(_url(survey)).content.decode()
    assert "展馆指引很清楚" not in page
    assert "checked" not in page

    # What the other unit posts is its own response; the first unit's stays as it was.
    client.post(
        _url(survey), {**_answers(survey, single=2, rating=1, text="别人的"), "submit": "1"}
    )
    assert _stored(survey, unit) == {
        "status": R.DRAFT,
        "single": [0],
        "multiple": None,
        "rating": None,
        "text": "展馆指引很清楚",
    }
    assert _stored(survey, other_unit)["status"] == R.SUBMITTED
    assert SurveyResponse.objects.count() == 2


def test_staff_have_no_unit_to_answer_for(client, secretary, survey):
    _signed_in(client, secretary)
    assert client.get(_url(survey)).status_code == 404


# --- Drafts, submission, read-only ------------------------------------------------------------


def test_a_draft_is_saved_and_resumed(client, contact, unit, survey):
    _signed_in(client, contact)
    response = client.post(
        _url(survey), {**_answers(survey, multiple=[0, 2], text="下次再来"), "save": "1"}
    )
    assert response.status_code == 302 and response["Location"] == _url(survey)
    assert _stored(survey, unit) == {
        "status": R.DRAFT,
        "single": None,
        "multiple": [0, 2],
        "rating": None,
        "text": "下次再来",
    }
    assert AuditEntry.objects.filter(action="survey_response.draft_saved").count() == 1

    page = client.get(_url(survey)).content.decode()
    q = survey.q
    assert checked(page, q[1]) == {"0", "2"}
    assert checked(page, q[0]) == checked(page, q[2]) == set()
    assert "下次再来</textarea>" in page

    # Changed later: the draft holds what was saved last.
    client.post(_url(survey), {**_answers(survey, single=1, rating=5), "save": "1"})
    assert _stored(survey, unit) == {
        "status": R.DRAFT,
        "single": [1],
        "multiple": None,
        "rating": 5,
        "text": None,
    }


def test_submitting_without_the_required_answers_says_so_next_to_each_and_keeps_everything(
    client, contact, unit, survey
):
    _signed_in(client, contact)
    data = {**_answers(survey, multiple=[1], text="=SUM(1)"), "submit": "1"}
    response = client.post(_url(survey), data)
    assert response.status_code == 200
    page = response.content.decode()
    q = survey.q
    # The message next to each unanswered required question, and in the summary at the top.
    for question in (q[0], q[2]):
        block = page.split(f'id="div_id_q{question.pk}"')[1].split('class="card mb-3')[0]
        assert "Please answer this question." in block
        assert f'href="#div_id_q{question.pk}"' in page
    for question in (q[1], q[3]):
        block = page.split(f'id="div_id_q{question.pk}"')[1].split('class="card mb-3')[0]
        assert "Please answer this question." not in block
    # Nothing lost: what was given is in the form again, and kept as the draft.
    assert checked(page, q[1]) == {"1"}
    assert "=SUM(1)</textarea>" in page
    assert "saved as your draft" in page
    assert _stored(survey, unit)["status"] == R.DRAFT
    assert _stored(survey, unit)["multiple"] == [1]
    assert not AuditEntry.objects.filter(action="survey_response.submitted").exists()


def test_a_submitted_response_is_read_only(client, contact, unit, survey):
    _signed_in(client, contact)
    data = {**_answers(survey, single=0, multiple=[0, 1], rating=4, text="很好"), "submit": "1"}
    assert client.post(_url(survey), data).status_code == 302
    stored = _stored(survey, unit)
    assert stored == {
        "status": R.SUBMITTED,
        "single": [0],
        "multiple": [0, 1],
        "rating": 4,
        "text": "很好",
    }
    response = SurveyResponse.objects.get(unit=unit)
    assert response.submitted_at is not None and response.submitted_by == contact
    assert AuditEntry.objects.filter(
        action="survey_response.submitted", object_id=str(response.pk), to_state=R.SUBMITTED
    ).exists()

    page = client.get(_url(survey)).content.decode()
    assert 'id="survey-submitted"' in page and '<form method="post" novalidate' not in page
    assert "Very satisfied" in page or "非常满意" in page
    assert "4 / 5" in page and "很好" in page

    # Neither a new submission nor a draft changes it.
    for button in ("submit", "save"):
        again = client.post(_url(survey), {**_answers(survey, single=2, rating=1), button: "1"})
        assert again.status_code == 302
    assert _stored(survey, unit) == stored
    with pytest.raises(ValidationError):
        response_save(survey=survey, unit=unit, answers={}, actor=contact)


def test_the_read_only_answers_are_in_the_units_language(client, contact, unit, survey):
    response_submit(
        survey=survey, unit=unit, answers={survey.q[0].pk: 1, survey.q[2].pk: 2}, actor=contact
    )
    _signed_in(client, contact)
    english = client.get(_url(survey), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Satisfied" in english and "How satisfied are you" in english
    with translation.override("zh-hans"):
        chinese = client.get(_url(survey), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "满意" in chinese and "总体满意度" in chinese


def test_a_closed_survey_takes_no_answers(client, contact, unit, survey):
    response_save(survey=survey, unit=unit, answers={survey.q[0].pk: 2}, actor=contact)
    survey_close(survey=survey, actor=None)
    _signed_in(client, contact)
    response = client.post(_url(survey), {**_answers(survey, single=0, rating=3), "submit": "1"})
    assert response.status_code == 302
    assert _stored(survey, unit)["status"] == R.DRAFT and _stored(survey, unit)["single"] == [2]
    page = client.get(_url(survey)).content.decode()
    assert 'id="survey-closed"' in page
    with pytest.raises(ValidationError):
        response_save(survey=survey, unit=unit, answers={}, actor=contact)


def test_an_answer_that_answers_nothing_is_refused(contact, unit, survey):
    q = survey.q
    for answers in ({q[0].pk: 7}, {q[0].pk: [0, 1]}, {q[2].pk: 6}, {q[3].pk: "x" * 2001}):
        with pytest.raises(ValidationError):
            response_save(survey=survey, unit=unit, answers=answers, actor=contact)
    assert not SurveyResponse.objects.exists()


def test_a_unit_of_another_edition_cannot_answer(survey):
    elsewhere = UnitFactory(edition=EditionFactory(number=9))
    with pytest.raises(ValidationError):
        response_save(survey=survey, unit=elsewhere, answers={}, actor=None)


# --- Once per unit ----------------------------------------------------------------------------


def test_a_unit_submits_once(contact, unit, survey):
    answers = {survey.q[0].pk: 0, survey.q[2].pk: 3}
    response_submit(survey=survey, unit=unit, answers=answers, actor=contact)
    with pytest.raises(ValidationError):
        response_submit(survey=survey, unit=unit, answers=answers, actor=contact)
    assert SurveyResponse.objects.filter(unit=unit, status=R.SUBMITTED).count() == 1
    with pytest.raises(SurveyIncomplete):
        response_submit(survey=survey, unit=unit, answers={}, actor=contact)


def test_the_database_holds_one_response_per_unit_and_survey(unit, survey):
    SurveyResponse.objects.create(survey=survey, unit=unit)
    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyResponse.objects.create(survey=survey, unit=unit)
    # Nor is a response submitted without its time (or a draft with one).
    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyResponse.objects.filter(unit=unit).update(status=R.SUBMITTED)


def test_only_one_survey_of_an_edition_is_open_at_a_time(edition, organiser, survey):
    second = buyer_survey(edition, status=Survey.Status.DRAFT)
    with pytest.raises(ValidationError):
        survey_open(survey=second, actor=organiser)
    with pytest.raises(IntegrityError), transaction.atomic():
        Survey.objects.filter(pk=second.pk).update(status=Survey.Status.OPEN)
    survey_close(survey=survey, actor=organiser)
    survey_open(survey=second, actor=organiser)
    assert Survey.objects.get(pk=second.pk).status == Survey.Status.OPEN
