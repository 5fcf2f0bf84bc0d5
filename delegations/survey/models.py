"""The buyer satisfaction survey's tables (app ``delegations``).

A unit answers a survey once: its response is one row per (survey, unit) — a draft while it
is being written, then submitted and never changed — which the database holds to
(``one_survey_response_per_unit``). Questions are written in the admin and cannot change once
a unit has answered (``services.survey_questions_locked``).
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ciie_portal.names import localized
from ciie_portal.read_cache import WatchedQuerySet
from ciie_portal.states import StateMachine

RATING_MIN, RATING_MAX = 1, 5
#: The longest free-text answer.
TEXT_MAX_LENGTH = 2000


class Survey(models.Model):
    """采购商满意度调查 of one edition: written as a draft, opened to the units, closed."""

    class Status(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("survey status", "Draft")
        OPEN = "open", pgettext_lazy("survey status", "Open")
        CLOSED = "closed", pgettext_lazy("survey status", "Closed")

    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="surveys",
        verbose_name=_("edition"),
    )
    title = models.CharField(_("survey title"), max_length=200)
    title_en = models.CharField(
        _("title in English"),
        max_length=200,
        blank=True,
        help_text=_("Shown to units who use the portal in English; empty: the Chinese title."),
    )
    intro = models.TextField(_("introduction"), blank=True)
    intro_en = models.TextField(_("introduction in English"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    # The open survey of an edition is kept in the shared cache (``selectors.open_survey``).
    objects = WatchedQuerySet.as_manager()

    class Meta:
        verbose_name = _("buyer satisfaction survey")
        verbose_name_plural = _("buyer satisfaction surveys")
        ordering = ["-pk"]
        constraints = [
            # The dashboard shows "the" survey of the edition: at most one is open at a time.
            models.UniqueConstraint(
                fields=["edition"],
                condition=Q(status="open"),
                name="one_open_survey_per_edition",
            ),
        ]

    def __str__(self):
        return self.display_title

    @property
    def display_title(self) -> str:
        return localized(self.title, self.title_en)

    @property
    def display_intro(self) -> str:
        return localized(self.intro, self.intro_en)


SURVEY_STATES = StateMachine(
    name="survey",
    choices=Survey.Status,
    moves={
        Survey.Status.DRAFT: [Survey.Status.OPEN],
        Survey.Status.OPEN: [Survey.Status.CLOSED],
        # Opened again (e.g. for late answers): what was submitted stays submitted.
        Survey.Status.CLOSED: [Survey.Status.OPEN],
    },
)


class SurveyQuestion(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", _("Single choice")
        MULTIPLE = "multiple", _("Multiple choice")
        RATING = "rating", _("Rating 1–5")
        TEXT = "text", _("Free text")

    survey = models.ForeignKey(
        Survey, on_delete=models.CASCADE, related_name="questions", verbose_name=_("survey")
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    kind = models.CharField(_("question type"), max_length=10, choices=Kind.choices)
    text = models.CharField(_("question"), max_length=500)
    text_en = models.CharField(_("question in English"), max_length=500, blank=True)
    #: The choices of a choice question, in their order: ``[{"zh": "…", "en": "…"}, …]``; an
    #: answer names them by their position (0, 1, …).
    choices = models.JSONField(_("choices"), default=list, blank=True)
    required = models.BooleanField(_("answer required"), default=True)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["survey_id", "position", "pk"]

    def __str__(self):
        return self.display_text

    @property
    def display_text(self) -> str:
        return localized(self.text, self.text_en)

    @property
    def has_choices(self) -> bool:
        return self.kind in (self.Kind.SINGLE, self.Kind.MULTIPLE)

    def choice_labels(self) -> list[str]:
        """The choices in the active language (the Chinese one where no English is given)."""
        return [localized(choice.get("zh", ""), choice.get("en", "")) for choice in self.choices]


class SurveyResponse(models.Model):
    """One unit's answers to one survey: a draft it may save and resume, then submitted."""

    class Status(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("survey response status", "Draft")
        SUBMITTED = "submitted", pgettext_lazy("survey response status", "Submitted")

    survey = models.ForeignKey(
        Survey, on_delete=models.PROTECT, related_name="responses", verbose_name=_("survey")
    )
    unit = models.ForeignKey(
        "registration.Unit",
        on_delete=models.PROTECT,
        related_name="survey_responses",
        verbose_name=_("unit"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("submitted by"),
    )

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        ordering = ["pk"]
        constraints = [
            # A unit answers a survey once: its draft and its submission are this one row.
            models.UniqueConstraint(fields=["survey", "unit"], name="one_survey_response_per_unit"),
            models.CheckConstraint(
                condition=Q(status="draft", submitted_at__isnull=True)
                | Q(status="submitted", submitted_at__isnull=False),
                name="survey_response_submitted_at_iff_submitted",
            ),
        ]

    def __str__(self):
        return f"{self.survey} · {self.unit}"


RESPONSE_STATES = StateMachine(
    name="survey_response",
    choices=SurveyResponse.Status,
    moves={SurveyResponse.Status.DRAFT: [SurveyResponse.Status.SUBMITTED]},
)


class SurveyAnswer(models.Model):
    """A response's answer to one question: the chosen positions (choice questions), the rating
    or the text. A question left unanswered has no row."""

    response = models.ForeignKey(
        SurveyResponse, on_delete=models.CASCADE, related_name="answers", verbose_name=_("response")
    )
    question = models.ForeignKey(
        SurveyQuestion, on_delete=models.PROTECT, related_name="answers", verbose_name=_("question")
    )
    choices = models.JSONField(_("chosen"), default=list, blank=True)
    rating = models.PositiveSmallIntegerField(
        _("rating"),
        null=True,
        blank=True,
        validators=[MinValueValidator(RATING_MIN), MaxValueValidator(RATING_MAX)],
    )
    text = models.TextField(_("text"), blank=True)

    class Meta:
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        constraints = [
            models.UniqueConstraint(
                fields=["response", "question"], name="one_answer_per_question"
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True)
                | Q(rating__gte=RATING_MIN, rating__lte=RATING_MAX),
                name="survey_rating_1_to_5",
            ),
        ]

    def __str__(self):
        return f"{self.response_id} · {self.question_id}"
