"""A real Celery worker with a prefork pool serves its metrics on METRICS_PORT: the tasks its pool
processes ran (counted in PROMETHEUS_MULTIPROC_DIR) and the notices they sent."""

import socket
import urllib.request
from pathlib import Path

import pytest

from ciie_portal.models import Notice
from ciie_portal.notices.services import notice_send
from tests.celery_workers import NEEDS_A_WORKER, celery_worker, wait_for
from tests.scrape import parse, value

ROOT = Path(__file__).resolve().parents[2]

pytestmark = NEEDS_A_WORKER


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def worker(tmp_path, transactional_db):
    port = _free_port()
    stale = tmp_path / "metrics"
    stale.mkdir()
    (stale / "counter_1.db").write_bytes(b"an earlier run")
    env = {
        "PROMETHEUS_MULTIPROC_DIR": str(stale),
        "METRICS_PORT": str(port),
        "METRICS_ADDR": "127.0.0.1",
    }
    with celery_worker(tmp_path, pool=["--pool=prefork", "--concurrency=2"], env=env) as log:
        yield f"http://127.0.0.1:{port}/metrics", log


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
    assert wait_for(lambda: Notice.objects.get(pk=notice.pk).status == Notice.Status.SENT), (
        log.read_text()
    )
    success = {"task": "ciie_portal.tasks.notice_deliver", "state": "success"}
    assert wait_for(lambda: value(_scrape(url), "ciie_celery_tasks_total", **success) == 1), (
        log.read_text()
    )
    scraped = _scrape(url)
    assert value(scraped, "ciie_notice_delivery_seconds_count", channel="sms") == 1
    assert value(scraped, "ciie_celery_task_duration_seconds_count", task=success["task"]) == 1
    # The earlier run's file was emptied away; the figures are the web's to serve.
    assert not any(name.startswith("ciie_notices") for name, _labels in scraped)
