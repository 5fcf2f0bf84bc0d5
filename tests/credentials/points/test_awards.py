"""积分: each event earns its points exactly once — a gate scanned twice the same day counts once,
two days twice; a hook and the catch-up, each run twice, write one entry — at the edition's
rule; another edition's rule does not apply, no rule awards nothing."""

from datetime import datetime, time, timedelta

import pytest
from django.db import DatabaseError, transaction

from ciie_portal.records import ImmutableRecord
from credentials.entry.models import EntryRule
from credentials.entry.rules import SHANGHAI, today_in_shanghai
from credentials.entry.services import scan_check
from credentials.points.models import PointsEntry, PointsRule
from credentials.points.selectors import edition_rules, unit_balance, visitor_balance
from credentials.points.services import points_catch_up
from credentials.review.models import ReviewBatch, ReviewResult
from registration.exhibitors.signals import meeting_held
from registration.models import ConsentBy, Visitor
from registration.views_join import join_approve
from tests.ciie_portal.factories import EditionFactory
from tests.conftest import on_postgres
from tests.credentials.points.factories import give, held_meeting, rules
from tests.registration.factories import UnitFactory, UserFactory, VisitorFactory

pytestmark = pytest.mark.django_db


def _scan(edition, credential, *, at=None):
    return scan_check(edition=edition, payload=credential.qr_payload, gate="1号门", at=at)


def _entries(**filters):
    return list(PointsEntry.objects.filter(**filters).order_by("source_key"))


# --- Gate days --------------------------------------------------------------------------------


def test_a_gate_scanned_twice_the_same_day_counts_once_and_two_days_twice(edition, credentials):
    rules(edition, gate_day=5)
    EntryRule.objects.create(edition=edition, anti_passback=False)  # admitted every time
    card = credentials["today"]
    assert _scan(edition, card).verdict.admitted
    assert _scan(edition, card).verdict.admitted
    assert [e.source_key for e in _entries(kind="gate_day")] == [
        f"gate_day:{card.visitor_id}:{today_in_shanghai().isoformat()}"
    ]
    # The day before (the card's entry period starts then): a second day.
    yesterday = today_in_shanghai() - timedelta(days=1)
    assert _scan(edition, card, at=_beijing_noon(yesterday)).verdict.admitted
    entries = _entries(kind="gate_day")
    assert len(entries) == 2
    assert {e.points for e in entries} == {5}
    assert {(e.unit_id, e.visitor_id) for e in entries} == {(card.visitor.unit_id, card.visitor_id)}
    assert unit_balance(card.visitor.unit_id) == 10 == visitor_balance(card.visitor_id)
    # The catch-up finds nothing missing, run twice.
    assert points_catch_up(edition=edition)["gate_day"] == 0
    assert points_catch_up(edition=edition)["gate_day"] == 0
    assert len(_entries(kind="gate_day")) == 2


def _beijing_noon(day):
    return datetime.combine(day, time(12, 0), tzinfo=SHANGHAI)


def test_refused_scans_and_exits_earn_nothing(edition, credentials):
    rules(edition, gate_day=5)
    assert not _scan(edition, credentials["revoked"]).verdict.admitted
    assert not _scan(edition, credentials["later"]).verdict.admitted
    scan_check(edition=edition, payload="garbage", gate="1号门")
    assert _entries() == []
    assert points_catch_up(edition=edition)["gate_day"] == 0


def test_without_a_rule_a_scan_earns_nothing_until_a_rule_and_the_catch_up(edition, credentials):
    card = credentials["today"]
    assert _scan(edition, card).verdict.admitted
    assert _entries() == []
    rules(edition, gate_day=7)
    assert points_catch_up(edition=edition) == {"gate_day": 1}
    assert points_catch_up(edition=edition) == {"gate_day": 0}
    [entry] = _entries()
    assert (entry.points, entry.visitor_id) == (7, card.visitor_id)


def test_another_editions_rule_does_not_apply(edition, credentials):
    rules(EditionFactory(number=11), gate_day=5, registration_completed=10)
    assert _scan(edition, credentials["today"]).verdict.admitted
    assert edition_rules(edition.pk) == {}
    assert points_catch_up(edition=edition) == {}
    assert _entries() == []


# --- Registration completed: the visitor review passed ----------------------------------------


def _review(visitor, outcome):
    user = UserFactory(is_staff=True)
    batch = ReviewBatch.objects.create(edition=visitor.edition, exported_by=user)
    return ReviewResult.objects.create(
        visitor=visitor,
        batch=batch,
        outcome=outcome,
        reason="" if outcome == "passed" else "不符合",
        recorded_by=user,
    )


def test_a_passed_review_counts_once_and_a_failed_one_not_at_all(edition, unit):
    rules(edition, registration_completed=10)
    passed = VisitorFactory(unit=unit, status=Visitor.Status.REVIEW_PASSED)
    failed = VisitorFactory(unit=unit, status=Visitor.Status.REVIEW_FAILED)
    _review(passed, "passed")
    _review(failed, "failed")
    assert points_catch_up(edition=edition) == {"registration_completed": 1}
    assert points_catch_up(edition=edition) == {"registration_completed": 0}
    [entry] = _entries()
    assert (entry.unit_id, entry.visitor_id, entry.points, entry.source_key) == (
        unit.pk,
        passed.pk,
        10,
        f"registration_completed:{passed.pk}",
    )


# --- A colleague who joined by the link and was approved --------------------------------------


def test_a_colleague_counts_once_approved_for_the_unit_and_the_visitor(edition, unit, contact):
    rules(edition, colleague_joined=20)
    colleague = VisitorFactory(
        unit=unit, join_pending=True, sensitive_consent_by=ConsentBy.COLLEAGUE
    )
    entered_by_contact = VisitorFactory(unit=unit, sensitive_consent_by=ConsentBy.CONTACT)
    assert points_catch_up(edition=edition, unit=unit) == {"colleague_joined": 0}
    # Awarded in the approval's transaction (registration.signals.colleagues_joined): the
    # catch-up then finds nothing left to count.
    join_approve(unit=unit, visitor_ids=[colleague.pk], actor=contact)
    assert unit_balance(unit.pk) == 20
    assert points_catch_up(edition=edition, unit=unit) == {"colleague_joined": 0}
    assert points_catch_up(edition=edition) == {"colleague_joined": 0}
    assert unit_balance(unit.pk) == 20 == visitor_balance(colleague.pk)
    assert visitor_balance(entered_by_contact.pk) == 0


# --- A meeting held ---------------------------------------------------------------------------


def test_a_meeting_held_counts_once_for_the_unit_even_when_told_twice(edition, unit):
    rules(edition, meeting_held=30)
    meeting = held_meeting(unit)
    with transaction.atomic():
        meeting_held.send(sender=type(meeting), meeting=meeting)
        meeting_held.send(sender=type(meeting), meeting=meeting)
    assert points_catch_up(edition=edition) == {"meeting_held": 0}
    [entry] = _entries()
    assert (entry.unit_id, entry.visitor_id, entry.points, entry.kind) == (
        unit.pk,
        None,
        30,
        "meeting_held",
    )


def test_the_catch_up_awards_a_meeting_the_signal_did_not_report(edition, unit, other_unit):
    rules(edition, meeting_held=30)
    held_meeting(unit)
    held_meeting(other_unit)
    assert points_catch_up(edition=edition, unit=unit) == {"meeting_held": 1}
    assert (unit_balance(unit.pk), unit_balance(other_unit.pk)) == (30, 0)
    assert points_catch_up(edition=edition) == {"meeting_held": 1}
    assert unit_balance(other_unit.pk) == 30


# --- Rules ------------------------------------------------------------------------------------


def test_a_rule_changed_applies_from_then_on_and_the_cache_follows(edition, unit):
    [rule] = rules(edition, meeting_held=30)
    held_meeting(unit)
    points_catch_up(edition=edition)
    rule.points = 50
    rule.save()
    assert edition_rules(edition.pk) == {"meeting_held": 50}
    held_meeting(unit)
    points_catch_up(edition=edition)
    assert sorted(_entries(), key=lambda e: e.pk)[-1].points == 50
    assert unit_balance(unit.pk) == 80


def test_a_rule_earns_at_least_one_point_and_one_rule_per_kind(edition):
    rules(edition, gate_day=5)
    with pytest.raises(DatabaseError), transaction.atomic():
        PointsRule.objects.create(edition=edition, kind="gate_day", points=3)
    with pytest.raises(DatabaseError), transaction.atomic():
        PointsRule.objects.create(edition=edition, kind="meeting_held", points=0)


# --- The ledger is append-only ----------------------------------------------------------------


def test_the_ledger_is_never_changed_nor_deleted(unit):
    entry = give(unit, 10)
    with pytest.raises(ImmutableRecord):
        PointsEntry.objects.filter(pk=entry.pk).update(points=100)
    with pytest.raises(ImmutableRecord):
        entry.delete()
    with pytest.raises(ImmutableRecord):
        entry.points = 100
        entry.save()


@on_postgres
def test_the_database_refuses_changing_the_ledger_too(unit):
    from django.db import connection

    entry = give(unit, 10)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE credentials_pointsentry SET points = 100 WHERE id = %s", [entry.pk])
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM credentials_pointsentry WHERE id = %s", [entry.pk])
    assert unit_balance(unit.pk) == 10


def test_units_of_other_editions_keep_their_own_points(edition, unit):
    rules(edition, meeting_held=30)
    other_edition = EditionFactory(number=11)
    rules(other_edition, meeting_held=1)
    elsewhere = UnitFactory(edition=other_edition)
    held_meeting(unit)
    held_meeting(elsewhere)
    points_catch_up(edition=edition)
    points_catch_up(edition=other_edition)
    assert (unit_balance(unit.pk), unit_balance(elsewhere.pk)) == (30, 1)


# --- The direct awards the event's services call ----------------------------------------------


def test_the_direct_awards_count_once_only_the_visitors_named(edition, unit, contact):
    from credentials.points.services import points_award_colleagues, points_award_reviews_passed
    from credentials.points.wiring import colleagues_joined

    rules(edition, colleague_joined=20, registration_completed=10)
    named, other = (
        VisitorFactory(unit=unit, join_pending=True, sensitive_consent_by=ConsentBy.COLLEAGUE)
        for _ in range(2)
    )
    # The approval tells the points at once (registration.signals.colleagues_joined); the
    # receiver told again, or the service called again, counts nothing more.
    approved = join_approve(unit=unit, visitor_ids=[named.pk], actor=contact)
    with transaction.atomic():
        colleagues_joined(sender=None, unit=unit, visitors=approved)
    assert points_award_colleagues(unit=unit, visitor_ids=[named.pk]) == 0
    assert visitor_balance(named.pk) == 20 and visitor_balance(other.pk) == 0
    _review(named, "passed")
    _review(other, "passed")
    assert points_award_reviews_passed(edition=edition, visitor_ids=[other.pk]) == 1
    assert points_award_reviews_passed(edition=edition, visitor_ids=[other.pk]) == 0
    assert (visitor_balance(named.pk), visitor_balance(other.pk)) == (20, 10)
