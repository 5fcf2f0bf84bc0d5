"""The survey in the admin: organisers write a survey per edition (title and introduction in
Chinese and English, questions in order), open and close it (audited); its results per question
as charts with their figures, and the .xlsx export — for organisers across every delegation
(or one they choose), for a secretary their own delegation's subtree only (``scope_for``, as
the delegation overview).

Questions cannot change once a unit has answered (a draft counts): the change page says so and
shows them read-only; ``services.survey_lock_for_questions`` holds to it when two people race.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ciie_portal.admin import AuditedAdminMixin
from ciie_portal.context_processors import current_edition_for
from ciie_portal.states import TransitionError
from ciie_portal.timefmt import local_text

from ..selectors import is_organiser
from ..views_overview import scope_for
from .models import Survey, SurveyQuestion, SurveyResponse
from .results import survey_results, survey_workbook
from .services import (
    question_problems,
    survey_close,
    survey_lock_for_questions,
    survey_open,
    survey_questions_locked,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHOICE_SEPARATOR = "|"


def choices_as_text(choices: list[dict]) -> str:
    lines = []
    for choice in choices:
        zh, en = choice.get("zh", ""), choice.get("en", "")
        lines.append(f"{zh} {CHOICE_SEPARATOR} {en}" if en else zh)
    return "\n".join(lines)


def choices_from_text(text: str) -> list[dict]:
    """``中文 | English`` per line (the English part may be left out); empty lines skipped."""
    choices = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        zh, _separator, en = line.partition(CHOICE_SEPARATOR)
        choices.append({"zh": zh.strip(), "en": en.strip()})
    return choices


class SurveyQuestionForm(forms.ModelForm):
    choices_text = forms.CharField(
        label=_("choices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 50}),
        help_text=_(
            "Single and multiple choice only: one choice per line, the Chinese text, then "
            "“|” and the English text, e.g. 非常满意 | Very satisfied."
        ),
    )

    class Meta:
        model = SurveyQuestion
        fields = ["position", "kind", "text", "text_en", "choices_text", "required"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["choices_text"].initial = choices_as_text(self.instance.choices)

    def clean(self):
        cleaned = super().clean()
        choices = choices_from_text(cleaned.get("choices_text", ""))
        for problem in question_problems(cleaned.get("kind", ""), choices):
            self.add_error("choices_text", problem)
        self.instance.choices = choices
        return cleaned


class QuestionFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        if self.instance.pk and self.has_changed() and survey_questions_locked(self.instance):
            raise ValidationError(
                _("Questions cannot change once answers exist: units have answered this survey.")
            )


class SurveyQuestionInline(admin.StackedInline):
    model = SurveyQuestion
    form = SurveyQuestionForm
    formset = QuestionFormSet
    extra = 0
    fields = ["position", "kind", "text", "text_en", "choices_text", "required"]
    ordering = ["position", "pk"]

    def _locked(self, obj) -> bool:
        return obj is not None and survey_questions_locked(obj)

    def get_fields(self, request, obj=None):
        if self._locked(obj) or not self.has_change_permission(request, obj):
            return ["position", "kind", "text", "text_en", "choices_shown", "required"]
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        return ["choices_shown"]

    @admin.display(description=_("choices"))
    def choices_shown(self, obj):
        return choices_as_text(obj.choices) or "—"

    def has_add_permission(self, request, obj=None):
        return not self._locked(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._locked(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._locked(obj) and super().has_delete_permission(request, obj)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or _secretary(request.user)


def _secretary(user) -> bool:
    """A secretary (of a delegation, with its units to look at) sees the surveys and their
    results for their own delegation."""
    return (
        user.is_active
        and user.is_staff
        and user.has_perm("registration.view_unit")
        and hasattr(user, "secretary")
    )


@admin.register(Survey)
class SurveyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = [
        "title",
        "edition",
        "status",
        "opened_local",
        "closed_local",
        "question_count",
        "submitted_count",
        "results_link",
    ]
    list_filter = ["edition", "status"]
    list_select_related = ["edition"]
    search_fields = ["title", "title_en"]
    inlines = [SurveyQuestionInline]
    actions = ["open_surveys", "close_surveys"]
    fieldsets = [
        (None, {"fields": ["edition", "title", "title_en", "intro", "intro_en"]}),
        (_("Status"), {"fields": ["status", "opened_local", "closed_local"]}),
    ]
    # The state and its times change only through the actions (audited as state moves).
    audited_fields = ("edition", "title", "title_en", "intro", "intro_en")

    def get_queryset(self, request):
        queryset = (
            super()
            .get_queryset(request)
            .annotate(
                n_questions=Count("questions", distinct=True),
                n_submitted=Count(
                    "responses",
                    filter=Q(responses__status=SurveyResponse.Status.SUBMITTED),
                    distinct=True,
                ),
            )
        )
        if not is_organiser(request.user):
            # Secretaries see the surveys units were asked, never an organiser's draft.
            queryset = queryset.exclude(status=Survey.Status.DRAFT)
        return queryset

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or _secretary(request.user)

    def get_readonly_fields(self, request, obj=None):
        fields = ["status", "opened_local", "closed_local"]
        return fields if obj is None else ["edition", *fields]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        edition = current_edition_for(request)
        if edition is not None:
            initial.setdefault("edition", edition.pk)
        return initial

    @admin.display(description=_("opened (Beijing time)"), ordering="opened_at")
    def opened_local(self, obj):
        return local_text(obj.opened_at) or "—"

    @admin.display(description=_("closed (Beijing time)"), ordering="closed_at")
    def closed_local(self, obj):
        return local_text(obj.closed_at) or "—"

    @admin.display(description=_("number of questions"), ordering="n_questions")
    def question_count(self, obj):
        return obj.n_questions

    @admin.display(description=_("answered by (units)"), ordering="n_submitted")
    def submitted_count(self, obj):
        return obj.n_submitted

    @admin.display(description=_("results"))
    def results_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:delegations_survey_results", args=[obj.pk]),
            gettext("Results"),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        survey = self.get_object(request, object_id)
        if survey is not None:
            extra_context["questions_locked"] = survey_questions_locked(survey)
        return super().change_view(request, object_id, form_url, extra_context)

    def save_related(self, request, form, formsets, change):
        """Questions change under the survey's row lock, and only while nobody has answered:
        a unit answering at this moment waits, or answered first and the change is refused."""
        changed = any(formset.has_changed() for formset in formsets)
        if change and changed and not survey_lock_for_questions(form.instance):
            raise PermissionDenied
        super().save_related(request, form, formsets, change)

    # --- Opening and closing ----------------------------------------------------------------

    def _move(self, request, queryset, call, done_message):
        moved = 0
        for survey in queryset.order_by("pk"):
            try:
                call(survey=survey, actor=request.user)
            except (ValidationError, TransitionError) as error:
                text = (
                    " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
                )
                self.message_user(request, f"{survey.title}: {text}", messages.ERROR)
                continue
            moved += 1
        if moved:
            self.message_user(request, done_message(moved), messages.SUCCESS)

    @admin.action(description=_("Open the selected surveys to the units"), permissions=["change"])
    def open_surveys(self, request, queryset):
        self._move(
            request,
            queryset,
            survey_open,
            lambda n: (
                ngettext(
                    "%(n)d survey opened: units see it on their dashboard.",
                    "%(n)d surveys opened: units see them on their dashboard.",
                    n,
                )
                % {"n": n}
            ),
        )

    @admin.action(description=_("Close the selected surveys"), permissions=["change"])
    def close_surveys(self, request, queryset):
        self._move(
            request,
            queryset,
            survey_close,
            lambda n: ngettext("%(n)d survey closed.", "%(n)d surveys closed.", n) % {"n": n},
        )

    # --- Results ----------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/results/",
                wrap(self.results_view),
                name="delegations_survey_results",
            ),
            path(
                "<int:pk>/results.xlsx",
                wrap(self.export_view),
                name="delegations_survey_export",
            ),
            *super().get_urls(),
        ]

    def _scoped(self, request, pk):
        """The survey (as the user may see it) and the scope of its results: every unit or
        the organiser's chosen delegation; the secretary's own delegation's subtree."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        scope = scope_for(request, groups_only=False)  # nobody else: 403
        survey = get_object_or_404(self.get_queryset(request).select_related("edition"), pk=pk)
        units = None if scope.node is None else scope.units(survey.edition)
        return survey, scope, units

    def results_view(self, request, pk):
        survey, scope, units = self._scoped(request, pk)
        results = survey_results(survey, units=units)
        export = reverse("admin:delegations_survey_export", args=[survey.pk])
        return TemplateResponse(
            request,
            "admin/delegations/survey/results.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Results: %(survey)s") % {"survey": survey.title},
                "opts": self.model._meta,
                "survey": survey,
                "scope": scope,
                "results": results,
                "export_url": f"{export}?{scope.query}" if scope.query else export,
            },
        )

    def export_view(self, request, pk):
        survey, scope, units = self._scoped(request, pk)
        if request.method != "GET":
            raise Http404
        response = HttpResponse(survey_workbook(survey, units=units), content_type=XLSX)
        name = f"survey-{survey.pk}" + (f"-{scope.node.code}" if scope.node else "")
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        return response
