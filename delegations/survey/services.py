"""Every write of the survey: opening and closing it (audited state moves), a unit's draft and
its submission.

A unit's response is one row per (survey, unit), locked while it is written: a draft may be
saved any number of times, submitting moves it once from draft to submitted (a conditional
UPDATE, audited), and nothing changes it afterwards. Answers are written only while the survey
is open, and under a shared lock on the survey's row, which the organiser's change of its
questions takes exclusively (``survey_lock_for_questions``): a question never changes under an
answer being written, and once one is written the questions stay as they are
(``survey_questions_locked``).
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ciie_portal.audit import audit_record

from .models import (
    RATING_MAX,
    RATING_MIN,
    RESPONSE_STATES,
    SURVEY_STATES,
    TEXT_MAX_LENGTH,
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
)

K = SurveyQuestion.Kind


class SurveyIncomplete(ValidationError):
    """Submitting with required questions unanswered; ``missing`` holds their ids."""

    def __init__(self, missing: list[SurveyQuestion]):
        self.missing = [question.pk for question in missing]
        super().__init__(
            ngettext(
                "%(n)d required question is not answered yet.",
                "%(n)d required questions are not answered yet.",
                len(missing),
            )
            % {"n": len(missing)},
            code="incomplete",
        )


# --- The organiser's survey ------------------------------------------------------------------


def question_problems(kind: str, choices: list) -> list[str]:
    """What is wrong with a question of ``kind`` offering ``choices`` (empty: nothing)."""
    if kind in (K.SINGLE, K.MULTIPLE):
        if len(choices) < 2:
            return [_("A choice question needs at least two choices.")]
        if any(not str(choice.get("zh", "")).strip() for choice in choices):
            return [_("Every choice needs its Chinese text.")]
        return []
    if choices:
        return [_("Only choice questions offer choices.")]
    return []


def survey_questions_locked(survey: Survey) -> bool:
    """Questions cannot change once a unit has answered (a draft counts): its answers refer to
    them by position."""
    return survey.pk is not None and SurveyResponse.objects.filter(survey=survey).exists()


def survey_lock_for_questions(survey: Survey) -> bool:
    """Lock the survey's row for a change of its questions (inside the caller's transaction)
    and say whether they may still change: False once a unit has answered. A unit writing its
    first answer meanwhile waits for the change, or the change waits for it and is refused."""
    Survey.objects.select_for_update().filter(pk=survey.pk).first()
    return not survey_questions_locked(survey)


def survey_open(*, survey: Survey, actor) -> Survey:
    """Open the survey to the units of its edition (audited). Refused without questions, with a
    choice question lacking choices, or while another survey of the edition is open."""
    with transaction.atomic():
        survey = Survey.objects.select_for_update().get(pk=survey.pk)
        questions = list(survey.questions.order_by("position", "pk"))
        if not questions:
            raise ValidationError(_("A survey needs at least one question before it opens."))
        for number, question in enumerate(questions, start=1):
            for problem in question_problems(question.kind, question.choices):
                raise ValidationError(
                    _("Question %(number)d: %(problem)s") % {"number": number, "problem": problem}
                )
        other = (
            Survey.objects.filter(edition_id=survey.edition_id, status=Survey.Status.OPEN)
            .exclude(pk=survey.pk)
            .first()
        )
        if other is not None:
            raise ValidationError(
                _("“%(other)s” is open already: close it before opening another survey.")
                % {"other": other.title}
            )
        try:
            with transaction.atomic():
                SURVEY_STATES.move(
                    survey, Survey.Status.OPEN, actor=actor, opened_at=timezone.now()
                )
        except IntegrityError:
            # Another organiser opened another survey of the edition at the same moment.
            raise ValidationError(
                _("Another survey of this edition was opened meanwhile: close it first.")
            ) from None
    return survey


def survey_close(*, survey: Survey, actor) -> Survey:
    """Close the survey (audited): units see their answers, nobody answers any more."""
    with transaction.atomic():
        survey = Survey.objects.select_for_update().get(pk=survey.pk)
        SURVEY_STATES.move(survey, Survey.Status.CLOSED, actor=actor, closed_at=timezone.now())
    return survey


# --- A unit's answers ------------------------------------------------------------------------


def _positions(question: SurveyQuestion, value) -> list[int]:
    values = value if isinstance(value, (list, tuple, set)) else [value]
    try:
        positions = sorted({int(item) for item in values})
    except (TypeError, ValueError):
        raise ValidationError(_("Choose one of the choices offered.")) from None
    if any(not 0 <= position < len(question.choices) for position in positions):
        raise ValidationError(_("Choose one of the choices offered."))
    if question.kind == K.SINGLE and len(positions) > 1:
        raise ValidationError(_("Choose one answer only."))
    return positions


def _row(question: SurveyQuestion, value) -> dict | None:
    """The answer row's values for ``value``, None for no answer; ValidationError when the
    value is not an answer to that question."""
    if value is None or value == "" or value == [] or value == ():
        return None
    if question.kind in (K.SINGLE, K.MULTIPLE):
        return {"choices": _positions(question, value)}
    if question.kind == K.RATING:
        try:
            rating = int(value)
        except (TypeError, ValueError):
            rating = None
        if rating is None or not RATING_MIN <= rating <= RATING_MAX:
            raise ValidationError(
                _("Choose a rating from %(min)d to %(max)d.")
                % {"min": RATING_MIN, "max": RATING_MAX}
            )
        return {"rating": rating}
    text = str(value).strip()
    if len(text) > TEXT_MAX_LENGTH:
        raise ValidationError(_("At most %(max)d characters, please.") % {"max": TEXT_MAX_LENGTH})
    return {"text": text} if text else None


def answers_clean(questions: list[SurveyQuestion], answers: dict) -> dict[int, dict]:
    """``{question id: row values}`` for the answers given; a ValidationError keyed by question
    id for a value that answers nothing (a choice not offered, a rating of 7)."""
    by_id = {question.pk: question for question in questions}
    unknown = set(answers) - set(by_id)
    if unknown:
        raise ValidationError(_("This survey has no such question."))
    rows, errors = {}, {}
    for question_id, value in answers.items():
        try:
            row = _row(by_id[question_id], value)
        except ValidationError as error:
            errors[question_id] = error.messages
            continue
        if row is not None:
            rows[question_id] = row
    if errors:
        raise ValidationError(errors)
    return rows


def _share_lock(survey_id: int) -> None:
    """A shared lock on the survey's row, before its questions are read: answers are written
    by many units at once, never while the organiser changes the questions (who locks the row
    exclusively). Without it a unit's first answer would still wait (its response's foreign
    key), but checked against the questions as they were before the change."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM {connection.ops.quote_name(Survey._meta.db_table)} "  # noqa: S608
                "WHERE id = %s FOR SHARE",
                [survey_id],
            )


def _answerable(survey: Survey, unit) -> tuple[Survey, list[SurveyQuestion]]:
    _share_lock(survey.pk)
    survey = Survey.objects.get(pk=survey.pk)
    if survey.edition_id != unit.edition_id:
        raise ValidationError(_("This survey is not one of your edition."))
    if survey.status != Survey.Status.OPEN:
        raise ValidationError(_("This survey is closed: answers can no longer be saved."))
    return survey, list(survey.questions.order_by("position", "pk"))


def _draft_of(survey: Survey, unit) -> SurveyResponse:
    """The unit's response, locked, made when missing; refused once submitted."""
    response, _created = SurveyResponse.objects.select_for_update().get_or_create(
        survey=survey, unit=unit
    )
    if response.status != SurveyResponse.Status.DRAFT:
        raise ValidationError(
            _("Your answers have been submitted; they can no longer be changed."),
            code="submitted",
        )
    return response


def _answers_write(response: SurveyResponse, rows: dict[int, dict]) -> None:
    SurveyAnswer.objects.filter(response=response).delete()
    SurveyAnswer.objects.bulk_create(
        SurveyAnswer(response=response, question_id=question_id, **row)
        for question_id, row in rows.items()
    )
    response.save(update_fields=["updated_at"])


def response_save(*, survey: Survey, unit, answers: dict, actor) -> SurveyResponse:
    """Save ``unit``'s answers as its draft, to resume later: any question may be left
    unanswered, every answer given must answer its question. Refused once submitted or
    while the survey is not open."""
    with transaction.atomic():
        survey, questions = _answerable(survey, unit)
        rows = answers_clean(questions, answers)
        response = _draft_of(survey, unit)
        _answers_write(response, rows)
        audit_record(
            actor=actor,
            obj=response,
            action="survey_response.draft_saved",
            data={"answered": len(rows), "questions": len(questions)},
        )
    return response


def response_submit(*, survey: Survey, unit, answers: dict, actor) -> SurveyResponse:
    """Submit ``unit``'s answers (once: the response is read-only afterwards). Every required
    question must be answered (``SurveyIncomplete`` names those that are not; nothing is
    written then)."""
    with transaction.atomic():
        survey, questions = _answerable(survey, unit)
        rows = answers_clean(questions, answers)
        missing = [q for q in questions if q.required and q.pk not in rows]
        if missing:
            raise SurveyIncomplete(missing)
        response = _draft_of(survey, unit)
        _answers_write(response, rows)
        RESPONSE_STATES.move(
            response,
            SurveyResponse.Status.SUBMITTED,
            actor=actor,
            data={"answered": len(rows), "questions": len(questions)},
            submitted_at=timezone.now(),
            submitted_by_id=getattr(actor, "pk", None),
        )
    return response
