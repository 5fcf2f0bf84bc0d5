"""Reads of the survey shared by pages: the open survey of an edition, the dashboard's panel,
a unit's response and its answers."""

from ciie_portal.read_cache import kept

from .models import Survey, SurveyAnswer, SurveyQuestion, SurveyResponse


def open_survey(edition_id: int) -> Survey | None:
    """The edition's open survey, kept in the shared cache: read anew as soon as a survey is
    saved, opened, closed or deleted (topic ``survey``), so that a dashboard asks the
    database nothing about it."""
    return kept(
        "survey",
        f"open:{edition_id}",
        lambda: Survey.objects.filter(edition_id=edition_id, status=Survey.Status.OPEN).first(),
    )


def dashboard_panel(unit) -> dict | None:
    """The unit's dashboard shows the open survey and whether the unit answered it (new,
    draft, submitted): no query without an open survey, one with it."""
    survey = open_survey(unit.edition_id)
    if survey is None:
        return None
    state = (
        SurveyResponse.objects.filter(survey_id=survey.pk, unit_id=unit.pk)
        .values_list("status", flat=True)
        .first()
    )
    return {
        "template": "delegations/survey/_dashboard_panel.html",
        "survey": survey,
        "state": state or "new",
    }


def questions_of(survey: Survey) -> list[SurveyQuestion]:
    return list(SurveyQuestion.objects.filter(survey=survey).order_by("position", "pk"))


def response_of(survey: Survey, unit) -> SurveyResponse | None:
    return SurveyResponse.objects.filter(survey=survey, unit=unit).first()


def answers_of(response: SurveyResponse | None) -> dict[int, object]:
    """``{question id: value}`` of a response, as the services take them: the chosen position
    (single choice), the chosen positions (multiple choice), the rating, the text."""
    if response is None:
        return {}
    values = {}
    rows = SurveyAnswer.objects.filter(response=response).select_related("question")
    for answer in rows:
        kind = answer.question.kind
        if kind == SurveyQuestion.Kind.SINGLE:
            values[answer.question_id] = answer.choices[0] if answer.choices else None
        elif kind == SurveyQuestion.Kind.MULTIPLE:
            values[answer.question_id] = list(answer.choices)
        elif kind == SurveyQuestion.Kind.RATING:
            values[answer.question_id] = answer.rating
        else:
            values[answer.question_id] = answer.text
    return {key: value for key, value in values.items() if value not in (None, "", [])}
