"""The survey's results: per question the answers counted, with percentages (choice questions
and ratings, with the ratings' mean) and the free texts listed; the bars of the charts; the
.xlsx export. Always for a set of units: all of them for organisers, a delegation's subtree
for its secretaries (``admin.py`` chooses).

Percentages are of the respondents who answered that question (a multiple-choice question's
add up to more than 100); respondents are the units whose response was submitted — drafts are
never counted.
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

from ciie_portal.names import localized
from ciie_portal.spreadsheets import sheet_workbook
from ciie_portal.timefmt import local_text

from .forms import RATING_WORDS
from .models import RATING_MAX, RATING_MIN, Survey, SurveyAnswer, SurveyQuestion, SurveyResponse

K = SurveyQuestion.Kind

# The bar charts (server-rendered SVG, no script): one row per choice or rating.
CHART_WIDTH = 360
BAR_MAX = 250  # px for 100 %
ROW_HEIGHT = 34
LABEL_CHARS = 30  # a longer choice is cut in the chart (the table beside it has it whole)


def percent(count: int, total: int) -> Decimal:
    if not total:
        return Decimal("0.0")
    return (Decimal(count) * 100 / total).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class Row:
    label: str
    count: int
    percent: Decimal
    # The chart's geometry.
    y: int = 0
    width: int = 0
    short_label: str = ""


@dataclass
class QuestionResult:
    number: int
    question: SurveyQuestion
    answered: int = 0
    rows: list[Row] = field(default_factory=list)
    mean: Decimal | None = None
    texts: list[dict] = field(default_factory=list)  # {"unit", "delegation", "text"}

    @property
    def chart_height(self) -> int:
        return len(self.rows) * ROW_HEIGHT + 4


@dataclass
class SurveyResults:
    survey: Survey
    respondents: int
    questions: list[QuestionResult]
    chart_width: int = CHART_WIDTH


def rating_label(value: int) -> str:
    word = RATING_WORDS.get(value)
    return f"{value} – {word}" if word else str(value)


def _submitted(survey: Survey, units):
    responses = SurveyResponse.objects.filter(survey=survey, status=SurveyResponse.Status.SUBMITTED)
    return responses if units is None else responses.filter(unit__in=units)


def _chart(rows: list[Row]) -> None:
    for index, row in enumerate(rows):
        row.y = index * ROW_HEIGHT
        row.width = round(BAR_MAX * float(row.percent) / 100)
        label = row.label
        row.short_label = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def survey_results(survey: Survey, *, units=None) -> SurveyResults:
    """The results of ``survey`` among ``units`` (a Unit queryset; None: every unit). Three
    queries whatever the number of answers."""
    questions = list(survey.questions.order_by("position", "pk"))
    responses = _submitted(survey, units)
    respondents = responses.count()
    results = {q.pk: QuestionResult(number=n, question=q) for n, q in enumerate(questions, 1)}
    counts: dict[int, dict[int, int]] = {q.pk: {} for q in questions}
    answers = (
        SurveyAnswer.objects.filter(response__in=responses)
        .order_by("response__submitted_at", "response_id")
        .values_list(
            "question_id",
            "choices",
            "rating",
            "text",
            "response__unit__name",
            "response__unit__delegation__name",
            "response__unit__delegation__name_en",
        )
    )
    for question_id, choices, rating, text, unit, delegation, delegation_en in answers:
        result = results.get(question_id)
        if result is None:
            continue
        kind = result.question.kind
        if kind in (K.SINGLE, K.MULTIPLE):
            for position in choices:
                counts[question_id][position] = counts[question_id].get(position, 0) + 1
        elif kind == K.RATING:
            counts[question_id][rating] = counts[question_id].get(rating, 0) + 1
        elif text:
            result.texts.append(
                {
                    "unit": unit,
                    "delegation": localized(delegation or "", delegation_en or ""),
                    "text": text,
                }
            )
        result.answered += 1
    for question in questions:
        result, tally = results[question.pk], counts[question.pk]
        if question.kind in (K.SINGLE, K.MULTIPLE):
            keys = list(enumerate(question.choice_labels()))
        elif question.kind == K.RATING:
            keys = [(value, rating_label(value)) for value in range(RATING_MIN, RATING_MAX + 1)]
            if result.answered:
                total = sum(value * n for value, n in tally.items())
                result.mean = (Decimal(total) / result.answered).quantize(
                    Decimal("0.01"), rounding=ROUND_HALF_UP
                )
        else:
            keys = []
        result.rows = [
            Row(
                label=label,
                count=tally.get(key, 0),
                percent=percent(tally.get(key, 0), result.answered),
            )
            for key, label in keys
        ]
        _chart(result.rows)
    return SurveyResults(survey=survey, respondents=respondents, questions=list(results.values()))


# --- The .xlsx export ------------------------------------------------------------------------


def _answer_text(question: SurveyQuestion, answer: dict | None) -> str | int:
    if answer is None:
        return ""
    if question.kind in (K.SINGLE, K.MULTIPLE):
        labels = question.choice_labels()
        return "; ".join(labels[p] for p in answer["choices"] if 0 <= p < len(labels))
    if question.kind == K.RATING:
        return answer["rating"]
    return answer["text"]


def _raw_rows(survey: Survey, units, questions: list[SurveyQuestion]) -> list[list]:
    """One row per submitted response: the unit, its delegation, when, then each answer."""
    responses = list(
        _submitted(survey, units).select_related("unit__delegation").order_by("submitted_at", "pk")
    )
    by_response: dict[int, dict[int, dict]] = {}
    for response_id, question_id, choices, rating, text in SurveyAnswer.objects.filter(
        response__in=[r.pk for r in responses]
    ).values_list("response_id", "question_id", "choices", "rating", "text"):
        by_response.setdefault(response_id, {})[question_id] = {
            "choices": choices,
            "rating": rating,
            "text": text,
        }
    rows = []
    for response in responses:
        unit = response.unit
        answers = by_response.get(response.pk, {})
        rows.append(
            [
                unit.name,
                unit.uscc or unit.account_number,
                str(unit.delegation) if unit.delegation_id else "",
                local_text(response.submitted_at),
                *(_answer_text(q, answers.get(q.pk)) for q in questions),
            ]
        )
    return rows


def survey_workbook(survey: Survey, *, units=None) -> bytes:
    """The results as .xlsx through the portal's sheet writer (no cell a live formula: a unit
    may type ``=HYPERLINK(…)`` as its answer): the first sheet holds the results per question,
    the second every submitted response, one row per unit."""
    results = survey_results(survey, units=units)
    titles = [
        _("No."),
        _("Question"),
        _("Question type"),
        _("Answer"),
        _("Count"),
        _("Percentage (%)"),
        _("Answered"),
        _("Respondents"),
        _("Mean"),
    ]
    rows = []
    for result in results.questions:
        question = result.question
        head = [result.number, question.display_text, question.get_kind_display()]
        tail = [result.answered, results.respondents]
        if question.kind == K.TEXT:
            for item in result.texts or [{"text": ""}]:
                rows.append([*head, item["text"], None, None, *tail, None])
            continue
        for index, row in enumerate(result.rows):
            mean = result.mean if index == 0 else None
            rows.append([*head, row.label, row.count, row.percent, *tail, mean])
    questions = [result.question for result in results.questions]
    raw_titles = [
        _("Unit"),
        _("USCC or account number"),
        _("Delegation"),
        _("Submitted (Beijing time)"),
        *(f"{result.number}. {result.question.display_text}" for result in results.questions),
    ]
    return sheet_workbook(
        title=_("Results per question"),
        titles=titles,
        rows=rows,
        widths={_("Question"): 40, _("Answer"): 40},
        # The second sheet: every submitted response (its first line shaded as the titles).
        notes=[raw_titles, *_raw_rows(survey, units, questions)],
        notes_title=_("Answers per unit"),
        notes_header=1,
        notes_widths=[30, 22, 20, 18, *([30] * len(questions))],
    )
