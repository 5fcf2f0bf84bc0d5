"""Each test counts its rate limits under keys of its own, so that neither an earlier test nor
an earlier run against the same (Redis) cache holds it back — without clearing a cache that
other processes share."""

import uuid

import pytest


@pytest.fixture(autouse=True)
def _own_rate_limit_keys(monkeypatch):
    from registration import limits

    monkeypatch.setattr(limits, "NAMESPACE", f"limits-test-{uuid.uuid4().hex}")
