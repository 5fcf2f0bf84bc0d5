"""unit_info_save writes only what the unit changed, on the row as locked now: an organiser's
change of the unit's delegation or status that commits between the unit's read and its save
survives."""

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from ciie_portal.models import AuditEntry
from registration.models import Unit
from registration.services import unit_info_save
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.conftest import on_postgres
from tests.delegations.factories import DelegationFactory
from tests.registration.factories import UnitFactory


def test_a_stale_unit_does_not_undo_a_new_delegation(unit, other_delegation):
    stale = Unit.objects.get(pk=unit.pk)  # what the contact's page read
    Unit.objects.filter(pk=unit.pk).update(delegation=other_delegation)  # the organiser
    saved = unit_info_save(unit=stale, actor=unit.account, values={"short_name": "测试"})
    fresh = Unit.objects.get(pk=unit.pk)
    assert fresh.delegation == other_delegation
    assert fresh.short_name == "测试"
    assert saved.delegation == other_delegation
    entry = AuditEntry.objects.get(action="unit.info_save")
    assert entry.data == {"fields": ["short_name"]}


@pytest.fixture
def race_unit():
    """Transactional tests empty every table: make all that is needed here."""
    edition = EditionFactory(is_current=True)
    EntryPeriodFactory(edition=edition)
    return UnitFactory(edition=edition, delegation=DelegationFactory(name="甲交易团", code="a"))


def _organiser_commits_while_the_unit_saves(unit_id, organiser_change, unit_save):
    """The organiser locks the row and changes it; the unit's save starts (and waits for the
    lock) before the organiser commits. Returns what the unit's save raised, if anything."""
    locked = threading.Event()
    outcome = {}

    def organiser():
        try:
            with transaction.atomic():
                Unit.objects.select_for_update().get(pk=unit_id)
                organiser_change()
                locked.set()
                time.sleep(0.5)  # the unit's save is now waiting for this row
        finally:
            connection.close()

    def contact():
        try:
            locked.wait(5)
            unit_save()
        except ValidationError as error:
            outcome["refused"] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=organiser), threading.Thread(target=contact)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome


@on_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_organisers_new_delegation_survives_a_concurrent_unit_save(race_unit):
    stale = Unit.objects.get(pk=race_unit.pk)
    other = DelegationFactory(name="乙交易团", code="b")
    outcome = _organiser_commits_while_the_unit_saves(
        race_unit.pk,
        lambda: Unit.objects.filter(pk=race_unit.pk).update(delegation=other),
        lambda: unit_info_save(unit=stale, actor=stale.account, values={"short_name": "并发"}),
    )
    assert outcome == {}
    fresh = Unit.objects.get(pk=race_unit.pk)
    assert (fresh.delegation_id, fresh.short_name) == (other.pk, "并发")


@on_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_unit_submitted_meanwhile_is_not_reopened_by_a_stale_save(race_unit):
    stale = Unit.objects.get(pk=race_unit.pk)
    assert stale.status == Unit.Status.DRAFT
    outcome = _organiser_commits_while_the_unit_saves(
        race_unit.pk,
        lambda: Unit.objects.filter(pk=race_unit.pk).update(status=Unit.Status.SUBMITTED),
        lambda: unit_info_save(unit=stale, actor=stale.account, values={"short_name": "并发"}),
    )
    assert outcome["refused"].messages  # "The unit information was submitted …"
    fresh = Unit.objects.get(pk=race_unit.pk)
    assert (fresh.status, fresh.short_name) == (Unit.Status.SUBMITTED, "")
