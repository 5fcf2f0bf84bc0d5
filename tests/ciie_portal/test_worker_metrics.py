"""A real Celery worker with a prefork pool serves its metrics on METRICS_PORT: the tasks its pool
processes ran (counted in PROMETHEUS_MULTIPROC_DIR) and the notices they sent."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from ciie_portal.celery import app
from ciie_portal.models import Notice
from ciie_portal.notices.services import notice_send
from tests.conftest import database_url
from tests.scrape import parse, value

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(
        settings.CELERY_BROKER_URL.startswith("memory://"),
        reason="needs a real broker (set CELERY_BROKER_URL)",
    ),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the worker process must reach the test database (PostgreSQL)",
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def worker(tmp_path, transactional_db):
    queue = f"test-{uuid.uuid4().hex[:12]}"
    port = _free_port()
    log = tmp_path / "worker.log"
    stale = tmp_path / "metrics"
    stale.mkdir()
    (stale / "counter_1.db").write_bytes(b"an earlier run")
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_DEFAULT_QUEUE": queue,
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "CIIE_ALLOW_LOCAL_KEYS": "true",
        "PROMETHEUS_MULTIPROC_DIR": str(stale),
        "METRICS_PORT": str(port),
        "METRICS_ADDR": "127.0.0.1",
    }
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "ciie_portal", "worker",
            "--pool=prefork", "--concurrency=2", "--queues", queue, "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while "ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the worker did not start:\n{log.read_text()}")
        time.sleep(0.2)
    eager, default_queue = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    try:
        yield f"http://127.0.0.1:{port}/metrics", log
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = eager, default_queue
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        connection.close()


def _scrape(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own worker
        return parse(response.read().decode())


def test_the_worker_serves_its_pool_processes_metrics(worker):
    url, log = worker
    assert value(_scrape(url), "ciie_celery_tasks_total", task="x", state="success") == 0
    notice = notice_send(
        key="worker-metrics",
        event="test",
        channel=Notice.Channel.SMS,
        recipient="13800138000",
        template="verification_code",
        params={"code": "424242"},
        language="en",
    )
    assert _wait_for(lambda: Notice.objects.get(pk=notice.pk).status == Notice.Status.SENT), (
        log.read_text()
    )
    success = {"task": "ciie_portal.tasks.notice_deliver", "state": "success"}
    assert _wait_for(lambda: value(_scrape(url), "ciie_celery_tasks_total", **success) == 1), (
        log.read_text()
    )
    scraped = _scrape(url)
    assert value(scraped, "ciie_notice_delivery_seconds_count", channel="sms") == 1
    assert value(scraped, "ciie_celery_task_duration_seconds_count", task=success["task"]) == 1
    # The earlier run's file was emptied away; the figures are the web's to serve.
    assert not any(name.startswith("ciie_notices") for name, _labels in scraped)
