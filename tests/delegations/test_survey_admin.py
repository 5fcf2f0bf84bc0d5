"""采购商满意度调查 in the admin: organisers write a survey with its questions, open and close it
(audited), and cannot change its questions once a unit answered; the results per question on
fixed answers (counts, percentages, the ratings' mean, the free texts) — all of them for
organisers, a secretary's own delegation only — and the .xlsx export, which writes every
answer as text, never as a formula."""

import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from ciie_portal.models import AuditEntry
from delegations.models import Delegation
from delegations.survey.models import Survey, SurveyQuestion, SurveyResponse
from delegations.survey.results import survey_results
from delegations.survey.selectors import open_survey
from delegations.survey.services import response_save, response_submit
from tests.delegations.survey_factories import buyer_survey
from tests.registration.factories import ApprovedUnitFactory
from tests.test_csp import InlineCode

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    """These tests read the English texts (the Chinese ones where a request asks for them):
    what a request does not ask for is English, and so are the messages made after it."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


CHANGELIST = "/admin/delegations/survey/"
HOSTILE = '=HYPERLINK("http://x","y")'
HOSTILE_NAME = "=cmd|' /C calc'!A0"


def _results_url(survey, **query):
    url = reverse("admin:delegations_survey_results", args=[survey.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def _export_url(survey, **query):
    url = reverse("admin:delegations_survey_export", args=[survey.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def _as(client, user):
    client.force_login(user)
    return client


# --- Writing, opening, closing ----------------------------------------------------------------


def _question(index, **values):
    return {f"questions-{index}-{name}": value for name, value in values.items()}


def _survey_form(edition, *questions, **fields):
    data = {
        "edition": edition.pk,
        "title": "第十届采购商满意度调查",
        "title_en": "10th expo buyer survey",
        "intro": "",
        "intro_en": "",
        "questions-TOTAL_FORMS": str(len(questions)),
        "questions-INITIAL_FORMS": "0",
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "1000",
        "_save": "Save",
        **fields,
    }
    for index, question in enumerate(questions):
        data.update(_question(index, **question))
    return data


def test_an_organiser_writes_a_survey_with_its_questions(client, organiser, edition):
    response = _as(client, organiser).post(
        reverse("admin:delegations_survey_add"),
        _survey_form(
            edition,
            {
                "position": "1",
                "kind": "single",
                "text": "总体满意度",
                "text_en": "Overall satisfaction",
                "choices_text": "满意 | Satisfied\n\n不满意|Dissatisfied\n",
                "required": "on",
            },
            {"position": "2", "kind": "text", "text": "建议", "text_en": "", "choices_text": ""},
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    survey = Survey.objects.get()
    assert (survey.edition, survey.status) == (edition, Survey.Status.DRAFT)
    single, text = survey.questions.order_by("position")
    assert single.choices == [
        {"zh": "满意", "en": "Satisfied"},
        {"zh": "不满意", "en": "Dissatisfied"},
    ]
    assert single.required and not text.required and text.choices == []
    added = AuditEntry.objects.filter(action="config.add", actor=organiser)
    assert added.count() == 3  # the survey and its two questions


def test_a_choice_question_needs_two_choices_and_a_text_question_none(client, organiser, edition):
    _as(client, organiser)
    for kind, choices in (("single", "唯一 | Only"), ("multiple", ""), ("text", "多余 | Extra")):
        response = client.post(
            reverse("admin:delegations_survey_add"),
            _survey_form(
                edition,
                {"position": "1", "kind": kind, "text": "问题", "choices_text": choices},
            ),
        )
        assert response.status_code == 200
        assert "errorlist" in response.content.decode()
    assert not Survey.objects.exists()


def _action(client, name, survey):
    return client.post(
        CHANGELIST, {"action": name, "_selected_action": [str(survey.pk)]}, follow=True
    )


def test_opening_and_closing_are_audited_and_reach_the_dashboard_at_once(
    client, organiser, edition
):
    survey = buyer_survey(edition, status=Survey.Status.DRAFT)
    assert open_survey(edition.pk) is None  # kept in the shared cache from here on
    _as(client, organiser)

    page = _action(client, "open_surveys", survey).content.decode()
    assert "1 survey opened" in page
    survey.refresh_from_db()
    assert survey.status == Survey.Status.OPEN and survey.opened_at is not None
    assert AuditEntry.objects.filter(action="survey.open", actor=organiser).count() == 1
    assert open_survey(edition.pk) == survey

    _action(client, "close_surveys", survey)
    survey.refresh_from_db()
    assert survey.status == Survey.Status.CLOSED and survey.closed_at is not None
    assert AuditEntry.objects.filter(action="survey.closed", actor=organiser).count() == 1
    assert open_survey(edition.pk) is None


def test_a_survey_without_questions_does_not_open(client, organiser, edition):
    survey = Survey.objects.create(edition=edition, title="空")
    page = _action(_as(client, organiser), "open_surveys", survey).content.decode()
    assert "at least one question" in page
    assert Survey.objects.get(pk=survey.pk).status == Survey.Status.DRAFT


def test_secretaries_neither_write_nor_open_surveys(client, secretary, edition):
    survey = buyer_survey(edition, status=Survey.Status.CLOSED)
    draft = buyer_survey(edition, status=Survey.Status.DRAFT)
    _as(client, secretary)
    listed = client.get(CHANGELIST).content.decode()
    assert _results_url(survey) in listed and _results_url(draft) not in listed
    assert client.get(reverse("admin:delegations_survey_add")).status_code == 403
    change = reverse("admin:delegations_survey_change", args=[survey.pk])
    assert client.post(change, {"title": "改了"}).status_code == 403
    _action(client, "open_surveys", survey)
    assert Survey.objects.get(pk=survey.pk).status == Survey.Status.CLOSED
    assert Survey.objects.get(pk=survey.pk).title == "采购商满意度调查"


def _change_data(survey, **changes):
    questions = list(survey.questions.order_by("position", "pk"))
    data = {
        "title": survey.title,
        "title_en": survey.title_en,
        "intro": survey.intro,
        "intro_en": survey.intro_en,
        "questions-TOTAL_FORMS": str(len(questions)),
        "questions-INITIAL_FORMS": str(len(questions)),
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for index, q in enumerate(questions):
        data.update(
            _question(
                index,
                id=str(q.pk),
                survey=str(survey.pk),
                position=str(q.position),
                kind=q.kind,
                text=q.text,
                text_en=q.text_en,
                choices_text="\n".join(f"{c['zh']} | {c['en']}" for c in q.choices),
                required="on" if q.required else "",
            )
        )
    data.update(changes)
    return data


def test_questions_cannot_change_once_a_unit_answered(client, organiser, edition, unit):
    survey = buyer_survey(edition)
    change = reverse("admin:delegations_survey_change", args=[survey.pk])
    _as(client, organiser)
    page = client.get(change).content.decode()
    assert 'id="survey-questions-note"' in page and 'name="questions-0-text"' in page
    # Before anyone answered, a question may change.
    client.post(change, _change_data(survey, **{"questions-0-text": "总体满意度？"}))
    assert SurveyQuestion.objects.get(pk=survey.q[0].pk).text == "总体满意度？"

    response_save(survey=survey, unit=unit, answers={survey.q[0].pk: 0}, actor=unit.account)
    page = client.get(change).content.decode()
    assert 'id="survey-questions-locked"' in page
    assert 'name="questions-0-text"' not in page  # shown, not editable
    assert "非常满意 | Very satisfied" in page

    data = _change_data(
        survey,
        title="采购商满意度调查（更正）",
        **{"questions-0-text": "改过的问题", "questions-0-choices_text": "是 | Yes\n否 | No"},
    )
    assert client.post(change, data).status_code == 302
    survey.refresh_from_db()
    assert survey.title == "采购商满意度调查（更正）"  # the title may still be corrected
    question = SurveyQuestion.objects.get(pk=survey.q[0].pk)
    assert question.text == "总体满意度？" and question.choices[0]["zh"] == "非常满意"
    assert survey.questions.count() == 4


# --- Results ----------------------------------------------------------------------------------


@pytest.fixture
def answered(edition, unit, guangzhou, other_unit):
    """Three units submitted (two of 广州, one of the other delegation), one has a draft."""
    survey = buyer_survey(edition)
    q = survey.q
    second = ApprovedUnitFactory(edition=edition, delegation=guangzhou, name="广州第二贸易公司")
    drafting = ApprovedUnitFactory(edition=edition, delegation=guangzhou)
    other_unit.name = HOSTILE_NAME
    other_unit.save()

    def submit(who, answers):
        response_submit(survey=survey, unit=who, answers=answers, actor=who.account)

    submit(unit, {q[0].pk: 0, q[1].pk: [0, 1], q[2].pk: 5, q[3].pk: "展馆指引很清楚"})
    submit(second, {q[0].pk: 0, q[1].pk: [1], q[2].pk: 4})
    submit(other_unit, {q[0].pk: 1, q[2].pk: 2, q[3].pk: HOSTILE})
    response_save(survey=survey, unit=drafting, answers={q[0].pk: 2, q[2].pk: 1}, actor=None)
    return survey


def _figures(result):
    return [(row.label, row.count, str(row.percent)) for row in result.rows]


def test_the_results_count_the_submitted_answers(answered):
    results = survey_results(answered)
    assert results.respondents == 3  # the draft is not counted
    single, multiple, rating, text = results.questions
    assert single.answered == 3
    assert _figures(single) == [("非常满意", 2, "66.7"), ("满意", 1, "33.3"), ("一般", 0, "0.0")]
    assert multiple.answered == 2
    assert _figures(multiple) == [
        ("食品及农产品", 1, "50.0"),
        ("汽车", 2, "100.0"),
        ("医疗器械", 0, "0.0"),
    ]
    assert rating.answered == 3 and str(rating.mean) == "3.67"
    assert [(count, str(p)) for _label, count, p in _figures(rating)] == [
        (0, "0.0"),
        (1, "33.3"),
        (0, "0.0"),
        (1, "33.3"),
        (1, "33.3"),
    ]
    assert text.answered == 2
    assert [item["text"] for item in text.texts] == ["展馆指引很清楚", HOSTILE]
    # The bars: 100 % is the full width, 0 % none.
    assert [row.width for row in multiple.rows] == [125, 250, 0]


def test_the_results_page_shows_charts_and_figures_to_an_organiser(client, organiser, answered):
    response = _as(client, organiser).get(_results_url(answered), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    assert "3 units submitted their answers." in page
    assert page.count('<svg class="chart" role="img"') == 3
    assert '<rect class="bar" x="0" y="16" width="167" height="12">' in page  # 66.7 %
    assert "66.7" in page and "mean 3.67" in page
    assert "展馆指引很清楚" in page and "=HYPERLINK(&quot;http://x&quot;,&quot;y&quot;)" in page
    parser = InlineCode(None)
    parser.feed(page)
    assert parser.found == []


def _respondents(page: str) -> int:
    return int(re.search(r'id="survey-respondents">\s*(\d+) unit', page).group(1))


@pytest.mark.parametrize(
    ("who", "respondents", "sees", "not_sees"),
    [
        ("secretary", 2, "展馆指引很清楚", "HYPERLINK"),
        ("group_secretary", 2, "展馆指引很清楚", "HYPERLINK"),
        ("other_secretary", 1, "HYPERLINK", "展馆指引很清楚"),
    ],
)
def test_a_secretary_sees_their_own_delegations_answers_only(
    client, request, answered, who, respondents, sees, not_sees
):
    _as(client, request.getfixturevalue(who))
    page = client.get(_results_url(answered), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert _respondents(page) == respondents
    assert sees in page and not_sees not in page
    # Choosing another delegation in the query string changes nothing for a secretary.
    zj = Delegation.objects.get(code="zj")
    assert (
        _respondents(
            client.get(
                _results_url(answered, delegation=zj.pk), HTTP_ACCEPT_LANGUAGE="en"
            ).content.decode()
        )
        == respondents
    )


def test_an_organiser_chooses_a_delegation(client, organiser, answered, other_delegation):
    _as(client, organiser)
    page = client.get(
        _results_url(answered, delegation=other_delegation.pk), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert _respondents(page) == 1 and "HYPERLINK" in page and "展馆指引很清楚" not in page


def test_other_staff_and_units_see_no_results(client, finance, contact, answered):
    assert _as(client, finance).get(_results_url(answered)).status_code == 403
    assert _as(client, finance).get(_export_url(answered)).status_code == 403
    client.logout()
    unit_page = _as(client, contact).get(_results_url(answered))
    assert unit_page.status_code == 302 and "/admin/login/" in unit_page["Location"]


def test_a_draft_surveys_results_are_not_for_secretaries(client, secretary, edition):
    draft = buyer_survey(edition, status=Survey.Status.DRAFT)
    assert _as(client, secretary).get(_results_url(draft)).status_code == 404


# --- The export -------------------------------------------------------------------------------


def _workbook(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return load_workbook(io.BytesIO(response.content))


def _cells(sheet):
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_the_export_holds_the_results_and_every_response_as_text_never_a_formula(
    client, organiser, answered, other_unit
):
    workbook = _workbook(
        _as(client, organiser).get(_export_url(answered), HTTP_ACCEPT_LANGUAGE="en")
    )
    results, raw = workbook.worksheets
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
    rows = _cells(results)
    assert rows[0][:6] == ["No.", "Question", "Question type", "Answer", "Count", "Percentage (%)"]
    assert [1, "How satisfied are you with the expo overall?", "Single choice", "Very satisfied",
            2, 66.7, 3, 3, None] in rows  # fmt: skip
    # The ratings' mean on their first row.
    assert any(row[3] == "1 – very dissatisfied" and row[4] == 0 and row[8] == 3.67 for row in rows)
    assert any(row[3] == "5 – very satisfied" and row[4] == 1 and row[5] == 33.3 for row in rows)
    assert any(row[3] == "'" + HOSTILE for row in rows)

    lines = _cells(raw)
    assert lines[0][:4] == [
        "Unit",
        "USCC or account number",
        "Delegation",
        "Submitted (Beijing time)",
    ]
    assert len(lines) == 4  # the titles and three submitted responses; no draft
    hostile = next(line for line in lines if line[1] == other_unit.uscc)
    assert hostile[0] == "'" + HOSTILE_NAME
    assert hostile[4:] == ["Satisfied", None, 2, "'" + HOSTILE]
    first = lines[1]
    assert first[4:] == [
        "Very satisfied",
        "Food and agricultural products; Automobiles",
        5,
        "展馆指引很清楚",
    ]
    submitted = SurveyResponse.objects.filter(status="submitted").order_by("submitted_at").first()
    assert first[3] == timezone.localtime(submitted.submitted_at).strftime("%Y-%m-%d %H:%M")


def test_a_secretarys_export_holds_their_delegation_only(client, secretary, answered):
    workbook = _workbook(_as(client, secretary).get(_export_url(answered)))
    lines = _cells(workbook.worksheets[1])
    assert len(lines) == 3
    assert all(HOSTILE_NAME not in str(line[0]) for line in lines)
