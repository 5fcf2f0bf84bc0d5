"""The Chinese catalogue is complete, compiled, and covers every text in the code."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def _catalog(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def _ids(catalog) -> set:
    return {
        message.id if isinstance(message.id, str) else message.id[0]
        for message in catalog
        if message.id
    }


def test_every_entry_is_translated_and_none_is_fuzzy():
    catalog = _catalog(PO)
    untranslated = [
        message.id
        for message in catalog
        if message.id
        and (not message.string or (isinstance(message.string, tuple) and not all(message.string)))
    ]
    fuzzy = [message.id for message in catalog if message.id and message.fuzzy]
    assert not untranslated, untranslated
    assert not fuzzy, fuzzy


def test_the_catalogue_is_compiled():
    assert MO.exists(), "run make install"
    assert MO.stat().st_mtime >= PO.stat().st_mtime, "the .mo is older than the .po: make install"


@pytest.mark.skipif(not shutil.which("xgettext"), reason="needs GNU gettext (xgettext)")
def test_the_catalogue_covers_every_text_in_the_code(tmp_path):
    copy = tmp_path / "project"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".venv", "var", ".git", "node_modules", "*.mo", "__pycache__"
        ),
    )
    env = {**os.environ, "CIIE_VAR_DIR": str(tmp_path / "var"), "CIIE_ALLOW_LOCAL_KEYS": "true"}
    env.pop("DATABASE_URL", None)
    subprocess.run(
        [
            sys.executable, "manage.py", "makemessages", "--locale", "zh_Hans", "--no-obsolete",
            "--ignore", "tests/*", "--ignore", ".venv/*", "--ignore", "var/*",
        ],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
    )  # fmt: skip
    regenerated = _ids(_catalog(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    missing = regenerated - _ids(_catalog(PO))
    assert not missing, f"texts not in the catalogue (run make messages): {sorted(missing)}"
