"""The session store (``ciie_portal.session_store``): Django's cached_db, whose new session's row
is written once, by the response, and whose random key is not looked up first."""

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client

from ciie_portal import session_store
from tests.registration.factories import PASSWORD


@pytest.fixture(autouse=True)
def store(settings):
    settings.SESSION_ENGINE = "ciie_portal.session_store"


def _session_sql(queries):
    return [q["sql"].split(" ", 1)[0] for q in queries if "django_session" in q["sql"]]


def test_sign_in_writes_the_session_row_once(client, unit, django_assert_max_num_queries):
    with django_assert_max_num_queries(40) as signing_in:
        response = client.post(
            "/accounts/login/", {"username": unit.account.username, "password": PASSWORD}
        )
    assert response.status_code == 302
    assert _session_sql(signing_in.captured_queries) == ["INSERT"]
    key = client.cookies["sessionid"].value
    row = Session.objects.get(session_key=key)
    assert row.get_decoded()["_auth_user_id"] == str(unit.account.pk)
    # The next page is signed in, read from the cache; without it, from the row.
    assert unit.name in client.get("/accounts/").content.decode()
    cache.delete(session_store.SessionStore.cache_key_prefix + key)
    assert unit.name in client.get("/accounts/").content.decode()


def test_the_old_session_is_gone_after_sign_in(client, unit):
    client.get("/accounts/login/")
    session = client.session
    session["language_chosen"] = "en"
    session.save()
    before = session.session_key
    client.post("/accounts/login/", {"username": unit.account.username, "password": PASSWORD})
    after = client.cookies["sessionid"].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert Session.objects.get(session_key=after).get_decoded()["language_chosen"] == "en"


def test_a_key_taken_already_is_never_overwritten(db, monkeypatch):
    taken = session_store.SessionStore()
    taken["who"] = "the first"
    taken.save()
    keys = iter([taken.session_key, "k" * 32])
    monkeypatch.setattr(session_store, "get_random_string", lambda *args: next(keys))
    second = session_store.SessionStore()
    second["who"] = "the second"
    second.create()
    second.save()
    assert second.session_key == "k" * 32
    assert session_store.SessionStore(taken.session_key)["who"] == "the first"
    assert session_store.SessionStore("k" * 32)["who"] == "the second"


def test_signing_out_leaves_an_empty_session(client, unit):
    client.post("/accounts/login/", {"username": unit.account.username, "password": PASSWORD})
    signed_in = client.cookies["sessionid"].value
    client.post("/accounts/logout/")
    assert not Session.objects.filter(session_key=signed_in).exists()
    response = Client().get("/accounts/")
    assert response.status_code == 302
    assert client.get("/accounts/").status_code == 302


def test_a_saved_session_is_updated_in_place(db):
    session = session_store.SessionStore()
    session["step"] = 1
    session.save()
    key = session.session_key
    again = session_store.SessionStore(key)
    again["step"] = 2
    again.save()
    assert again.session_key == key
    assert Session.objects.get(session_key=key).get_decoded()["step"] == 2
    assert Session.objects.count() == 1
