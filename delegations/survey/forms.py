"""The unit's survey form: one field per question, built from the survey's questions.

Saving a draft takes any answers (every field optional); submitting needs the required ones
(a message next to each question left unanswered). Either way the answers go to the services
as ``{question id: value}``, which check them again.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import RATING_MAX, RATING_MIN, TEXT_MAX_LENGTH, SurveyQuestion

K = SurveyQuestion.Kind

RATING_WORDS = {
    RATING_MIN: _("very dissatisfied"),
    RATING_MAX: _("very satisfied"),
}


def _rating_choices():
    choices = []
    for value in range(RATING_MIN, RATING_MAX + 1):
        word = RATING_WORDS.get(value)
        choices.append((str(value), f"{value} – {word}" if word else str(value)))
    return choices


def _field_name(question: SurveyQuestion) -> str:
    return f"q{question.pk}"


class SurveyForm(forms.Form):
    """``submitting``: the required questions must be answered (else a draft: nothing is)."""

    def __init__(self, *args, questions: list[SurveyQuestion], submitting: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = questions
        for number, question in enumerate(questions, start=1):
            self.fields[_field_name(question)] = self._field(question, number, submitting)

    @staticmethod
    def _field(question: SurveyQuestion, number: int, submitting: bool) -> forms.Field:
        options = {
            "label": f"{number}. {question.display_text}",
            # Shown as required (and said so to screen readers) whatever the button, enforced
            # only on submitting: a draft may be saved with any question open (the page's form
            # is ``novalidate``; ``show_required`` marks them again after a draft's check).
            "required": question.required,
            "error_messages": {"required": _("Please answer this question.")},
        }
        choices = [
            (str(position), label) for position, label in enumerate(question.choice_labels())
        ]
        if question.kind == K.SINGLE:
            field = forms.ChoiceField(choices=choices, widget=forms.RadioSelect, **options)
        elif question.kind == K.MULTIPLE:
            field = forms.MultipleChoiceField(
                choices=choices,
                widget=forms.CheckboxSelectMultiple,
                help_text=_("Choose all that apply."),
                **options,
            )
        elif question.kind == K.RATING:
            field = forms.ChoiceField(
                choices=_rating_choices(), widget=forms.RadioSelect, **options
            )
        else:
            field = forms.CharField(
                max_length=TEXT_MAX_LENGTH,
                widget=forms.Textarea(attrs={"rows": 4}),
                **options,
            )
        field.question = question
        field.marked_required = question.required
        if not submitting:
            field.required = False
        return field

    def answers(self) -> dict[int, object]:
        """The cleaned answers as the services take them (unanswered questions left out)."""
        values = {}
        for question in self.questions:
            value = self.cleaned_data.get(_field_name(question))
            if value in (None, "", []):
                continue
            if question.kind == K.SINGLE:
                values[question.pk] = int(value)
            elif question.kind == K.MULTIPLE:
                values[question.pk] = [int(item) for item in value]
            elif question.kind == K.RATING:
                values[question.pk] = int(value)
            else:
                values[question.pk] = value
        return values

    def show_required(self) -> None:
        """Mark the required questions as such again (a draft was checked without them)."""
        for field in self.fields.values():
            field.required = field.marked_required

    def mark_missing(self, question_ids) -> None:
        """The service found these required questions unanswered: say so next to each."""
        for question in self.questions:
            if question.pk in question_ids and _field_name(question) not in self.errors:
                self.add_error(_field_name(question), _("Please answer this question."))


def initial_of(answers: dict[int, object]) -> dict[str, object]:
    """A saved draft as the form's initial values."""
    initial = {}
    for question_id, value in answers.items():
        if isinstance(value, list):
            initial[f"q{question_id}"] = [str(item) for item in value]
        else:
            initial[f"q{question_id}"] = str(value) if isinstance(value, int) else value
    return initial
