"""The survey's part of cloning an edition (``ciie_portal.cloning``): the next edition starts
from the source edition's surveys and their questions, as drafts the organiser opens when the
time comes. Answers are never copied."""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ciie_portal.cloning import CloneContext, Cloner, register_cloner

from .models import Survey, SurveyQuestion


def _copy_surveys(ctx: CloneContext) -> list[str]:
    lines = []
    surveys = Survey.objects.filter(edition=ctx.source).prefetch_related("questions")
    for survey in surveys.order_by("pk"):
        questions = list(survey.questions.all())
        copy = Survey.objects.create(
            edition=ctx.target,
            title=survey.title,
            title_en=survey.title_en,
            intro=survey.intro,
            intro_en=survey.intro_en,
        )
        SurveyQuestion.objects.bulk_create(
            SurveyQuestion(
                survey=copy,
                position=q.position,
                kind=q.kind,
                text=q.text,
                text_en=q.text_en,
                choices=q.choices,
                required=q.required,
            )
            for q in questions
        )
        lines.append(
            gettext("%(title)s: %(n)d questions, as a draft")
            % {"title": survey.title, "n": len(questions)}
        )
    return lines


def register() -> None:
    register_cloner(
        Cloner(
            name="delegations.surveys",
            label=_("Buyer satisfaction surveys"),
            models=("delegations.Survey",),
            copy=_copy_surveys,
        )
    )
