"""Factories of the buyer satisfaction survey, and the survey most tests answer."""

import factory

from delegations.survey.models import Survey, SurveyQuestion

K = SurveyQuestion.Kind

SATISFACTION = [
    {"zh": "非常满意", "en": "Very satisfied"},
    {"zh": "满意", "en": "Satisfied"},
    {"zh": "一般", "en": "Neutral"},
]
GOODS = [
    {"zh": "食品及农产品", "en": "Food and agricultural products"},
    {"zh": "汽车", "en": "Automobiles"},
    {"zh": "医疗器械", "en": "Medical equipment"},
]


class SurveyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Survey

    title = "采购商满意度调查"
    title_en = "Buyer satisfaction survey"
    intro = "感谢参加本届进博会，请花两分钟回答以下问题。"
    intro_en = "Thank you for coming to the expo; two minutes of your time, please."


class SurveyQuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SurveyQuestion

    survey = factory.SubFactory(SurveyFactory)
    position = factory.Sequence(lambda n: n)
    kind = K.TEXT
    text = factory.Sequence(lambda n: f"问题{n}")
    text_en = factory.Sequence(lambda n: f"Question {n}")
    required = False


def buyer_survey(edition, *, status=Survey.Status.OPEN) -> Survey:
    """Four questions, one of each kind: 1 single choice (required), 2 multiple choice, 3 rating
    (required), 4 free text. ``survey.q`` lists them in order."""
    survey = SurveyFactory(edition=edition, status=status)
    if status == Survey.Status.OPEN:
        from django.utils import timezone

        Survey.objects.filter(pk=survey.pk).update(opened_at=timezone.now())
    survey.q = [
        SurveyQuestionFactory(
            survey=survey,
            position=1,
            kind=K.SINGLE,
            text="您对本届进博会的总体满意度如何？",
            text_en="How satisfied are you with the expo overall?",
            choices=SATISFACTION,
            required=True,
        ),
        SurveyQuestionFactory(
            survey=survey,
            position=2,
            kind=K.MULTIPLE,
            text="您采购了哪些品类？",
            text_en="Which kinds of goods did you buy?",
            choices=GOODS,
        ),
        SurveyQuestionFactory(
            survey=survey,
            position=3,
            kind=K.RATING,
            text="请为展馆服务打分",
            text_en="Rate the services at the venue",
            required=True,
        ),
        SurveyQuestionFactory(
            survey=survey,
            position=4,
            kind=K.TEXT,
            text="您对下一届有什么建议？",
            text_en="What should the next expo do better?",
        ),
    ]
    return survey
