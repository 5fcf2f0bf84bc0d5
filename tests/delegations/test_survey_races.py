"""The survey when requests race (PostgreSQL): a unit's two submissions at once submit once;
a unit's first answer and the organiser's change of the questions wait for each other, so a
question never changes under an answer."""

import time

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from delegations.models import Delegation
from delegations.survey.models import SurveyAnswer, SurveyQuestion, SurveyResponse
from delegations.survey.services import response_save, response_submit, survey_lock_for_questions
from tests.conftest import on_postgres
from tests.delegations.survey_factories import buyer_survey
from tests.races import run_at_once
from tests.registration.factories import ApprovedUnitFactory

pytestmark = [on_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def unit(edition):
    # Transactional tests empty the tables afterwards, reference data included.
    delegation, _ = Delegation.objects.get_or_create(code="gd", defaults={"name": "广东交易团"})
    return ApprovedUnitFactory(edition=edition, delegation=delegation)


def test_two_submissions_at_once_submit_once(unit, edition):
    survey = buyer_survey(edition)
    answers = {survey.q[0].pk: 0, survey.q[2].pk: 4}

    def submit():
        return response_submit(survey=survey, unit=unit, answers=answers, actor=unit.account)

    outcomes = run_at_once(submit, submit, submit)
    assert sum(outcome.ok for outcome in outcomes) == 1, outcomes
    refused = [outcome.error for outcome in outcomes if not outcome.ok]
    assert all(isinstance(error, ValidationError) for error in refused), refused
    assert SurveyResponse.objects.filter(unit=unit).count() == 1
    assert SurveyResponse.objects.get(unit=unit).status == SurveyResponse.Status.SUBMITTED


def test_a_first_answer_waits_for_a_change_of_the_questions_and_then_locks_them(unit, edition):
    survey = buyer_survey(edition)
    first = survey.q[0]
    order = []

    def organiser_drops_a_choice():
        with transaction.atomic():
            may = survey_lock_for_questions(survey)
            order.append("organiser locks")
            time.sleep(0.5)  # the unit's answer arrives meanwhile and waits
            SurveyQuestion.objects.filter(pk=first.pk).update(choices=first.choices[:2])
            order.append("organiser done")
        return may

    def unit_answers_the_dropped_choice():
        time.sleep(0.1)
        try:
            response_save(survey=survey, unit=unit, answers={first.pk: 2}, actor=None)
        finally:
            order.append("unit answered")

    outcomes = run_at_once(organiser_drops_a_choice, unit_answers_the_dropped_choice)
    assert outcomes[0].value is True
    # The answer was checked against the questions as changed: the third choice is gone.
    assert isinstance(outcomes[1].error, ValidationError), outcomes
    assert order == ["organiser locks", "organiser done", "unit answered"]
    assert not SurveyAnswer.objects.exists()

    response_save(survey=survey, unit=unit, answers={first.pk: 1}, actor=None)
    with transaction.atomic():
        assert survey_lock_for_questions(survey) is False
