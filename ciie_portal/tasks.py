"""The shared tasks: notice delivery and recovery, the outbox relay.

``enqueue_on_commit`` (the outbox, :mod:`ciie_portal.outbox`) is how every app queues a task.
``RETRYING`` is the retry policy every task uses for passing faults — a database connection that
was cut, a broker that did not answer: retried with exponential backoff and jitter.
"""

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

from .outbox import enqueue_many_on_commit, enqueue_on_commit

__all__ = ["RETRYING", "TRANSIENT_ERRORS", "enqueue_many_on_commit", "enqueue_on_commit"]

TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerError, ConnectionError)
RETRYING = {
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 12,
}


@shared_task(
    bind=True,
    acks_late=True,
    name="ciie_portal.tasks.notice_deliver",
    soft_time_limit=600,
    time_limit=660,
    **RETRYING,
)
def notice_deliver_task(self, notice_id: int):
    """Send one notice. A provider failure is retried later: by the notice sweep with a broker
    (at the notice's ``next_attempt_at``), at once in-process without one."""
    from .notices.services import notice_deliver

    delay = notice_deliver(notice_id=notice_id)
    if delay is not None and self.app.conf.task_always_eager:
        raise self.retry(countdown=delay, max_retries=None)


@shared_task(
    name="ciie_portal.tasks.outbox_relay",
    acks_late=True,
    soft_time_limit=100,
    time_limit=120,
    **RETRYING,
)
def outbox_relay_task() -> int:
    """Publish what the outbox still holds (beat, every few seconds)."""
    from .outbox import outbox_relay

    return outbox_relay()


@shared_task(
    name="ciie_portal.tasks.notices_recover",
    acks_late=True,
    soft_time_limit=100,
    time_limit=120,
    **RETRYING,
)
def notices_recover_task() -> int:
    """Resolve notices whose worker died, queue due retries and notices whose message was
    lost (beat, every few seconds)."""
    from .notices.services import notices_recover

    return len(notices_recover())


SHRED_SLICE_SECONDS = 240


@shared_task(
    name="ciie_portal.tasks.shred_job_run",
    acks_late=True,
    soft_time_limit=SHRED_SLICE_SECONDS + 600,
    time_limit=SHRED_SLICE_SECONDS + 660,
    **RETRYING,
)
def shred_job_run_task(job_id: int) -> str:
    """Export, then shred, an edition's personal data for one slice of time; queue the next
    slice if it is not done. Safe to run twice: only the lease holder works."""
    from .retention import shred_job_run

    outcome = shred_job_run(
        job_id=job_id, time_budget=SHRED_SLICE_SECONDS, chunk=settings.SHRED_CHUNK
    )
    if outcome == "continue":
        enqueue_on_commit(shred_job_run_task, job_id)
    return outcome


@shared_task(
    name="ciie_portal.tasks.retention_housekeeping",
    acks_late=True,
    soft_time_limit=300,
    time_limit=360,
    **RETRYING,
)
def retention_housekeeping_task() -> dict:
    """Remind organisers of editions past their retention date, delete expired exports."""
    from .retention import retention_housekeeping

    done = retention_housekeeping()
    return {"reminded": done.reminded, "deleted": done.archives_deleted}


@shared_task(
    name="ciie_portal.tasks.shred_jobs_take_over",
    acks_late=True,
    soft_time_limit=50,
    time_limit=60,
    **RETRYING,
)
def shred_jobs_take_over_task() -> list[int]:
    """Hand shred jobs whose worker is gone (lease run out) to new runs (beat, every 30 s)."""
    from .retention import shred_jobs_take_over

    return shred_jobs_take_over()
