"""The operational figures (ciie_portal.ops): rates from the tables' own timestamps, the scope
of a delegation, the current edition only, the queue lengths read from Redis; and every figure's
query served by an index (PostgreSQL), so that a scrape never reads a whole table."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ciie_portal.models import Notice, OutboxMessage
from ciie_portal.ops import broker
from ciie_portal.ops.figures import Scope, admin_url_of, figures, resolve, snapshot
from ciie_portal.ops.queries import recent
from credentials.models import ProductionJob
from registration.models import Unit, Visitor
from tests.ciie_portal.factories import EditionFactory
from tests.conftest import on_postgres
from tests.credentials.factories import CredentialOrderFactory
from tests.registration.factories import UnitFactory, VisitorFactory


def _figure(values, name, **labels):
    [sample] = [sample for sample in values[name] if sample.labels == labels]
    return sample.value


def test_the_scope_is_the_current_edition_unless_named(edition):
    assert resolve(Scope(None)).edition_id == edition.pk
    other = EditionFactory(number=9)
    assert resolve(Scope(other.pk)).edition_id == other.pk


def test_registrations_per_minute_over_one_and_five_minutes(unit, other_unit, guangzhou):
    VisitorFactory.create_batch(3, unit=unit)
    VisitorFactory(unit=other_unit)
    three_minutes_ago = VisitorFactory(unit=unit)
    Visitor.objects.filter(pk=three_minutes_ago.pk).update(
        created_at=timezone.now() - timedelta(minutes=3)
    )
    old = VisitorFactory(unit=unit)
    Visitor.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=9))

    values = snapshot(Scope(None))
    assert _figure(values, "visitor_registrations_per_minute", window="1m") == 4
    assert _figure(values, "visitor_registrations_per_minute", window="5m") == pytest.approx(5 / 5)
    own = snapshot(Scope(None, delegation_id=guangzhou.pk))
    assert _figure(own, "visitor_registrations_per_minute", window="1m") == 3
    # Two units were registered (the fixtures'); none of another edition counts.
    other_edition = EditionFactory(number=9)
    UnitFactory(edition=other_edition)
    assert _figure(values, "unit_registrations_per_minute", window="1m") == 2
    assert _figure(own, "unit_registrations_per_minute", window="1m") == 1


def test_submissions_per_minute_count_the_orders_of_the_last_minutes(unit, other_unit):
    # Orders never change once made: the old one is made as it was, before the others.
    CredentialOrderFactory(unit=unit, created_at=timezone.now() - timedelta(minutes=10))
    CredentialOrderFactory(unit=unit)
    CredentialOrderFactory(unit=other_unit)
    values = snapshot(Scope(None))
    assert _figure(values, "submissions_per_minute", window="1m") == 2
    assert _figure(values, "submissions_per_minute", window="5m") == pytest.approx(2 / 5)
    scoped = snapshot(Scope(None, delegation_id=other_unit.delegation_id))
    assert _figure(scoped, "submissions_per_minute", window="1m") == 1


def test_recent_reads_the_rows_after_the_newest_older_one(unit):
    units = [UnitFactory(edition=unit.edition) for _ in range(4)]
    now = timezone.now()
    # Ids grow with time: the two oldest were created long ago.
    for index, older in enumerate(units[:2]):
        Unit.objects.filter(pk=older.pk).update(created_at=now - timedelta(hours=2 - index))
    Unit.objects.filter(pk=unit.pk).update(created_at=now - timedelta(hours=3))
    since = now - timedelta(minutes=5)
    assert set(recent(Unit.objects.all(), "created_at", since)) == set(units[2:])
    assert not recent(Unit.objects.all(), "created_at", now + timedelta(seconds=1)).exists()


def test_notices_of_another_edition_are_not_counted(edition):
    other = EditionFactory(number=9)
    for index, (owner, status) in enumerate(
        [(edition, "queued"), (edition, "failed"), (other, "queued"), (edition, "sent")]
    ):
        Notice.objects.create(
            key=f"figures:{index}",
            event="test",
            channel="email",
            recipient="a@example.com",
            template="verification_code",
            edition=owner,
            status=status,
        )
    values = snapshot(Scope(None))
    assert _figure(values, "notices", channel="email", state="queued") == 1
    assert _figure(values, "notices", channel="email", state="failed") == 1
    assert _figure(values, "notices", channel="sms", state="queued") == 0
    assert _figure(snapshot(Scope(other.pk)), "notices", channel="email", state="queued") == 1


def test_the_outbox_backlog_and_its_oldest_message(db):
    now = timezone.now()
    OutboxMessage.objects.create(task="t", publish_after=now - timedelta(seconds=40))
    OutboxMessage.objects.create(task="t", publish_after=now + timedelta(minutes=5))  # not due
    OutboxMessage.objects.create(task="t", publish_after=now, published_at=now)
    values = snapshot(Scope(None))
    assert _figure(values, "outbox_backlog") == 2
    assert 40 <= _figure(values, "outbox_oldest_waiting_seconds") < 60


def test_production_jobs_their_speed_and_the_stalled_ones(edition):
    now = timezone.now()
    ProductionJob.objects.create(edition=edition)  # queued
    ProductionJob.objects.create(
        edition=edition,
        status="running",
        started_at=now - timedelta(seconds=100),
        done=400,
        lease_owner="worker-1",
        lease_until=now + timedelta(minutes=1),
    )
    ProductionJob.objects.create(
        edition=edition,
        status="running",
        started_at=now - timedelta(seconds=200),
        done=200,
        lease_owner="worker-2",
        lease_until=now - timedelta(seconds=5),  # its worker is gone
    )
    ProductionJob.objects.create(edition=edition, status="done", done=1000)
    values = snapshot(Scope(None))
    assert _figure(values, "production_jobs", state="queued") == 1
    assert _figure(values, "production_jobs", state="running") == 2
    assert _figure(values, "production_cards_per_second") == pytest.approx(4 + 1, rel=0.05)
    assert _figure(values, "production_jobs_stalled") == 1


def test_queue_lengths_are_read_from_the_redis_broker(db, monkeypatch):
    if not broker.broker_is_redis():
        values = snapshot(Scope(None))
        assert values["celery_queue_length"] == []
        return
    client = broker._client()
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}"
    client.delete(queue, f"{queue}{broker.PRIORITY_SEPARATOR}6")
    try:
        client.rpush(queue, "a", "b")
        client.rpush(f"{queue}{broker.PRIORITY_SEPARATOR}6", "c")
        values = snapshot(Scope(None))
        assert _figure(values, "celery_queue_length", queue=queue) == 3
        assert _figure(values, "celery_queue_length", queue=settings.CELERY_BATCH_QUEUE) >= 0
    finally:
        client.delete(queue, f"{queue}{broker.PRIORITY_SEPARATOR}6")


def test_no_queue_lengths_without_a_redis_broker(db, settings):
    settings.CELERY_BROKER_URL = "memory://"
    assert broker.queue_lengths() is None
    values = snapshot(Scope(None))
    assert values["celery_queue_length"] == []
    assert values["celery_tasks_unacked"] == []


def test_every_admin_link_opens_for_an_organiser(client, organiser, edition):
    client.force_login(organiser)
    for figure in figures():
        url = admin_url_of(figure, Scope(None))
        if url is not None:
            assert client.get(url).status_code == 200, (figure.name, url)


@on_postgres
def test_every_figure_query_can_be_answered_from_an_index(edition, unit, guangzhou):
    """With sequential scans priced out, a query that still scans a table has no index to
    use: on the portal's big tables (visitors, notices, payments...) it would read them all
    on every scrape."""
    with CaptureQueriesContext(connection) as everything:
        snapshot(Scope(None))
        snapshot(Scope(None, delegation_id=guangzhou.pk))
    selects = [query["sql"] for query in everything.captured_queries]
    assert selects
    scanned = []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for sql in selects:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            if "Seq Scan" in plan:
                scanned.append((sql, plan))
        cursor.execute("SET LOCAL enable_seqscan = on")
    assert not scanned, scanned
