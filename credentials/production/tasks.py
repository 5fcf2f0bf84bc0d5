"""Celery tasks of batch production (证件制作). Registered under their explicit ``name``s (which
beat and queued messages use); ``credentials/tasks.py`` imports them so that workers find them."""

from celery import shared_task

from ciie_portal.tasks import RETRYING, enqueue_on_commit

# One task runs a job for at most this long, then queues the next part of it: a job over a
# whole edition takes longer than any sensible task time limit. A worker killed meanwhile loses
# at most the chunk it was making: its job is taken over once its lease runs out, and goes on
# from where it is (nothing is made twice).
SLICE_SECONDS = 240


@shared_task(
    name="credentials.tasks.production_job_run",
    acks_late=True,
    soft_time_limit=SLICE_SECONDS + 240,
    time_limit=SLICE_SECONDS + 300,
    **RETRYING,
)
def production_job_run_task(job_id: int) -> str:
    """Run a production job for one slice of time; queue the next slice if it is not done.

    Safe to run twice or side by side: only the run that takes the job's lease works on it
    (the other returns "skipped"), and even two runs at work would take different visitors
    (rows are locked with SKIP LOCKED): a visitor never gets two active credentials.
    """
    from .services import production_job_run

    outcome = production_job_run(job_id=job_id, time_budget=SLICE_SECONDS)
    if outcome == "continue":
        enqueue_on_commit(production_job_run_task, job_id)
    return outcome


@shared_task(
    name="credentials.tasks.production_jobs_take_over",
    acks_late=True,
    soft_time_limit=90,
    time_limit=120,
    **RETRYING,
)
def production_jobs_take_over_task() -> int:
    """Hand the jobs whose worker is gone (their lease ran out) to new runs, and delete the
    files their killed chunks left without a row (beat, every 15 seconds). Returns how many jobs
    were taken over. Safe to run twice at once."""
    from .services import print_batch_files_sweep, production_jobs_take_over

    taken = production_jobs_take_over()
    print_batch_files_sweep()
    return len(taken)


@shared_task(
    name="credentials.tasks.credentials_revoke_stale", acks_late=True, time_limit=1800, **RETRYING
)
def credentials_revoke_stale_task(edition_id: int | None = None) -> int:
    """Revoke the credentials of an edition (default: the current one) whose card data changed
    or whose visitor was cancelled. Production runs do it for their selection anyway; on a beat
    schedule it also reaches changes made where nobody calls credentials_revoke_changed."""
    from ciie_portal.models import Edition
    from registration.models import Visitor

    from .services import credentials_revoke_stale

    if edition_id is None:
        edition_id = Edition.objects.filter(is_current=True).values_list("pk", flat=True).first()
        if edition_id is None:
            return 0
    return credentials_revoke_stale(
        visitors=Visitor.objects.filter(edition_id=edition_id), actor="credentials-check"
    )
