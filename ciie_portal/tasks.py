from celery import shared_task
from django.db import transaction


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Queue ``task`` only once the surrounding transaction commits (never after a rollback).

    Outside a transaction it is queued at once. Pass ids, never model instances.
    """
    transaction.on_commit(lambda: task.apply_async(args=args, kwargs=kwargs))


@shared_task(bind=True, max_retries=None, acks_late=True, name="ciie_portal.tasks.notice_deliver")
def notice_deliver_task(self, notice_id: int):
    from .notices.services import notice_deliver

    delay = notice_deliver(notice_id=notice_id)
    if delay is not None:
        raise self.retry(countdown=delay)


@shared_task(name="ciie_portal.tasks.notices_requeue_stale")
def notices_requeue_stale_task():
    from .notices.services import notices_requeue_stale

    for notice_id in notices_requeue_stale():
        enqueue_on_commit(notice_deliver_task, notice_id)
