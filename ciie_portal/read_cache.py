"""Read-mostly data kept in the shared cache (Redis in production, ``settings.CACHES``), so
that every web process serves it without asking the database again: the delegation directory
of the landing page, an edition's entry periods.

Each entry belongs to a topic (``"delegations"``, ``"edition"``) and holds the generation of
the topic it was built in. A saved or deleted row of a model of the topic starts a new
generation (``forget``): at once, and again after the commit, since a request that read the old
rows between the two may have stored them under the new generation. An entry of another
generation than the topic's is never used: it is built anew. A bulk ``UPDATE`` sends no
signal: whoever writes that way calls ``forget``; every entry expires after ``TIMEOUT`` anyway.
"""

import time

from django.core.cache import cache
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
    together (one round trip), and an entry of another generation is built anew."""
    generation_key, key = _generation_key(topic), f"read-cache:{topic}:{name}"
    found = cache.get_many([generation_key, key])
    generation = found.get(generation_key)
    if generation is None:
        generation = _generation(topic)
    else:
        entry = found.get(key)
        if entry is not None and entry[0] == generation:
            return None if entry[1] == _NONE else entry[1]
    value = build()
    cache.set(key, (generation, _NONE if value is None else value), timeout=TIMEOUT)
    return value


def _new_generation(topic: str) -> None:
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
