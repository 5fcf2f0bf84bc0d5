"""The PostgreSQL health check (``ciie_portal/postgresql/base.py``): a connection kept from an
earlier request is checked by looking at its socket, not by a ``SELECT 1``; one the server
closed is replaced before the request's first query."""

import time

import psycopg
import pytest
from django.db import close_old_connections, connection
from django.test import Client

from tests.ciie_portal.factories import EditionFactory
from tests.conftest import on_postgres
from tests.registration.factories import UnitFactory

pytestmark = [on_postgres, pytest.mark.postgres]


def _server_closes(connection_to_close) -> None:
    pid = connection_to_close.connection.info.backend_pid
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while connection_to_close.is_usable() and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.django_db
def test_a_working_connection_is_usable_without_a_query(monkeypatch):
    connection.ensure_connection()
    sent = []
    monkeypatch.setattr(connection.connection, "execute", lambda *args, **kw: sent.append(args))
    monkeypatch.setattr(connection.connection, "cursor", lambda *args, **kw: sent.append(args))
    assert connection.is_usable()
    assert not sent


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_closed_is_replaced_before_the_next_request():
    # Transactional tests empty every table: everything made here.
    unit = UnitFactory(edition=EditionFactory(number=10, is_current=True))
    client = Client()
    client.force_login(unit.account)
    assert client.get("/accounts/").status_code == 200
    old_pid = connection.connection.info.backend_pid
    _server_closes(connection)
    assert not connection.is_usable()
    # What Django's handler does as a request starts (its test client leaves it out).
    close_old_connections()
    page = client.get("/accounts/")
    assert page.status_code == 200
    assert unit.name in page.content.decode()
    assert connection.connection.info.backend_pid != old_pid
