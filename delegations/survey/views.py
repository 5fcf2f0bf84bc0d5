"""The unit's survey pages (采购商满意度调查), under its account's URLs: the open survey, a draft
saved and resumed, submitted once, then shown read-only.

A unit reaches only its own response (there is no response id in any URL: the page shows the
signed-in contact's unit's), and only surveys of its edition that were opened.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from registration.access import current_unit

from .forms import SurveyForm, initial_of
from .models import RATING_MAX, Survey, SurveyQuestion, SurveyResponse
from .selectors import answers_of, open_survey, questions_of, response_of
from .services import SurveyIncomplete, response_save, response_submit

K = SurveyQuestion.Kind


@login_required
@require_GET
def survey_current(request):
    """The edition's open survey, or a page saying none is open."""
    unit = current_unit(request)
    survey = open_survey(unit.edition_id)
    if survey is not None:
        return redirect("survey:answer", pk=survey.pk)
    return render(request, "delegations/survey/none_open.html", {"unit": unit})


def answer_rows(questions: list[SurveyQuestion], answers: dict) -> list[dict]:
    """Each question with its answer as text, in the active language."""
    rows = []
    for number, question in enumerate(questions, start=1):
        value = answers.get(question.pk)
        if value is None:
            shown = ""
        elif question.kind == K.SINGLE:
            shown = question.choice_labels()[value]
        elif question.kind == K.MULTIPLE:
            labels = question.choice_labels()
            shown = "; ".join(labels[position] for position in value)
        elif question.kind == K.RATING:
            shown = f"{value} / {RATING_MAX}"
        else:
            shown = value
        rows.append({"number": number, "question": question, "answer": shown})
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def survey_answer(request, pk):
    unit = current_unit(request)
    survey = get_object_or_404(
        Survey.objects.exclude(status=Survey.Status.DRAFT), pk=pk, edition_id=unit.edition_id
    )
    response = response_of(survey, unit)
    questions = questions_of(survey)
    context = {"unit": unit, "survey": survey, "response": response}
    submitted = response is not None and response.status == SurveyResponse.Status.SUBMITTED
    if submitted or survey.status != Survey.Status.OPEN:
        if request.method == "POST":
            if submitted:
                messages.error(
                    request, _("Your answers have been submitted; they can no longer be changed.")
                )
            else:
                messages.error(request, _("This survey is closed: answers can no longer be saved."))
            return redirect("survey:answer", pk=survey.pk)
        context["rows"] = answer_rows(questions, answers_of(response)) if response else []
        return render(request, "delegations/survey/answer_readonly.html", context)

    if request.method == "GET":
        form = SurveyForm(
            initial=initial_of(answers_of(response)), questions=questions, submitting=True
        )
        return render(request, "delegations/survey/answer.html", {**context, "form": form})

    submitting = "submit" in request.POST
    form = SurveyForm(request.POST, questions=questions, submitting=submitting)
    if form.is_valid():
        call = response_submit if submitting else response_save
        try:
            call(survey=survey, unit=unit, answers=form.answers(), actor=request.user)
        except SurveyIncomplete as error:
            form.mark_missing(error.missing)
        except ValidationError as error:
            if error.code == "submitted":
                messages.error(request, error.messages[0])
                return redirect("survey:answer", pk=survey.pk)
            form.add_error(None, error)
        else:
            if submitting:
                messages.success(request, _("Thank you! Your answers have been submitted."))
            else:
                messages.success(
                    request, _("Your draft was saved. You can come back and finish it later.")
                )
            return redirect("survey:answer", pk=survey.pk)
    draft_saved = submitting and _keep_as_draft(request, survey, unit, questions)
    form.show_required()
    return render(
        request,
        "delegations/survey/answer.html",
        {**context, "form": form, "draft_saved": draft_saved},
    )


def _keep_as_draft(request, survey, unit, questions) -> bool:
    """A submission that lacks required answers keeps what was given as the draft (nothing
    is lost if the contact leaves the page now)."""
    draft = SurveyForm(request.POST, questions=questions)
    if not draft.is_valid():
        return False
    try:
        response_save(survey=survey, unit=unit, answers=draft.answers(), actor=request.user)
    except ValidationError:
        return False
    return True
