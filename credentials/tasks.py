"""Celery finds an app's tasks in its ``tasks`` module: this one names the tasks of the
sub-packages. Each task has an explicit ``name`` (``credentials.tasks.…``) that does not depend
on the module it is defined in: beat schedules and queued messages refer to it."""

from credentials.orders.tasks import orders_expire_task, payment_reminders_task
from credentials.points.tasks import points_catch_up_task
from credentials.production.tasks import (
    credentials_revoke_stale_task,
    production_job_run_task,
    production_jobs_take_over_task,
)

__all__ = [
    "credentials_revoke_stale_task",
    "orders_expire_task",
    "payment_reminders_task",
    "points_catch_up_task",
    "production_job_run_task",
    "production_jobs_take_over_task",
]
