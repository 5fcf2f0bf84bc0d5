"""The request line's logging context is the request's own, but Django's context-local
connections (caches, and with them the Redis connection) outlive the request: a request run in
a copied ``contextvars`` context built a new cache client and connected anew every time."""

import contextlib

import pytest
import structlog
from django.core.cache import CacheHandler
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_cache_is_made_once_not_per_request(monkeypatch):
    made = []
    create = CacheHandler.create_connection

    def counted(self, alias):
        made.append(alias)
        return create(self, alias)

    monkeypatch.setattr(CacheHandler, "create_connection", counted)
    from django.core.cache import caches

    for alias in list(caches.settings):
        with contextlib.suppress(AttributeError):
            del caches[alias]  # made anew below, in this context
    client = Client()
    for _ in range(3):
        client.cookies.clear()
        assert client.get("/accounts/login/").status_code == 200
    assert made.count("default") <= 1


def test_what_a_request_binds_is_gone_and_what_was_bound_is_back():
    structlog.contextvars.bind_contextvars(outer="kept")
    try:
        response = Client().get("/accounts/login/", HTTP_X_REQUEST_ID="ctx-test-0001")
        assert response["X-Request-ID"] == "ctx-test-0001"
        assert structlog.contextvars.get_contextvars() == {"outer": "kept"}
    finally:
        structlog.contextvars.clear_contextvars()
