"""Django's cache is shared by every process in real mode: the gate's revocation list lives in
it, and a credential revoked by one process (a worker, another web process) is refused by the
gate in every other one at once, not after the list's expiry."""

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from credentials.entry.rules import today_in_shanghai
from credentials.production.services import production_job_start
from registration.models import Label, Pickup, Visitor
from tests.ciie_portal.factories import EntryPeriodFactory
from tests.conftest import database_url
from tests.credentials.test_production import jpeg
from tests.registration.factories import ApprovedUnitFactory, UserFactory, VisitorFactory

ROOT = Path(__file__).resolve().parents[2]
REDIS = "ciie_portal.redis_cache.RedisCache"

# --- Which cache the settings choose ----------------------------------------------------------

CLEARED = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "DJANGO_DEBUG",
    "SECRET_KEY",
    "ID_ENCRYPTION_KEY",
    "ID_INDEX_KEY",
    "CREDENTIAL_SIGNING_KEY",
)


def _caches(tmp_path, **environment) -> dict:
    """settings.CACHES of a process started with this environment (and nothing else set)."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(
        DJANGO_SETTINGS_MODULE="ciie_portal.settings",
        CIIE_VAR_DIR=str(tmp_path),
        CIIE_ALLOW_LOCAL_KEYS="true",
        **environment,
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from django.conf import settings; print(json.dumps(settings.CACHES))",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["default"]


def test_with_a_redis_broker_the_cache_is_redis_database_1(tmp_path):
    cache_settings = _caches(tmp_path, CELERY_BROKER_URL="redis://redis.example:6379/0")
    assert cache_settings["BACKEND"] == REDIS
    assert cache_settings["LOCATION"] == "redis://redis.example:6379/1"
    assert cache_settings["KEY_PREFIX"] == "ciie"


def test_cache_url_overrides_it(tmp_path):
    cache_settings = _caches(
        tmp_path,
        CELERY_BROKER_URL="redis://redis.example:6379/0",
        CACHE_URL="redis://cache.example:6380/4",
    )
    assert cache_settings["BACKEND"] == REDIS
    assert cache_settings["LOCATION"] == "redis://cache.example:6380/4"


def test_embedded_it_is_per_process_memory(tmp_path):
    cache_settings = _caches(tmp_path)
    assert cache_settings["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_a_broker_url_without_a_database_number_still_gives_database_1(tmp_path):
    cache_settings = _caches(tmp_path, CELERY_BROKER_URL="redis://redis.example:6379")
    assert cache_settings["LOCATION"] == "redis://redis.example:6379/1"


# --- Two processes, one revocation list -------------------------------------------------------


@pytest.fixture
def own_cache_namespace(settings, tmp_path):
    """The configured Redis cache under a key prefix of this test's own, in this process and in
    the other one (through a settings module that only changes the prefix): nothing another
    test run on the same Redis caches can leak in, and nothing is flushed."""
    prefix = f"ciie-test-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": prefix}}
    module = tmp_path / "shared_cache_settings.py"
    module.write_text(
        "from ciie_portal.settings import *  # noqa: F403\n\n"
        f'CACHES = {{"default": {{**CACHES["default"], "KEY_PREFIX": "{prefix}"}}}}  # noqa: F405\n'
    )
    return {"DJANGO_SETTINGS_MODULE": module.stem, "PYTHONPATH": str(tmp_path)}


@pytest.fixture
def credential(transactional_db, private_media, edition):
    """A credential valid today, committed so that the other process sees it."""
    today = today_in_shanghai()
    period = EntryPeriodFactory(
        edition=edition, name="今天", first_day=today - timedelta(days=1), last_day=today
    )
    visitor = VisitorFactory(
        unit=ApprovedUnitFactory(edition=edition),
        name="王共享",
        status=Visitor.Status.REVIEW_PASSED,
        label=Label.VISITOR,
        entry_period=period,
        pickup=Pickup.COURIER,
        photo=default_storage.save("visitor-photos/photo.jpg", ContentFile(jpeg())),
    )
    # Committed at once here, so its task runs at once too (in-process, on commit).
    production_job_start(edition=edition, actor=None)
    return visitor.credentials.get()


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the other process must reach the test database"
)
def test_a_revocation_in_another_process_reaches_this_gate_at_once(
    client, own_cache_namespace, credential
):
    gate_staff = UserFactory(is_staff=True)
    gate_staff.user_permissions.add(Permission.objects.get(codename="check_credential"))
    client.force_login(gate_staff)

    def gate(payload: str) -> dict:
        return client.post("/gate/check/", {"payload": payload}).json()

    assert gate(credential.qr_payload)["valid"] is True

    revoke = (
        "from credentials.models import Credential\n"
        "from credentials.production.services import credentials_revoke\n"
        f"print(credentials_revoke(credentials=Credential.objects.filter(pk={credential.pk}), "
        "reason='lost card', actor=None))\n"
    )
    other = subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", revoke],
        cwd=ROOT,
        env={
            **os.environ,
            **own_cache_namespace,
            "DATABASE_URL": database_url(),
            "CIIE_ALLOW_LOCAL_KEYS": "true",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout.split()[-1] == "1"

    # The gate reads the credential's row (locked) at each scan: nothing cached to go stale.
    answer = gate(credential.qr_payload)
    assert (answer["valid"], answer["reason"], answer["credential"]) == (
        False,
        "revoked",
        credential.number,
    )
