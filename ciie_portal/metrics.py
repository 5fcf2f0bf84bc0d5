"""The portal's Prometheus metrics (prometheus-client), served at ``/metrics``
(``ciie_portal.views_ops``) and, in a Celery worker, on ``METRICS_PORT``.

What is measured where:

- every request (:class:`MetricsMiddleware`, first in ``MIDDLEWARE``): how many, by resolved view
  name (never the raw path: one series per view, whatever the ids in the URL), method and
  status; how long (a histogram by view); the database queries it made; the exceptions views
  raised;
- every Celery task (signals connected in ``ciie_portal.celery``): how many finished, by task
  and state, and how long they ran;
- every notice sent (``ciie_portal.notices.services``): the time from its creation to its
  sending, by channel;
- the portal's figures (``ciie_portal.ops.figures``: notices waiting, payments flagged, queue
  lengths…), computed from the database when ``/metrics`` is scraped (:class:`FiguresCollector`).

With several processes — gunicorn's workers, Celery's pool — set ``PROMETHEUS_MULTIPROC_DIR``
(an empty directory, emptied before each start) in their environment: each process writes its
counters to files there and a scrape adds them up (prometheus-client's multiprocess mode;
gunicorn.conf.py empties it and forgets dead workers). Without it each process keeps its own
registry, which is right for one process (``runserver``, tests).
"""

import logging
import os
import time
from contextlib import ExitStack, suppress

from django.conf import settings
from django.db import connections
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

# No "_created" series beside every counter and histogram (they double the output, and the
# multiprocess mode has none: the same names in both modes).
disable_created_metrics()

PREFIX = "ciie_"


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


if multiprocess_dir():
    # Each process writes its files there (prometheus-client chose multiprocess mode when it
    # was imported, from the same variable).
    os.makedirs(multiprocess_dir(), exist_ok=True)


# Seconds. A page of the portal takes tens of milliseconds; the slow ones (exports, PDFs) seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Seconds from a notice's creation to its sending: seconds when all is well, minutes in a rush,
# an hour and more while a provider refuses.
DELIVERY_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600)

# Requests no URL pattern matched, and static files (served by WhiteNoise before any URL is
# resolved): one series each, whatever the path.
UNRESOLVED = "<unresolved>"
STATIC = "<static>"

HTTP_REQUESTS = Counter(
    f"{PREFIX}http_requests",
    "HTTP requests answered, by resolved view name, method and status code.",
    ["view", "method", "status"],
)
HTTP_LATENCY = Histogram(
    f"{PREFIX}http_request_duration_seconds",
    "Time to answer an HTTP request, by resolved view name.",
    ["view"],
    buckets=LATENCY_BUCKETS,
)
HTTP_DB_QUERIES = Counter(
    f"{PREFIX}http_db_queries",
    "Database queries made while answering HTTP requests, by resolved view name.",
    ["view"],
)
HTTP_EXCEPTIONS = Counter(
    f"{PREFIX}http_exceptions",
    "Exceptions raised by views (answered 500), by resolved view name and exception class.",
    ["view", "exception"],
)
CELERY_TASKS = Counter(
    f"{PREFIX}celery_tasks",
    "Celery tasks finished, by task name and state (success, failure, retry, revoked...).",
    ["task", "state"],
)
CELERY_TASK_DURATION = Histogram(
    f"{PREFIX}celery_task_duration_seconds",
    "Time Celery tasks ran, by task name.",
    ["task"],
    buckets=TASK_BUCKETS,
)
NOTICE_DELIVERY = Histogram(
    f"{PREFIX}notice_delivery_seconds",
    "Time from a notice's creation to its sending, by channel.",
    ["channel"],
    buckets=DELIVERY_BUCKETS,
)


# --- Requests ----------------------------------------------------------------------------------


def view_name(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or match._func_path
    static_url = settings.STATIC_URL or ""
    if static_url.startswith("/") and request.path_info.startswith(static_url):
        return STATIC
    return UNRESOLVED


class _QueryCounter:
    """A database execute wrapper counting the statements it lets through."""

    __slots__ = ("count",)

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class MetricsMiddleware:
    """Counts and times every request by view, with the database queries it made. First in
    ``MIDDLEWARE``, so that the time includes every other middleware."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.aliases = list(settings.DATABASES)

    def __call__(self, request):
        started = time.perf_counter()
        queries = _QueryCounter()
        with ExitStack() as stack:
            for alias in self.aliases:
                stack.enter_context(connections[alias].execute_wrapper(queries))
            response = self.get_response(request)
        view = view_name(request)
        HTTP_REQUESTS.labels(view, request.method, str(response.status_code)).inc()
        HTTP_LATENCY.labels(view).observe(time.perf_counter() - started)
        if queries.count:
            HTTP_DB_QUERIES.labels(view).inc(queries.count)
        return response

    def process_exception(self, request, exception):
        HTTP_EXCEPTIONS.labels(view_name(request), type(exception).__name__).inc()


# --- Celery tasks (connected in ciie_portal.celery) --------------------------------------------

_task_started: dict[str, float] = {}


def task_started(task_id=None, **_kwargs) -> None:
    if task_id:
        _task_started[task_id] = time.perf_counter()


def task_finished(task_id=None, task=None, state=None, **_kwargs) -> None:
    name = getattr(task, "name", None) or "unknown"
    CELERY_TASKS.labels(name, (state or "unknown").lower()).inc()
    started = _task_started.pop(task_id, None) if task_id else None
    if started is not None:
        CELERY_TASK_DURATION.labels(name).observe(time.perf_counter() - started)


def task_killed(sender=None, task_id=None, exception=None, **_kwargs) -> None:
    """A task whose process was killed — by its hard time limit, or it died — reported by the
    worker's main process: ``task_postrun`` never came (other failures are counted there)."""
    from billiard.exceptions import TimeLimitExceeded, WorkerLostError

    if isinstance(exception, TimeLimitExceeded | WorkerLostError):
        state = "time_limit" if isinstance(exception, TimeLimitExceeded) else "lost"
        CELERY_TASKS.labels(getattr(sender, "name", None) or "unknown", state).inc()
        if task_id:
            _task_started.pop(task_id, None)


def task_revoked(request=None, terminated=False, expired=False, **kwargs) -> None:
    sender = kwargs.get("sender")
    name = getattr(sender, "name", None) or getattr(request, "task", None) or "unknown"
    CELERY_TASKS.labels(name, "expired" if expired else "revoked").inc()


# --- Notices -----------------------------------------------------------------------------------


def notices_sent(notices, sent_at) -> None:
    """Observe the delivery latency of ``notices``, just sent at ``sent_at``."""
    for notice in notices:
        if notice.created_at is not None:
            seconds = max((sent_at - notice.created_at).total_seconds(), 0.0)
            NOTICE_DELIVERY.labels(str(notice.channel)).observe(seconds)


# --- The portal's figures, at scrape time ------------------------------------------------------


class FiguresCollector:
    """The figures of ``ciie_portal.ops.figures`` for the current edition, as gauges named
    ``ciie_<figure>``, computed at each scrape; ``ciie_figure_up{figure}`` is 0 for a figure
    that could not be computed (its error is in the log)."""

    def collect(self):
        from .ops.figures import Scope, figures, snapshot

        started = time.perf_counter()
        values = snapshot(Scope(None))
        up = GaugeMetricFamily(
            f"{PREFIX}figure_up",
            "1 when the figure was computed at this scrape.",
            labels=["figure"],
        )
        for figure in figures():
            samples = values.get(figure.name)
            up.add_metric([figure.name], 0 if samples is None else 1)
            if samples is None:
                continue
            names = sorted({key for sample in samples for key in sample.labels})
            family = GaugeMetricFamily(f"{PREFIX}{figure.name}", figure.help, labels=names)
            for sample in samples:
                family.add_metric([sample.labels.get(key, "") for key in names], sample.value)
            yield family
        yield up
        yield GaugeMetricFamily(
            f"{PREFIX}figures_seconds",
            "Time the figures took to compute at this scrape.",
            value=time.perf_counter() - started,
        )


class _Together:
    def __init__(self, *collectors):
        self.collectors = collectors

    def collect(self):
        for collector in self.collectors:
            yield from collector.collect()


def registry(*, with_figures: bool = True):
    """What a scrape reads: every process's metrics (the multiprocess directory's files, or
    this process's registry), with the figures when asked."""
    path = multiprocess_dir()
    if path:
        from prometheus_client import multiprocess

        base = CollectorRegistry()
        multiprocess.MultiProcessCollector(base, path=path)
    else:
        base = REGISTRY
    return _Together(base, FiguresCollector()) if with_figures else base


def exposition(*, with_figures: bool = True) -> bytes:
    return generate_latest(registry(with_figures=with_figures))


def worker_metrics_serve(**_kwargs) -> None:
    """In a Celery worker's main process (``worker_init``), when ``METRICS_PORT`` is set: empty
    the multiprocess directory of an earlier run and serve the worker's metrics on that port —
    every pool process's in multiprocess mode. Task counts and durations, notice delivery
    latency; not the figures (the web service's ``/metrics`` has them)."""
    port = os.environ.get("METRICS_PORT")
    if not port:
        return
    path = multiprocess_dir()
    if path:
        _empty(path)
    else:
        logger.warning(
            "METRICS_PORT without PROMETHEUS_MULTIPROC_DIR: a prefork pool's tasks are not seen"
        )
    from prometheus_client import start_http_server

    addr = os.environ.get("METRICS_ADDR", "0.0.0.0")  # noqa: S104 - the container's own port
    start_http_server(int(port), addr=addr, registry=registry(with_figures=False))
    logger.info("Worker metrics served on %s:%s", addr, port)


def _empty(path: str) -> None:
    """Delete an earlier run's metric files (``*.db``) from the multiprocess directory."""
    for name in os.listdir(path):
        if name.endswith(".db"):
            with suppress(FileNotFoundError):
                os.remove(os.path.join(path, name))


def empty_multiprocess_dir() -> None:
    """Called by gunicorn's master before it starts its workers (gunicorn.conf.py)."""
    path = multiprocess_dir()
    if path:
        os.makedirs(path, exist_ok=True)
        _empty(path)


def mark_process_dead(pid: int) -> None:
    """A worker process ended: its live gauges go (gunicorn.conf.py's ``child_exit``)."""
    path = multiprocess_dir()
    if path:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, path)
