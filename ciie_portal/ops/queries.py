"""Cheap queries for the operational figures.

:func:`recent` counts the rows of the last minutes of a table that has no index on the time
it is filtered by: ids grow with the time a row was written, so the rows since ``since`` are
those after the newest row older than that, found by walking the primary key backwards (as
many rows as were written since, never the whole table).
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .figures import Sample, Scope

# The windows a rate is given over, and their labels.
WINDOWS = (("1m", timedelta(minutes=1)), ("5m", timedelta(minutes=5)))


def recent(queryset: QuerySet, field: str, since) -> QuerySet:
    """The rows of ``queryset`` whose ``field`` (a creation time that grows with the primary
    key) is at or after ``since``, read through the primary key."""
    model = queryset.model
    newest_older = (
        model._base_manager.filter(**{f"{field}__lt": since})
        .order_by("-pk")
        .values_list("pk", flat=True)[:1]
    )
    return queryset.filter(
        pk__gt=Coalesce(Subquery(newest_older), Value(0)), **{f"{field}__gte": since}
    )


def in_delegation(scope: Scope, *paths: str) -> Q:
    """Rows of the scope's delegation or one of its sub-delegations, reached through any of
    ``paths`` (e.g. ``"unit__delegation"``); everything when the scope has no delegation."""
    if scope.delegation_id is None:
        return Q()
    condition = Q()
    for path in paths:
        condition |= Q(**{f"{path}_id": scope.delegation_id})
        condition |= Q(**{f"{path}__parent_id": scope.delegation_id})
    return condition


def per_minute(rows_since: Callable[[datetime], QuerySet], field: str) -> list[Sample]:
    """The rate per minute over each of :data:`WINDOWS` (one query): ``rows_since(since)`` are
    the rows whose ``field`` is at or after ``since``."""
    now = timezone.now()
    longest = max(span for _label, span in WINDOWS)
    counts = rows_since(now - longest).aggregate(
        **{label: Count("pk", filter=Q(**{f"{field}__gte": now - span})) for label, span in WINDOWS}
    )
    return [
        Sample({"window": label}, counts[label] / (span.total_seconds() / 60))
        for label, span in WINDOWS
    ]
