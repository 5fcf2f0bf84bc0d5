"""Time series for the operations page's charts: how many things happened per minute over the
last hour and per hour over the last day — registrations, submissions, notices, payment
notifications, credentials.

They are read from the database's own timestamps (``created_at``, ``submitted_at``,
``sent_at``…), so no sampler needs to run: each series is one grouped query
(``date_trunc`` in Beijing time) over an indexed timestamp of the current edition, whatever the
size of the tables.

Each app registers its series in its own ``ops_series.py`` (imported from its
``AppConfig.ready()``) with :func:`register_series`; :func:`count_per_bucket` does the counting
for the usual case.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import Trunc
from django.utils import timezone

from .figures import Scope, resolve
from .queries import recent

logger = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# The steps a series is asked for, and the unit ``date_trunc`` cuts each one at.
STEPS = {MINUTE: "minute", HOUR: "hour", DAY: "day"}

Point = tuple[datetime, float]


@dataclass(frozen=True)
class Series:
    name: str  # e.g. "visitor_submissions"
    label: str  # human, translatable (gettext_lazy), Chinese first
    # (scope, since, until, step) -> one (bucket start, value) per bucket from ``since``
    # (included) to ``until`` (excluded), oldest first; see :func:`buckets`.
    compute: Callable[[Scope, datetime, datetime, timedelta], list[Point]]
    scoped: bool = False  # True when compute honours Scope.delegation_id
    # The admin list that acts on it (filtered): the chart links to it, and staff other than
    # organisers see the chart only if they may open that list (ciie_portal/admin_ops.py).
    admin_url: Callable[[Scope], str | None] | None = None
    # False: a count per bucket (drawn as bars); True: a level at the end of each bucket, such
    # as a backlog (drawn as a line).
    level: bool = False


_registry: dict[str, Series] = {}


def register_series(series: Series) -> None:
    """Add ``series`` (registering a name again replaces the earlier one)."""
    _registry[series.name] = series


def series() -> list[Series]:
    """Every registered series, in the order they were registered."""
    return list(_registry.values())


# --- Buckets --------------------------------------------------------------------------------


def zone():
    """Beijing time (``TIME_ZONE``): buckets start at its minutes, hours and midnights."""
    return timezone.get_default_timezone()


def floor(moment: datetime, step: timedelta) -> datetime:
    """The start of the bucket of ``step`` that holds ``moment``, in Beijing time."""
    local = timezone.localtime(moment, zone())
    if step == MINUTE:
        local = local.replace(second=0, microsecond=0)
    elif step == HOUR:
        local = local.replace(minute=0, second=0, microsecond=0)
    elif step == DAY:
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        raise ValueError(f"no series per {step}")
    return local


def window(step: timedelta, count: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """(since, until) of the ``count`` last buckets of ``step``, the current (partial) one
    last: ``window(MINUTE, 60)`` is the last hour per minute, ``window(HOUR, 24)`` the last day
    per hour."""
    end = floor(now or timezone.now(), step) + step
    return end - step * count, end


def buckets(since: datetime, until: datetime, step: timedelta) -> list[datetime]:
    """The starts of the buckets from ``since`` to ``until`` (aware, in Beijing time)."""
    start = floor(since, step)
    starts = []
    while start < until:
        starts.append(start)
        start = timezone.localtime(start + step, zone())
    return starts


def count_per_bucket(
    queryset,
    field: str,
    since: datetime,
    until: datetime,
    step: timedelta,
    *,
    by_id: bool = False,
) -> list[Point]:
    """How many rows of ``queryset`` have ``field`` in each bucket: one grouped query
    (``date_trunc`` in Beijing time), every bucket present (0 when empty).

    ``queryset`` is already cut down to the edition (and the delegation). So that only the rows
    of the window are read, ``field`` is either indexed with the edition first —
    ``(edition, field)`` — or, with ``by_id``, a creation time that grows with the primary key:
    the window's rows are then found through the primary key (:func:`.queries.recent`).
    """
    kind = STEPS.get(step)
    if kind is None:
        raise ValueError(f"no series per {step}")
    start = floor(since, step)
    if by_id:
        queryset = recent(queryset, field, start)
    rows = (
        queryset.filter(**{f"{field}__gte": start, f"{field}__lt": until})
        .order_by()
        .annotate(bucket=Trunc(field, kind, tzinfo=zone()))
        .values("bucket")
        .annotate(n=Count("pk"))
        .values_list("bucket", "n")
    )
    counts = dict(rows)
    return [(bucket, float(counts.get(bucket, 0))) for bucket in buckets(start, until, step)]


def in_delegation(scope: Scope, field: str = "delegation") -> Q:
    """Rows of the scope's delegation and its sub-delegations (everything when unscoped).

    ``field`` is the path to a delegation foreign key (``"unit__delegation"``).
    """
    if scope.delegation_id is None:
        return Q()
    return Q(**{f"{field}_id": scope.delegation_id}) | Q(
        **{f"{field}__parent_id": scope.delegation_id}
    )


# --- Reading them ---------------------------------------------------------------------------


def compute(
    scope: Scope, since: datetime, until: datetime, step: timedelta, names=None
) -> dict[str, list[Point]]:
    """The series (those named, or all) for ``scope``, by name.

    For a delegation's scope only the series that honour it (``scoped``) are computed. A series
    that fails is logged and left out, so one broken series never hides the others.
    """
    scope = resolve(scope)
    values = {}
    for item in series():
        if names is not None and item.name not in names:
            continue
        if scope.delegation_id is not None and not item.scoped:
            continue
        try:
            values[item.name] = list(item.compute(scope, since, until, step))
        except Exception:
            logger.exception("Series %s could not be computed", item.name)
    return values
