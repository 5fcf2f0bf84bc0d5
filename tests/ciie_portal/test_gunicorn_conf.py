"""gunicorn.conf.py's worker hook: the application loaded is frozen out of the garbage
collector's walks, and collections run less often (or Python's defaults with GC_FREEZE=false)."""

import gc
import runpy
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


@pytest.fixture
def restored_gc():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_a_worker_freezes_what_it_loaded(restored_gc, monkeypatch):
    monkeypatch.delenv("GC_FREEZE", raising=False)
    gc.unfreeze()
    runpy.run_path(str(CONF))["post_worker_init"](None)
    assert gc.get_freeze_count() > 10_000  # the test run's modules, Django's included
    assert gc.get_threshold() == (50_000, 20, 100)


def test_gc_freeze_false_keeps_pythons_defaults(restored_gc, monkeypatch):
    monkeypatch.setenv("GC_FREEZE", "false")
    gc.unfreeze()
    before = gc.get_threshold()
    runpy.run_path(str(CONF))["post_worker_init"](None)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
