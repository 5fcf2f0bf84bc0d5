"""Read-mostly data kept in the shared cache (Redis in production, ``settings.CACHES``), so
that every web process serves it without asking the database again: the delegation directory
of the landing page, an edition's entry periods.

Each entry belongs to a topic (``"delegations"``, ``"edition"``) and holds the generation of
the topic it was built in. A saved or deleted row of a model of the topic starts a new
generation (``forget``): at once, and again after the commit, since a request that read the old
rows between the two may have stored them under the new generation. An entry of another
generation than the topic's is never used: it is built anew. A bulk ``UPDATE`` sends no
signal: whoever writes that way calls ``forget``; every entry expires after ``TIMEOUT`` anyway.

Within one request the topics' generations are read once, all together with the first entry
asked for (``kept``) or with the session (``get_with_snapshot``): the request then sees them as
they were then, as one snapshot. The
entries of a generation read once from the shared cache are also held in this process (pickled,
so that every caller gets its own copy): the next entries of the same request, and the next
requests while the generation stands, cost no round trip to the cache. ``forget`` in the
request makes it read the topic anew. Outside requests (tasks, commands) every call reads the
shared cache as before.
"""

import pickle
import threading
import time
from collections import OrderedDict

from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

#: Seconds an entry is kept at most.
TIMEOUT = 600

#: The topics whose models are watched (``forget_on_change``).
TOPICS: set[str] = set()

#: Each watched model's topics.
_MODEL_TOPICS: dict[type, set[str]] = {}

#: Stored in place of None (which the cache cannot tell from a miss).
_NONE = ("read-cache:none",)

#: Entries held in this process: key → (generation, pickled value), the most recent first out
#: last; one of another generation than the request's snapshot is never used.
MAX_HELD = 256
_held: OrderedDict[str, tuple[int, bytes]] = OrderedDict()
_held_lock = threading.Lock()

#: The current request's snapshot (topic → generation), per thread; None outside requests.
_request = threading.local()


def _request_started(**kwargs) -> None:
    _request.snapshot = {}


def _request_finished(**kwargs) -> None:
    _request.snapshot = None


request_started.connect(_request_started, dispatch_uid="read-cache:request-started")
request_finished.connect(_request_finished, dispatch_uid="read-cache:request-finished")


def _snapshot() -> dict | None:
    return getattr(_request, "snapshot", None)


def _hold(key: str, generation: int, value) -> None:
    with _held_lock:
        held = _held.get(key)
    if held is not None and held[0] == generation:
        return
    held = (generation, pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    with _held_lock:
        _held[key] = held
        _held.move_to_end(key)
        while len(_held) > MAX_HELD:
            _held.popitem(last=False)


def _held_value(key: str, generation: int):
    """The value held for ``key`` in ``generation`` (a copy of its own), or ``_MISSING``."""
    with _held_lock:
        held = _held.get(key)
    if held is None or held[0] != generation:
        return _MISSING
    return pickle.loads(held[1])  # noqa: S301 - pickled by this process (``_hold``)


_MISSING = object()


def _generation_key(topic: str) -> str:
    return f"read-cache:{topic}:generation"


def _generation(topic: str) -> int:
    generation = cache.get(_generation_key(topic))
    if generation is None:
        # Never 0 again after the generation was lost (evicted): an entry stored under an
        # earlier generation must not be read as current.
        cache.add(_generation_key(topic), time.time_ns(), timeout=None)
        generation = cache.get(_generation_key(topic))
    return generation


def get_with_snapshot(key: str):
    """``cache.get(key)``; in a request whose snapshot is not taken yet, read in the same
    round trip as every topic's generation, which then make the snapshot. For the session,
    which nearly every request reads before anything else: its later ``kept`` entries then come
    from this process while their generation stands, with no round trip of their own."""
    snapshot = _snapshot()
    if snapshot is None or snapshot:
        return cache.get(key)
    topics = list(TOPICS)
    found = cache.get_many([key, *(_generation_key(topic) for topic in topics)])
    for topic in topics:
        if (generation := found.get(_generation_key(topic))) is not None:
            snapshot[topic] = generation
    return found.get(key)


def generation_keys(*topics: str) -> list[str]:
    """The cache keys of ``topics``' generations (for a caller that reads them together with
    its own entries in one ``get_many``: ``page_cache``)."""
    return [_generation_key(topic) for topic in topics]


def generation(topic: str) -> int:
    """``topic``'s current generation (started when missing)."""
    return _generation(topic)


def kept(topic: str, name: str, build):
    """``build()``, kept in the shared cache under ``name`` until ``topic`` changes.

    The entry holds the generation it was built in; the generation and the entry are read
    together (one round trip), and an entry of another generation is built anew. In a request,
    the topic's next entries come from this process when it holds them in that generation."""
    generation_key, key = _generation_key(topic), f"read-cache:{topic}:{name}"
    snapshot = _snapshot()
    generation = snapshot.get(topic) if snapshot is not None else None
    if generation is not None:  # the topic's generation was read earlier in this request
        value = _held_value(key, generation)
        if value is not _MISSING:
            return None if value == _NONE else value
        found = {generation_key: generation, key: cache.get(key)}
    else:
        keys, others = [generation_key, key], []
        if snapshot is not None:  # the request's first read: every topic's generation with it
            others = [other for other in TOPICS if other != topic and other not in snapshot]
            keys += [_generation_key(other) for other in others]
        found = cache.get_many(keys)
        generation = found.get(generation_key)
        for other in others:
            if (other_generation := found.get(_generation_key(other))) is not None:
                snapshot[other] = other_generation
    if generation is None:
        generation = _generation(topic)
    else:
        entry = found.get(key)
        if entry is not None and entry[0] == generation:
            if snapshot is not None:
                snapshot[topic] = generation
                _hold(key, generation, entry[1])
            return None if entry[1] == _NONE else entry[1]
    value = build()
    stored = _NONE if value is None else value
    cache.set(key, (generation, stored), timeout=TIMEOUT)
    if snapshot is not None:
        snapshot[topic] = generation
        _hold(key, generation, stored)
    return value


def _new_generation(topic: str) -> None:
    snapshot = _snapshot()
    if snapshot is not None:
        snapshot.pop(topic, None)  # this request reads the topic anew
    try:
        cache.incr(_generation_key(topic))
    except ValueError:  # no generation yet (or evicted)
        cache.set(_generation_key(topic), time.time_ns(), timeout=None)


def forget(topic: str) -> None:
    """Everything kept for ``topic`` is read anew: now, and after the commit."""
    _new_generation(topic)
    transaction.on_commit(lambda: _new_generation(topic))


def forget_on_change(topic: str, *watched) -> None:
    """Any saved or deleted row of the ``watched`` models makes ``topic`` read anew (called
    by each app's ``AppConfig.ready()`` for its own models)."""

    def changed(sender, **kwargs):
        forget(topic)

    TOPICS.add(topic)
    for model in watched:
        _MODEL_TOPICS.setdefault(model, set()).add(topic)
        uid = f"read-cache:{topic}:{model._meta.label}"
        post_save.connect(changed, sender=model, weak=False, dispatch_uid=f"{uid}:save")
        post_delete.connect(changed, sender=model, weak=False, dispatch_uid=f"{uid}:delete")


def forget_all() -> None:
    """Every topic read anew at once (tests: a rolled-back transaction sends no signal)."""
    for topic in TOPICS:
        _new_generation(topic)


class WatchedQuerySet(models.QuerySet):
    """The queryset of a model whose rows are kept: a bulk ``update()`` (which sends no
    signal) makes the model's topics read anew as a saved row does."""

    def update(self, **kwargs):
        rows = super().update(**kwargs)
        for topic in _MODEL_TOPICS.get(self.model, ()):
            forget(topic)
        return rows
