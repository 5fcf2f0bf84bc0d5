"""The transactional outbox: a task's intent commits with the change, a broker outage never
fails committed work, and the relay publishes what is left, each message once per relay round.

Tasks run in-process in tests; "the broker is down" is a publish that raises kombu's
OperationalError, as it does when Redis refuses the connection (``benchmarks/faults.py`` stops
a real Redis).
"""

from datetime import timedelta

import pytest
from celery import Celery, shared_task
from celery.app.task import Task
from django.db import connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from ciie_portal import outbox
from ciie_portal.celery import app
from ciie_portal.models import OutboxMessage
from ciie_portal.outbox import enqueue_on_commit, outbox_relay
from tests.races import run_at_once

RUNS: list[tuple] = []


@shared_task(name="tests.outbox.record")
def record_task(value, *, extra=None):
    RUNS.append((value, extra))


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    RUNS.clear()
    monkeypatch.setattr(outbox, "_broker_down_until", 0.0)


@pytest.fixture
def broker_down(monkeypatch):
    """Publishing fails as with Redis refusing connections; ``.calls`` counts the attempts."""

    class Down:
        calls = 0

    def refuse(*args, **kwargs):
        Down.calls += 1
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    app.conf.task_always_eager = False  # tests/conftest.py puts it back
    monkeypatch.setattr(Task, "apply_async", refuse)
    monkeypatch.setattr(Celery, "send_task", refuse)
    return Down


@pytest.fixture
def broker_sent(monkeypatch):
    """A working broker: what was sent, by task name and arguments."""
    sent = []
    app.conf.task_always_eager = False  # tests/conftest.py puts it back
    monkeypatch.setattr(
        Celery, "send_task", lambda self, name, args=(), kwargs=None, **o: sent.append((name, args))
    )
    return sent


def test_a_task_queued_in_a_transaction_is_a_row_published_after_commit(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        message = enqueue_on_commit(record_task, 7, extra="x")
        assert OutboxMessage.objects.get().published_at is None
        assert RUNS == []

    message.refresh_from_db()
    assert (message.task, message.args, message.kwargs) == (
        "tests.outbox.record",
        [7],
        {"extra": "x"},
    )
    assert message.published_at is not None
    assert RUNS == [(7, "x")]


def test_a_rolled_back_transaction_queues_nothing(db, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        enqueue_on_commit(record_task, 1)
        raise RuntimeError("the change failed")

    assert not OutboxMessage.objects.exists()
    assert RUNS == []


def test_a_broker_outage_after_commit_raises_nothing_and_the_relay_publishes_later(
    db, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit(record_task, 1)
        enqueue_on_commit(record_task, 2)

    # One attempt: after it failed, this process left publishing to the relay for a moment.
    assert broker_down.calls == 1
    assert OutboxMessage.objects.filter(published_at__isnull=True).count() == 2

    later = timezone.now() + timedelta(seconds=3)
    assert outbox_relay(now=later) == 0
    message = OutboxMessage.objects.order_by("pk").first()
    assert message.attempts == 1
    assert "Connection refused" in message.last_error
    assert message.publish_after > later  # tried again after a short pause, not in a busy loop


def test_the_relay_publishes_due_messages_once_and_leaves_fresh_ones_to_their_request(
    db, broker_sent
):
    old = timezone.now() - timedelta(seconds=10)
    due = OutboxMessage.objects.create(task="tests.outbox.record", args=[1], publish_after=old)
    fresh = OutboxMessage.objects.create(
        task="tests.outbox.record", args=[2], publish_after=timezone.now()
    )

    assert outbox_relay() == 1
    assert outbox_relay() == 0

    assert broker_sent == [("tests.outbox.record", [1])]
    due.refresh_from_db()
    fresh.refresh_from_db()
    assert due.published_at is not None
    assert fresh.published_at is None


def test_the_relay_deletes_messages_published_days_ago(db, broker_sent):
    now = timezone.now()
    old = OutboxMessage.objects.create(
        task="tests.outbox.record", publish_after=now, published_at=now - timedelta(days=3)
    )
    recent = OutboxMessage.objects.create(
        task="tests.outbox.record", publish_after=now, published_at=now - timedelta(hours=1)
    )

    outbox_relay()

    assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not OutboxMessage.objects.filter(pk=old.pk).exists()


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED needs PostgreSQL")
def test_two_relays_at_once_publish_each_message_once(transactional_db, broker_sent):
    old = timezone.now() - timedelta(seconds=10)
    OutboxMessage.objects.bulk_create(
        OutboxMessage(task="tests.outbox.record", args=[n], publish_after=old) for n in range(200)
    )

    outcomes = run_at_once(outbox_relay, outbox_relay)

    assert all(outcome.ok for outcome in outcomes), outcomes
    assert sum(outcome.value for outcome in outcomes) == 200
    assert sorted(args[0] for _name, args in broker_sent) == list(range(200))
    assert not OutboxMessage.objects.filter(published_at__isnull=True).exists()


def test_the_relay_command_runs_one_round(db, broker_sent, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    OutboxMessage.objects.create(
        task="tests.outbox.record", args=[5], publish_after=timezone.now() - timedelta(seconds=5)
    )
    with django_capture_on_commit_callbacks(execute=True):
        call_command("outbox_relay", "--once")

    assert broker_sent == [("tests.outbox.record", [5])]
