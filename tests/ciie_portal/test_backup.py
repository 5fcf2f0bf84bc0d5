"""make backup / make restore for real: scripts/backup.sh dumps a throwaway copy of the test
database and the private media, the data is damaged, and scripts/restore.sh brings it all back —
and says so loudly when the server's keys are not the backup's."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from ciie_portal import crypto
from ciie_portal.management.commands.keys_fingerprint import fingerprints
from tests.ciie_portal.factories import EditionFactory
from tests.conftest import database_url
from tests.registration.factories import UnitFactory, VisitorFactory

ROOT = Path(__file__).resolve().parents[2]


def _connect(database: str):
    return psycopg.connect(database_url(database), autocommit=True)


def _env(tmp_path, database: str | None, **overrides) -> dict:
    """The environment of a server of this database, with this test's keys and folders."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")
        and not name.startswith("PG")
    }
    env.update(
        PYTHON=sys.executable,
        CIIE_VAR_DIR=str(tmp_path / "var"),
        PRIVATE_MEDIA_ROOT=str(tmp_path / "private"),
        BACKUP_DIR=str(tmp_path / "backups"),
        SECRET_KEY=settings.SECRET_KEY,
        ID_ENCRYPTION_KEY=",".join(settings.ID_ENCRYPTION_KEYS),
        ID_INDEX_KEY=settings.ID_INDEX_KEY,
        CREDENTIAL_SIGNING_KEY=settings.CREDENTIAL_SIGNING_KEY,
        **overrides,
    )
    if database:
        env["DATABASE_URL"] = database_url(database)
    return env


def _run(script: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", f"scripts/{script}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def copy_of_the_test_database(transactional_db):
    """A database of its own, cloned from the test database once the test's data is committed:
    the scripts drop and restore it without touching the test database."""
    name = f"ciie_backup_{uuid.uuid4().hex[:10]}"

    def clone() -> str:
        # Copied with pg_dump, not as a TEMPLATE: in a whole run other sessions (a live
        # server's threads) keep the test database open, and a template may have none.
        db = connection.settings_dict
        env = {
            **os.environ,
            "PGHOST": db.get("HOST") or "127.0.0.1",
            "PGPORT": str(db.get("PORT") or 5432),
            "PGUSER": db["USER"] or "",
            "PGPASSWORD": db.get("PASSWORD") or "",
        }
        with _connect("postgres") as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        dump = subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", db["NAME"]],
            env=env, capture_output=True, check=True, timeout=120,
        )  # fmt: skip
        subprocess.run(
            ["pg_restore", "--no-owner", "--dbname", name],
            input=dump.stdout, env=env, capture_output=True, check=True, timeout=120,
        )  # fmt: skip
        return name

    yield clone
    with _connect("postgres") as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _rows(database: str, sql: str) -> list[tuple]:
    with _connect(database) as conn:
        return conn.execute(sql).fetchall()


def test_without_a_database_url_it_refuses_clearly(tmp_path):
    result = _run("backup.sh", _env(tmp_path, None))
    assert result.returncode != 0
    assert "DATABASE_URL is not set" in result.stderr
    assert "embedded" in result.stderr
    assert not (tmp_path / "backups").exists()


def test_restore_refuses_a_folder_that_is_not_a_backup(tmp_path):
    (tmp_path / "not-a-backup").mkdir()
    result = _run("restore.sh", _env(tmp_path, "unused", BACKUP=str(tmp_path / "not-a-backup")))
    assert result.returncode != 0
    assert "manifest.json is missing" in result.stderr


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="pg_dump and pg_restore need PostgreSQL"
)
def test_a_backup_brings_back_the_database_and_the_files(
    tmp_path, private_media, copy_of_the_test_database
):
    unit = UnitFactory(edition=EditionFactory(number=31), name="备份测试有限公司")
    photo = default_storage.save("visitor-photos/first.jpg", ContentFile(b"photo one"))
    first = VisitorFactory(unit=unit, name="王备份", photo=photo)
    second = VisitorFactory(unit=unit, name="李恢复")
    default_storage.save("licences/2027/licence.pdf", ContentFile(b"%PDF licence"))
    numbers = {first.pk: first.id_number, second.pk: second.id_number}
    database = copy_of_the_test_database()
    env = _env(tmp_path, database)
    assert Path(env["PRIVATE_MEDIA_ROOT"]) == private_media

    # --- Backup --------------------------------------------------------------------------
    backup = _run("backup.sh", env)
    assert backup.returncode == 0, backup.stderr
    [folder] = (tmp_path / "backups").iterdir()
    assert not folder.name.endswith(".partial")
    assert sorted(p.name for p in folder.iterdir()) == [
        "database.dump",
        "manifest.json",
        "private-media.tar.gz",
    ]
    assert "NOT in the backup" in backup.stderr
    for name in ("SECRET_KEY", "ID_ENCRYPTION_KEY", "ID_INDEX_KEY", "CREDENTIAL_SIGNING_KEY"):
        assert name in backup.stderr
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["database"].startswith(database)
    assert manifest["keys"] == fingerprints()
    assert manifest["private_media"]["files"] == 2
    [(registration_head,)] = _rows(
        database,
        "SELECT name FROM django_migrations WHERE app = 'registration' ORDER BY id DESC LIMIT 1",
    )
    assert manifest["migrations"]["registration"] == registration_head
    # The keys themselves are nowhere in the backup.
    secrets = [
        settings.SECRET_KEY,
        *settings.ID_ENCRYPTION_KEYS,
        settings.ID_INDEX_KEY,
        settings.CREDENTIAL_SIGNING_KEY,
    ]
    for part in folder.iterdir():
        content = part.read_bytes()
        assert not any(secret.encode() in content for secret in secrets), part.name

    # --- Damage: rows gone and changed, a table from a later migration, files lost ----------
    with _connect(database) as conn:
        conn.execute("TRUNCATE registration_visitor CASCADE")
        conn.execute("UPDATE registration_unit SET name = '改过的名字'")
        conn.execute(
            "CREATE TABLE later_feature (id serial PRIMARY KEY, "
            "unit_id bigint REFERENCES registration_unit (id))"
        )
        conn.execute("INSERT INTO later_feature (unit_id) SELECT id FROM registration_unit")
    (private_media / photo).unlink()
    (private_media / "licences/2027/licence.pdf").write_bytes(b"overwritten")
    default_storage.save("visitor-photos/after-the-backup.jpg", ContentFile(b"new"))

    # --- Restore -------------------------------------------------------------------------
    restore = _run("restore.sh", {**env, "BACKUP": str(folder)})
    assert restore.returncode == 0, restore.stderr
    assert "WARNING" not in restore.stderr
    assert "The keys of this server are the keys of the backup." in restore.stdout
    assert "later_feature" in restore.stdout

    visitors = _rows(
        database,
        "SELECT id, name, id_number_encrypted, photo FROM registration_visitor "
        f"WHERE unit_id = {unit.pk} ORDER BY id",
    )
    assert [(pk, name) for pk, name, _token, _photo in visitors] == [
        (first.pk, "王备份"),
        (second.pk, "李恢复"),
    ]
    assert {pk: crypto.decrypt(token) for pk, _name, token, _photo in visitors} == numbers
    assert visitors[0][3] == photo
    assert _rows(database, f"SELECT name FROM registration_unit WHERE id = {unit.pk}") == [
        ("备份测试有限公司",)
    ]
    assert not _rows(database, "SELECT 1 FROM pg_tables WHERE tablename = 'later_feature'")
    assert (private_media / photo).read_bytes() == b"photo one"
    assert (private_media / "licences/2027/licence.pdf").read_bytes() == b"%PDF licence"
    # Files uploaded after the backup are left where they are (no row names them any more).
    assert (private_media / "visitor-photos/after-the-backup.jpg").exists()

    # --- The same backup under another ID_ENCRYPTION_KEY: restored, with a loud warning ---
    other = _run(
        "restore.sh",
        {**env, "BACKUP": str(folder), "ID_ENCRYPTION_KEY": Fernet.generate_key().decode()},
    )
    assert other.returncode == 0, other.stderr
    assert other.stderr.count("WARNING: THIS SERVER'S KEYS ARE NOT THE KEYS OF THIS BACKUP") == 2
    assert "ID_ENCRYPTION_KEY: backup " in other.stderr
    assert "ID_INDEX_KEY:" not in other.stderr
    assert "the keys that belong to this backup" in other.stderr
