"""The Celery queues' lengths, read straight from the Redis broker (``LLEN``).

Kombu's Redis transport keeps a queue as a list named after it, plus one list per priority step
(``<name>\\x06\\x16<step>``) when messages carry a priority; messages taken by a worker and not
yet acknowledged (``acks_late``) wait in the ``unacked`` hash. Without a Redis broker (tasks run
in-process, ``memory://``, another transport) there are no lengths to read.
"""

import logging
import threading

from django.conf import settings

logger = logging.getLogger(__name__)

PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)  # kombu's default steps besides 0 (the plain list)
UNACKED = "unacked"

_clients: dict[str, object] = {}
_lock = threading.Lock()


def queue_names() -> list[str]:
    """The queues the portal's tasks go to: the default one, the batch one, every routed one."""
    names = [settings.CELERY_TASK_DEFAULT_QUEUE, getattr(settings, "CELERY_BATCH_QUEUE", "")]
    for route in (getattr(settings, "CELERY_TASK_ROUTES", None) or {}).values():
        if isinstance(route, dict) and route.get("queue"):
            names.append(route["queue"])
    return list(dict.fromkeys(name for name in names if name))


def broker_is_redis() -> bool:
    url = settings.CELERY_BROKER_URL or ""
    return url.startswith(("redis://", "rediss://")) and not settings.CELERY_TASK_ALWAYS_EAGER


def _client():
    import redis

    url = settings.CELERY_BROKER_URL
    client = _clients.get(url)
    if client is None:
        with _lock:
            client = _clients.get(url)
            if client is None:
                client = _clients[url] = redis.Redis.from_url(
                    url, socket_connect_timeout=1, socket_timeout=2
                )
    return client


def queue_lengths() -> tuple[dict[str, int], int] | None:
    """Messages waiting per queue, and the messages taken by workers and not acknowledged yet;
    None without a Redis broker. One round trip."""
    if not broker_is_redis():
        return None
    names = queue_names()
    pipe = _client().pipeline(transaction=False)
    for name in names:
        pipe.llen(name)
        for step in PRIORITY_STEPS:
            pipe.llen(f"{name}{PRIORITY_SEPARATOR}{step}")
    pipe.hlen(UNACKED)
    replies = pipe.execute()
    lengths = {}
    per_queue = 1 + len(PRIORITY_STEPS)
    for index, name in enumerate(names):
        lengths[name] = sum(replies[index * per_queue : (index + 1) * per_queue])
    return lengths, replies[-1]
