"""Every task is fit for crashes: acknowledged late, retried on passing faults, with time limits
that fit inside the broker's visibility timeout, and every beat entry names a real task."""

import pytest
from django.conf import settings
from django.db import OperationalError
from kombu.exceptions import OperationalError as BrokerError

from ciie_portal.celery import app

app.loader.import_default_modules()
OURS = sorted(name for name in app.tasks if not name.startswith("celery."))
# Tasks that handle their own retries (a refused refund is retried with its own backoff).
OWN_RETRIES = {"payments.tasks.refund_execute"}


def test_the_portal_has_tasks():
    assert "ciie_portal.tasks.notice_deliver" in OURS
    assert "ciie_portal.tasks.outbox_relay" in OURS


@pytest.mark.parametrize(
    "name", sorted(entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values())
)
def test_every_beat_entry_names_a_registered_task(name):
    assert name in app.tasks


@pytest.mark.parametrize("name", OURS)
def test_every_task_is_acknowledged_late_and_retries_passing_faults(name):
    task = app.tasks[name]
    assert task.acks_late
    if name not in OWN_RETRIES:
        retried = tuple(getattr(task, "autoretry_for", ()))
        assert any(issubclass(OperationalError, kind) for kind in retried), name
        assert any(issubclass(BrokerError, kind) for kind in retried), name


@pytest.mark.parametrize("name", OURS)
def test_time_limits_fit_the_visibility_timeout(name):
    task = app.tasks[name]
    hard = task.time_limit or settings.CELERY_TASK_TIME_LIMIT
    soft = task.soft_time_limit or settings.CELERY_TASK_SOFT_TIME_LIMIT
    assert soft <= hard, f"{name}: a soft limit over the hard one makes beat refuse the task"
    # A message still running when the broker gives it back would run twice at once.
    assert hard < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]


def test_long_batch_work_has_its_own_queue():
    queue = settings.CELERY_TASK_ROUTES["credentials.tasks.production_job_run"]["queue"]
    assert queue == settings.CELERY_BATCH_QUEUE != settings.CELERY_TASK_DEFAULT_QUEUE
