"""/readyz: 200 when the database (with every migration applied), the shared cache and the
broker answer; 503 naming the failing ones. /healthz stays the cheap liveness check."""

import pytest
from django.db import OperationalError
from django.db.migrations.executor import MigrationExecutor

from ciie_portal import views_ops


@pytest.fixture(autouse=True)
def _migrations_checked_anew(monkeypatch):
    monkeypatch.setattr(views_ops, "_migrations_applied", False)


def test_ready_when_everything_answers(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "cache": "ok", "broker": "ok"},
    }
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_the_migrations_are_read_once_found_applied(client, db, monkeypatch):
    assert client.get("/readyz").status_code == 200
    plans = []
    original = MigrationExecutor.migration_plan
    monkeypatch.setattr(
        MigrationExecutor,
        "migration_plan",
        lambda self, targets: plans.append(targets) or original(self, targets),
    )
    assert client.get("/readyz").status_code == 200
    assert plans == []


def test_unapplied_migrations_make_it_unready(client, db, monkeypatch):
    monkeypatch.setattr(
        MigrationExecutor, "migration_plan", lambda self, targets: [("migration", False)]
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["migrations"] == "failed: RuntimeError"
    assert body["checks"]["database"] == "ok"


def test_a_broker_that_does_not_answer_makes_it_unready(client, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.CELERY_TASK_ALWAYS_EAGER = False
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"].startswith("failed: ")
    assert checks["database"] == checks["cache"] == checks["migrations"] == "ok"
    # The error's kind only: no address or credentials of the broker in the answer.
    assert "127.0.0.1" not in response.content.decode()


def test_no_broker_to_reach_when_tasks_run_in_process(client, db, settings):
    settings.CELERY_BROKER_URL = "memory://"
    assert client.get("/readyz").json()["checks"]["broker"] == "ok"


def test_a_cache_that_keeps_nothing_makes_it_unready(client, db, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "failed: RuntimeError"


def test_a_database_that_does_not_answer_skips_the_migrations(client, db, monkeypatch):
    def down():
        raise OperationalError("connection refused")

    monkeypatch.setitem(views_ops.CHECKS, "database", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "failed: OperationalError"
    assert checks["migrations"] == "skipped"


def test_healthz_stays_one_query(client, db, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/healthz")
    assert response.json() == {"status": "ok"}
