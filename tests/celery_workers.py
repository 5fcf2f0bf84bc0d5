"""A real Celery worker process for the tests that need one (a real broker, the test database
on PostgreSQL): started on a queue of its own, waited for until ready, the app pointed at that
queue meanwhile, stopped and its connections closed afterwards."""

import contextlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from ciie_portal.celery import app
from tests.conftest import database_url

ROOT = Path(__file__).resolve().parents[1]

#: The marks of a test module that starts a worker: a real broker, and a database the worker's
#: process can reach.
NEEDS_A_WORKER = [
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


@contextlib.contextmanager
def celery_worker(tmp_path, *, pool: list[str], env: dict | None = None):
    """Yields the worker's log file (a ``Path``) while the worker runs ``pool`` (e.g.
    ``["--pool=solo"]``) with ``env`` added to this process's environment."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    log = tmp_path / "worker.log"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "ciie_portal", "worker",
            *pool, "--queues", queue, "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_DEFAULT_QUEUE": queue,
            "OUTBOX_DIR": str(tmp_path / "outbox"),
            "CIIE_ALLOW_LOCAL_KEYS": "true",
            **(env or {}),
        },
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
        yield log
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = eager, default_queue
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        # The worker's own connections would keep the test database from being dropped.
        connection.close()


def wait_for(predicate, seconds=30) -> bool:
    """Whether ``predicate()`` came true within ``seconds`` (asked every 0.2 s)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False
