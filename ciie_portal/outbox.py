"""The transactional outbox: every task the portal queues is first a row in the database.

:func:`enqueue_on_commit` writes an :class:`~ciie_portal.models.OutboxMessage` in the same
transaction as the change that asks for the task (a notice, an invoice to issue, a refund to
send, a production job to run). So the intent commits or rolls back with the change — a
rollback queues nothing, a commit cannot lose it.

After the commit the message is published to the broker at once. That publish never raises
into the request: when the broker is down it is logged, and for a few seconds this process
stops trying (the relay will publish), so a rush of requests does not each wait on a dead
broker. :func:`outbox_relay` publishes what is still unpublished — run every few seconds by
``manage.py outbox_relay`` (a dedicated loop) and by beat — so work is late by seconds after the
broker returns, not minutes.

A message may be published twice (its "published" mark was lost with a database connection, or
the relay and the request raced): every task is safe to run twice, so that costs nothing but a
no-op run. Without a broker (embedded mode) tasks run in-process right after the commit.

Each message keeps the Celery headers it is published with (``OutboxMessage.headers``): the
request id of the request that queued it (:func:`ciie_portal.logs.task_headers`), so that the
task's log lines carry it however late the relay publishes it.
"""

import logging
import time
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, connections, router, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from kombu.exceptions import ChannelError

from .inserts import insert_all
from .logs import task_headers
from .models import OutboxMessage

logger = logging.getLogger(__name__)

# The relay leaves a fresh message this long to the request that wrote it.
RELAY_GRACE = timedelta(seconds=2)
# After a failed publish, requests leave publishing to the relay for this long (seconds).
BROKER_PAUSE = 5.0
# Published messages are kept this long (to see what was queued when), then deleted.
KEEP_PUBLISHED = timedelta(days=2)

_broker_down_until = 0.0


def enqueue_on_commit(task, *args, **kwargs) -> OutboxMessage:
    """Queue ``task(*args, **kwargs)`` once the surrounding transaction commits.

    Writes the outbox row now (outside a transaction: at once). Pass ids and plain values,
    never model instances.
    """
    [message] = enqueue_many_on_commit(task, [(args, kwargs)])
    return message


def enqueue_many_on_commit(task, calls) -> list[OutboxMessage]:
    """Queue one run of ``task`` per ``(args, kwargs)`` in ``calls``, with one INSERT."""
    now = timezone.now()
    headers = task_headers()
    messages = insert_all(
        [
            OutboxMessage(
                task=task.name,
                args=list(args),
                kwargs=dict(kwargs),
                headers=headers,
                publish_after=now,
            )
            for args, kwargs in calls
        ]
    )
    if messages:
        transaction.on_commit(lambda: _publish_now(task, messages), robust=True)
    return messages


def _publish_now(task, messages: list[OutboxMessage]) -> None:
    """Right after the commit: publish, mark published. Never raises."""
    global _broker_down_until
    eager = current_app.conf.task_always_eager
    if not eager and time.monotonic() < _broker_down_until:
        return  # the broker failed a moment ago: the relay publishes these
    published = []
    if eager and task.name in RUN_HERE_TOGETHER:
        published, messages = _run_here_together(task, messages)
    for message in messages:
        try:
            task.apply_async(
                args=message.args, kwargs=message.kwargs, headers=message.headers or None
            )
        except Exception as error:  # a broker outage must not fail committed work
            if eager:
                logger.exception("Task %s failed in-process", message.task)
                continue
            _broker_down_until = time.monotonic() + BROKER_PAUSE
            logger.warning(
                "Could not queue %s (%s): the outbox relay will publish it",
                message.task,
                error,
            )
            break
        published.append(message.pk)
    _mark_published(published)


# Tasks of one argument that, run in this process (no broker), take all the messages of a
# commit in one call: task name → the function of their arguments. It returns the arguments
# it leaves to the task, run one by one as any other (a retry, a case it does not handle).
RUN_HERE_TOGETHER = {
    "ciie_portal.tasks.notice_deliver": "ciie_portal.notices.services.notices_deliver_here",
}


def _run_here_together(task, messages: list[OutboxMessage]) -> tuple[list[int], list]:
    """Run ``messages`` of ``task`` in one call of its ``RUN_HERE_TOGETHER`` function; returns
    the ids of the messages done and the messages left for the task one by one (all of them
    when the call fails: running a task twice is harmless)."""
    single = [message for message in messages if len(message.args) == 1 and not message.kwargs]
    if not single:
        return [], messages
    try:
        left = set(import_string(RUN_HERE_TOGETHER[task.name])([m.args[0] for m in single]))
    except Exception:
        logger.exception("Task %s failed in-process for %s messages", task.name, len(single))
        return [], messages
    done = {message.pk for message in single if message.args[0] not in left}
    return list(done), [message for message in messages if message.pk not in done]


def _mark_published(ids: list[int]) -> None:
    if not ids:
        return
    try:
        connection = connections[router.db_for_write(OutboxMessage)]
        if connection.vendor == "postgresql":
            # After every commit that queued a task: written once per process.
            with connection.cursor() as cursor:
                cursor.execute(_published_sql(connection), [timezone.now(), list(ids)])
        else:
            OutboxMessage.objects.filter(pk__in=ids, published_at__isnull=True).update(
                published_at=timezone.now()
            )
    except DatabaseError as error:
        # Published but not marked: the relay publishes them again, which is harmless.
        logger.warning("Could not mark %s outbox messages published: %s", len(ids), error)


_PUBLISHED_SQL = ""


def _published_sql(connection) -> str:
    global _PUBLISHED_SQL
    if not _PUBLISHED_SQL:
        quote = connection.ops.quote_name
        opts = OutboxMessage._meta
        published = quote(opts.get_field("published_at").column)
        _PUBLISHED_SQL = (
            f"UPDATE {quote(opts.db_table)} SET {published} = %s "
            f"WHERE {quote(opts.pk.column)} = ANY(%s) AND {published} IS NULL"
        )
    return _PUBLISHED_SQL


def outbox_relay(*, limit: int = 500, now=None) -> int:
    """Publish unpublished outbox messages that are due; returns how many were published.

    Rows are taken with SKIP LOCKED, so several relays never publish the same row at once. On
    the first broker error it stops (the broker is down: the rest waits for the next round).
    Also deletes published messages older than two days.
    """
    global _broker_down_until
    now = now or timezone.now()
    eager = current_app.conf.task_always_eager
    if eager:
        current_app.loader.import_default_modules()
    published = 0
    with transaction.atomic():
        due = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(published_at__isnull=True, publish_after__lte=now - RELAY_GRACE)
            .order_by("publish_after", "pk")[:limit]
        )
        done = []
        for message in due:
            try:
                if eager:
                    current_app.tasks[message.task].apply_async(
                        args=message.args, kwargs=message.kwargs, headers=message.headers or None
                    )
                else:
                    current_app.send_task(
                        message.task,
                        args=message.args,
                        kwargs=message.kwargs,
                        headers=message.headers or None,
                    )
            except Exception as error:
                logger.warning("Outbox relay: could not publish %s: %s", message.task, error)
                OutboxMessage.objects.filter(pk=message.pk).update(
                    attempts=message.attempts + 1,
                    last_error=f"{type(error).__name__}: {error}"[:2000],
                    publish_after=now + timedelta(seconds=min(2**message.attempts, 30)),
                )
                break
            done.append(message.pk)
        OutboxMessage.objects.filter(pk__in=done).update(published_at=timezone.now())
        published = len(done)
    if published:
        _broker_down_until = 0.0
        logger.info("Outbox relay published %s messages", published)
    _prune(now)
    return published


def _prune(now) -> None:
    old = OutboxMessage.objects.filter(published_at__lt=now - KEEP_PUBLISHED).values_list(
        "pk", flat=True
    )[:5000]
    OutboxMessage.objects.filter(pk__in=list(old)).delete()


def queue_length(queue: str | None = None) -> int | None:
    """Messages waiting in a broker queue, or None when that cannot be known (no broker)."""
    if current_app.conf.task_always_eager or settings.CELERY_BROKER_URL.startswith("memory://"):
        return None
    name = queue or current_app.conf.task_default_queue
    try:
        with current_app.connection_for_read() as connection:
            return connection.default_channel.queue_declare(queue=name, passive=True).message_count
    except ChannelError:
        return 0  # Redis drops an empty list: the queue is empty
    except Exception as error:
        logger.warning("Could not read the length of queue %s: %s", name, error)
        return None
