"""复制为新一届 and the survey: the new edition starts from the source edition's surveys and
their questions, as drafts; no response is copied."""

import pytest

from ciie_portal.cloning import edition_clone
from ciie_portal.models import AuditEntry
from delegations.survey.models import Survey, SurveyResponse
from delegations.survey.services import response_submit
from tests.delegations.survey_factories import buyer_survey

pytestmark = pytest.mark.django_db


def test_a_new_edition_starts_from_the_surveys_as_drafts(edition, unit, organiser):
    source = buyer_survey(edition)
    response_submit(
        survey=source, unit=unit, answers={source.q[0].pk: 0, source.q[2].pk: 5}, actor=None
    )
    result = edition_clone(
        source=edition, number=11, name="第11届", name_en="11th", offset=364, actor=organiser
    )
    copy = Survey.objects.get(edition=result.edition)
    assert copy.status == Survey.Status.DRAFT and copy.opened_at is None
    assert (copy.title, copy.title_en, copy.intro_en) == (
        source.title,
        source.title_en,
        source.intro_en,
    )
    copied = list(copy.questions.order_by("position"))
    assert [(q.kind, q.text, q.text_en, q.choices, q.required) for q in copied] == [
        (q.kind, q.text, q.text_en, q.choices, q.required) for q in source.q
    ]
    assert not SurveyResponse.objects.filter(survey=copy).exists()
    entry = AuditEntry.objects.get(action="edition.cloned")
    assert entry.data["counts"]["delegations.surveys"] == 1
    # The source edition's survey is as it was.
    assert Survey.objects.get(pk=source.pk).status == Survey.Status.OPEN
