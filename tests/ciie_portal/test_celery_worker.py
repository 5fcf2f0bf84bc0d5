"""A real Celery worker on the real broker: tasks queued in a transaction run after commit only."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from ciie_portal.celery import app
from ciie_portal.models import Notice
from ciie_portal.notices.services import notice_send
from tests.conftest import database_url

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(
        settings.CELERY_BROKER_URL.startswith("memory://"),
        reason="needs a real broker (set CELERY_BROKER_URL)",
    ),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the worker process must reach the test database (PostgreSQL)",
    ),
]


@pytest.fixture
def worker(tmp_path, transactional_db):
    queue = f"test-{uuid.uuid4().hex[:12]}"
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_DEFAULT_QUEUE": queue,
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "CIIE_ALLOW_LOCAL_KEYS": "true",
    }
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "ciie_portal", "worker",
            "--pool=solo", "--queues", queue, "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while "ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the worker did not start:\n{log.read_text()}")
        time.sleep(0.2)
    eager, default_queue = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    try:
        yield log
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = eager, default_queue
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        # The worker's own connections would keep the test database from being dropped.
        connection.close()


def _wait_for(predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_task_queued_in_a_transaction_runs_only_after_commit(worker):
    with transaction.atomic():
        notice = notice_send(
            key="worker-commit",
            event="test",
            channel=Notice.Channel.SMS,
            recipient="13800138000",
            template="verification_code",
            params={"code": "424242"},
            language="en",
        )
        # Had the task been sent now, the worker would have had time to try it; it cannot
        # even see the row before commit.
        time.sleep(2)
        assert Notice.objects.get(pk=notice.pk).status == Notice.Status.QUEUED
        committed_at = time.time()
    assert _wait_for(lambda: Notice.objects.get(pk=notice.pk).status == Notice.Status.SENT), (
        worker.read_text()
    )
    sent = Notice.objects.get(pk=notice.pk)
    assert sent.attempts == 1
    assert sent.sent_at.timestamp() >= committed_at
    log = worker.read_text()
    assert log.count("] received") == 1, log
    assert "424242" in log


def test_a_task_queued_in_a_rolled_back_transaction_never_runs(worker):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        notice_send(
            key="worker-rollback",
            event="test",
            channel=Notice.Channel.SMS,
            recipient="13800138000",
            template="verification_code",
            params={"code": "515151"},
        )
        raise Abort
    # A marker task queued after the rollback: once the worker has run it, anything queued
    # before it would have run too.
    with transaction.atomic():
        marker = notice_send(
            key="worker-marker",
            event="test",
            channel=Notice.Channel.SMS,
            recipient="13800138000",
            template="verification_code",
            params={"code": "000000"},
        )
    assert _wait_for(lambda: Notice.objects.get(pk=marker.pk).status == Notice.Status.SENT)
    assert not Notice.objects.filter(key="worker-rollback").exists()
    log = worker.read_text()
    # The worker received exactly one task: the marker's.
    assert log.count("notice_deliver[") and log.count("] received") == 1, log
    assert "000000" in log
    assert "515151" not in log
