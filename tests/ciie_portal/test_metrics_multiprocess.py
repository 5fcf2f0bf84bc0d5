"""Several processes, one set of metrics: with PROMETHEUS_MULTIPROC_DIR each process (a gunicorn
worker, a Celery pool process) writes its counters there and a scrape adds them all up; the
gunicorn hooks empty the directory at start and forget a dead worker's live gauges."""

import os
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

from django.db import connection

from tests.conftest import database_url
from tests.scrape import scrape, value

ROOT = Path(__file__).resolve().parents[2]

# One process answering requests as a gunicorn worker would — through the metrics middleware,
# each request resolved to the view "healthz" and asking the database one query — and sending
# one notice's worth of latency. (The settings without the whole of django.setup(): fast.)
WORKER = textwrap.dedent(
    """
    import sys

    from django.db import connection
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.urls import ResolverMatch

    from ciie_portal import metrics

    def view(request):
        request.resolver_match = ResolverMatch(view, (), {}, url_name="healthz")
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return HttpResponse("ok")

    middleware = metrics.MetricsMiddleware(view)
    for _ in range(int(sys.argv[1])):
        assert middleware(RequestFactory().get("/healthz")).status_code == 200
    metrics.NOTICE_DELIVERY.labels("sms").observe(float(sys.argv[2]))
    """
)


def _process(directory: Path, requests: int, latency: float) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ciie_portal.settings",
        # Its one query needs a database, not the test's (an SQLite test database lives in
        # the test's own process).
        "DATABASE_URL": database_url()
        if connection.vendor == "postgresql"
        else f"sqlite:///{directory.parent / 'worker.sqlite3'}",
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "CIIE_ALLOW_LOCAL_KEYS": "true",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", WORKER, str(requests), str(latency)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_two_processes_writing_are_added_up_at_a_scrape(client, db, tmp_path, monkeypatch):
    directory = tmp_path / "metrics"
    processes = [_process(directory, 3, 2.0), _process(directory, 4, 40.0)]
    for process in processes:
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 0, output.decode()
    assert len(list(directory.glob("counter_*.db"))) == 2

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    scraped = scrape(client)
    healthz = {"view": "healthz", "method": "GET", "status": "200"}
    assert value(scraped, "ciie_http_requests_total", **healthz) == 7
    assert value(scraped, "ciie_http_db_queries_total", view="healthz") == 7
    assert value(scraped, "ciie_http_request_duration_seconds_count", view="healthz") == 7
    assert value(scraped, "ciie_notice_delivery_seconds_count", channel="sms") == 2
    assert value(scraped, "ciie_notice_delivery_seconds_sum", channel="sms") == 42
    assert value(scraped, "ciie_notice_delivery_seconds_bucket", channel="sms", le="5.0") == 1
    # The figures are computed by the process that answers the scrape.
    assert value(scraped, "ciie_figure_up", figure="notices") == 1


def _gunicorn_config(monkeypatch, directory: Path) -> dict:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_empties_the_directory_before_its_workers_start(tmp_path, monkeypatch):
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_4242.db").write_bytes(b"an earlier run")
    (directory / "keep.txt").write_text("not a metrics file")
    config = _gunicorn_config(monkeypatch, directory)
    config["on_starting"](server=None)
    assert sorted(path.name for path in directory.iterdir()) == ["keep.txt"]
    # A directory that does not exist yet is made.
    config = _gunicorn_config(monkeypatch, tmp_path / "new")
    config["on_starting"](server=None)
    assert (tmp_path / "new").is_dir()


def test_gunicorn_forgets_a_dead_workers_live_gauges(tmp_path, monkeypatch):
    directory = tmp_path / "metrics"
    directory.mkdir()
    for name in ("gauge_livesum_4242.db", "gauge_liveall_4242.db", "counter_4242.db"):
        (directory / name).write_bytes(b"")
    config = _gunicorn_config(monkeypatch, directory)

    class Worker:
        pid = 4242

    config["child_exit"](server=None, worker=Worker())
    # Its counters stay: totals never go down when a worker is recycled.
    assert sorted(path.name for path in directory.iterdir()) == ["counter_4242.db"]


def test_without_the_directory_the_hooks_do_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config["on_starting"](server=None)

    class Worker:
        pid = 4242

    config["child_exit"](server=None, worker=Worker())
    assert not any(tmp_path.iterdir())
