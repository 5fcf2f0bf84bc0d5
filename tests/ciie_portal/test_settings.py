"""The settings switch between the embedded default and the real deployment by environment."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json; from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], "
    "'name': str(s.DATABASES['default']['NAME']), 'eager': s.CELERY_TASK_ALWAYS_EAGER, "
    "'broker': s.CELERY_BROKER_URL, 'embedded': s.EMBEDDED, 'debug': s.DEBUG, "
    "'sms': s.SMS_BACKEND, 'email': s.EMAIL_BACKEND, 'keys': len(s.ID_ENCRYPTION_KEYS)}))"
)
NAMES = (
    "CIIE_ALLOW_LOCAL_KEYS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "DJANGO_DEBUG",
    "SECRET_KEY",
    "ID_ENCRYPTION_KEY",
    "ID_INDEX_KEY",
    "CREDENTIAL_SIGNING_KEY",
)


def _settings(tmp_path, **environment):
    env = {k: v for k, v in os.environ.items() if k not in NAMES}
    env.update(DJANGO_SETTINGS_MODULE="ciie_portal.settings", CIIE_VAR_DIR=str(tmp_path))
    env.update(environment)
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {PROBE}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result


def test_with_nothing_set_it_runs_embedded(tmp_path):
    result = _settings(tmp_path)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"] == str(tmp_path / "ciie_portal.sqlite3")
    assert values["eager"] is True
    assert values["embedded"] is True
    assert values["debug"] is True
    assert values["sms"].endswith("OutboxSmsBackend")
    assert values["email"].endswith("OutboxEmailBackend")
    # Keys were generated once and are reused on the next start.
    secrets_file = tmp_path / "secrets.json"
    first = json.loads(secrets_file.read_text())
    assert _settings(tmp_path).returncode == 0
    assert json.loads(secrets_file.read_text()) == first


def test_with_a_database_and_a_broker_it_runs_on_postgres_and_redis(tmp_path):
    result = _settings(
        tmp_path,
        DATABASE_URL="postgres://ciie:secret@db.example:5432/ciie",
        CELERY_BROKER_URL="redis://redis.example:6379/0",
        SECRET_KEY="k" * 50,
        ID_ENCRYPTION_KEY=f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}",
        ID_INDEX_KEY="i" * 64,
        CREDENTIAL_SIGNING_KEY="c" * 64,
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "ciie_portal.postgresql"  # Django's, its health check cheaper
    assert values["name"] == "ciie"
    assert values["eager"] is False
    assert values["broker"] == "redis://redis.example:6379/0"
    assert values["embedded"] is False
    assert values["debug"] is False
    assert values["keys"] == 2
    # Every key came from the environment: no local key file was written.
    assert not (tmp_path / "secrets.json").exists()


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("ID_ENCRYPTION_KEY", "not-a-fernet-key", "ID_ENCRYPTION_KEY"),
        ("ID_INDEX_KEY", "short", "ID_INDEX_KEY"),
        ("DJANGO_DEBUG", "perhaps", "perhaps"),
    ],
)
def test_a_bad_value_fails_loudly_at_start(tmp_path, name, value, complaint):
    result = _settings(tmp_path, **{name: value})
    assert result.returncode != 0
    assert complaint in result.stderr


def test_a_real_deployment_without_keys_refuses_to_start(tmp_path):
    result = _settings(tmp_path, DATABASE_URL="postgres://ciie@db.example/ciie")
    assert result.returncode != 0
    assert "ID_ENCRYPTION_KEY" in result.stderr
    assert not (tmp_path / "secrets.json").exists()
    # A development machine may opt in to generated keys.
    allowed = _settings(
        tmp_path, DATABASE_URL="postgres://ciie@db.example/ciie", CIIE_ALLOW_LOCAL_KEYS="true"
    )
    assert allowed.returncode == 0, allowed.stderr
    assert (tmp_path / "secrets.json").exists()


# --- The payment sandbox and the deployment checks -----------------------------------------

SANDBOX_PROBE = (
    "import json; from django.conf import settings as s; "
    "print(json.dumps({'sandbox': s.PAYMENT_SANDBOX_ENABLED, "
    "'own_secret': bool(s.PAYMENT_SANDBOX_SECRET) and s.PAYMENT_SANDBOX_SECRET != s.SECRET_KEY}))"
)


def _real_keys() -> dict:
    import secrets

    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ID_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ID_INDEX_KEY": secrets.token_hex(32),
        "CREDENTIAL_SIGNING_KEY": secrets.token_hex(32),
    }


def _run(tmp_path, code: str, **environment):
    # DJANGO_ALLOW_ASYNC_UNSAFE is set for the browser tests; check --deploy reports it.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in NAMES and not k.startswith("PAYMENT_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    env.update(DJANGO_SETTINGS_MODULE="ciie_portal.settings", CIIE_VAR_DIR=str(tmp_path))
    env.update(environment)
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_sandbox_is_on_in_embedded_mode_with_a_secret_of_its_own(tmp_path):
    result = _run(tmp_path, SANDBOX_PROBE)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"sandbox": True, "own_secret": True}


def test_the_sandbox_is_off_in_a_real_deployment_even_with_debug(tmp_path):
    result = _run(
        tmp_path, SANDBOX_PROBE, DATABASE_URL="postgres://u@127.0.0.1:5432/x",
        DJANGO_DEBUG="true", **_real_keys(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sandbox"] is False


def test_enabling_the_sandbox_in_a_real_deployment_needs_its_own_secret(tmp_path):
    base = {"DATABASE_URL": "postgres://u@127.0.0.1:5432/x", **_real_keys()}
    refused = _run(tmp_path, SANDBOX_PROBE, PAYMENT_SANDBOX_ENABLED="true", **base)
    assert refused.returncode != 0
    assert "PAYMENT_SANDBOX_SECRET" in refused.stderr

    given = _run(
        tmp_path, SANDBOX_PROBE, PAYMENT_SANDBOX_ENABLED="true", PAYMENT_SANDBOX_SECRET="f" * 64,
        **base,
    )  # fmt: skip
    assert given.returncode == 0, given.stderr
    assert json.loads(given.stdout) == {"sandbox": True, "own_secret": True}


DEPLOY_CHECK = (
    "from django.core.management import call_command; "
    "call_command('check', deploy=True, fail_level='CRITICAL')"
)


@pytest.mark.parametrize("hsts_everywhere", [False, True])
def test_check_deploy_warns_only_of_what_the_organiser_must_decide(tmp_path, hsts_everywhere):
    environment = {
        "DATABASE_URL": "postgres://u@127.0.0.1:5432/x",
        "ALLOWED_HOSTS": "visitors.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://visitors.example.com",
        "SECURE_COOKIES": "true",
        **_real_keys(),
    }
    if hsts_everywhere:
        environment.update(SECURE_HSTS_INCLUDE_SUBDOMAINS="true", SECURE_HSTS_PRELOAD="true")
    result = _run(tmp_path, DEPLOY_CHECK, **environment)
    assert result.returncode == 0, result.stderr
    warnings = sorted(set(re.findall(r"\(([a-z_.]+\.[EW]\d+)\)", result.stderr + result.stdout)))
    # Whether every subdomain is HTTPS-only is the organiser's to say (README, Configuration).
    assert warnings == ([] if hsts_everywhere else ["security.W005", "security.W021"])
