"""A real Celery worker on the real broker: tasks queued in a transaction run after commit only."""

import time
from pathlib import Path

import pytest
from django.db import transaction

from ciie_portal.models import Notice
from ciie_portal.notices.services import notice_send
from tests.celery_workers import NEEDS_A_WORKER, celery_worker, wait_for

ROOT = Path(__file__).resolve().parents[2]

pytestmark = NEEDS_A_WORKER


@pytest.fixture
def worker(tmp_path, transactional_db):
    with celery_worker(tmp_path, pool=["--pool=solo"]) as log:
        yield log


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
    assert wait_for(lambda: Notice.objects.get(pk=notice.pk).status == Notice.Status.SENT), (
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
    assert wait_for(lambda: Notice.objects.get(pk=marker.pk).status == Notice.Status.SENT)
    assert not Notice.objects.filter(key="worker-rollback").exists()
    log = worker.read_text()
    # The worker received exactly one task: the marker's.
    assert log.count("notice_deliver[") and log.count("] received") == 1, log
    assert "000000" in log
    assert "515151" not in log
