"""The fault run (``benchmarks/faults.py``) in CI: real worker, beat, relay and gunicorn
processes on PostgreSQL and a Redis of its own; workers killed with SIGKILL mid-delivery and
mid-production and mid-shred, Redis killed (without persistence) and restarted, database connections
terminated. Nothing lost, nothing sent twice, every notice within 60 s of the fault's end, no
HTTP 500 for committed work, the killed production and shred jobs finished by themselves.
About 3½ minutes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import database_url

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server"),
]


def test_notices_and_production_survive_crashes_outages_and_lost_connections(tmp_path):
    figures = tmp_path / "faults.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CELERY_")}
    env["DATABASE_URL"] = database_url()
    run = subprocess.run(
        [
            sys.executable, "benchmarks/faults.py", "--notices", "120", "--visitors", "48",
            "--payments", "12", "--json", str(figures),
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr[-5000:]
    results = json.loads(figures.read_text())

    for fault in ("worker", "broker", "database"):
        counts = results[fault]
        assert counts["never_delivered"] == 0, (fault, counts)
        assert counts["delivered_twice"] == 0, (fault, counts)
        assert counts["delivered_once"] == counts["expected"] > 0, (fault, counts)
        assert counts["longest_delay_after_fault_s"] <= 60, (fault, counts)
    assert results["broker"]["http_500"] == 0
    assert results["broker"]["http_answers"] == {"200": 12}
    assert results["database"]["connections_terminated"] > 0

    production = results["production"]
    assert production["finished_by_itself"], production
    assert production["visitors_with_one_active_credential"] == 48
    assert production["visitors_with_more"] == production["numbers_twice"] == 0
    assert production["files_without_row"] == 0

    shred = results["shred"]
    assert shred["finished_by_itself"], shred
    assert shred["done_when_killed"] > 0 and shred["status_when_killed"] != "done", shred
    assert shred["visitors_with_id_number"] == shred["visitors_with_mobile_or_photo"] == 0
    assert shred["photos_left"] == 0
    assert shred["visitors_kept"] == 48
    assert shred["archives"] == shred["jobs"] == 1
