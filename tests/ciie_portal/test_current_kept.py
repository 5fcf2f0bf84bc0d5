"""What every request reads — the current edition, its entry periods, the privacy policy in
force, whether the contact accepted it — kept in the shared cache (or the session) instead of
read from the database each time, and read anew at once when any of it changes, by a save, a
bulk update or a publication."""

from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ciie_portal.context_processors import current_edition, entry_periods_of
from ciie_portal.models import Edition, EntryPeriod, PrivacyPolicy
from ciie_portal.privacy import policy_in_force_now, policy_publish
from ciie_portal.services import edition_make_current
from registration.consent import ACCEPTED_SESSION_KEY
from registration.models import ConsentRecord
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.registration.factories import UnitFactory, UserFactory

# What a request asks the shared cache (CACHE_URL, Redis): Django's per-process memory cache
# answers ``get_many`` key by key and keeps sessions in the database, so the round trips and
# the session's reads these tests count are the shared cache's only.
shared_cache = pytest.mark.skipif(
    settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"),
    reason="round trips to a shared cache (set CACHE_URL)",
)


def _statements(read) -> list[str]:
    with CaptureQueriesContext(connection) as done:
        read()
    return [q["sql"] for q in done.captured_queries]


def test_the_current_edition_is_read_once_then_kept(edition):
    assert current_edition() == edition
    assert _statements(current_edition) == []
    assert current_edition().name == edition.name


def test_a_saved_edition_is_read_anew(edition):
    current_edition()
    edition.name = "第十届（改）"
    edition.save()
    assert current_edition().name == "第十届（改）"


def test_a_bulk_update_is_read_anew(edition):
    current_edition()
    Edition.objects.filter(pk=edition.pk).update(name="批量改名")
    assert current_edition().name == "批量改名"
    Edition.objects.filter(pk=edition.pk).update(is_current=False)
    assert current_edition() is None
    assert _statements(current_edition) == []  # "none is current" is kept too


def test_another_edition_made_current_is_read_anew(edition, organiser):
    current_edition()
    later = EditionFactory(number=11)
    edition_make_current(edition=later, actor=organiser)
    assert current_edition() == later


def test_entry_periods_kept_and_read_anew(edition):
    first = list(entry_periods_of(edition))
    assert _statements(lambda: entry_periods_of(edition)) == []
    added = EntryPeriodFactory(
        edition=edition, name="后两天", first_day=edition.ends_on, last_day=edition.ends_on
    )
    assert [p.pk for p in entry_periods_of(edition)] == [p.pk for p in first] + [added.pk]
    EntryPeriod.objects.filter(pk=added.pk).update(name="最后两天")
    assert entry_periods_of(edition)[-1].name == "最后两天"


def _policy(edition, version, published=True):
    return PrivacyPolicy.objects.create(
        edition=edition,
        version=version,
        text_zh=f"第{version}版",
        text_en=f"Version {version}",
        published_at=datetime(2027, 3, version, tzinfo=UTC) if published else None,
    )


def test_the_policy_in_force_kept_and_a_publication_read_anew(edition):
    assert policy_in_force_now() is None
    first = _policy(edition, 1)
    assert policy_in_force_now() == first
    assert _statements(policy_in_force_now) == []
    draft = _policy(edition, 2, published=False)
    assert policy_in_force_now() == first
    assert policy_publish(draft)  # an UPDATE of published_at
    assert policy_in_force_now() == draft


def _accepted_policy(contact):
    policy = _policy(contact.units.get().edition, 1)
    ConsentRecord.objects.create(user=contact, policy=policy, accepted_at=policy.published_at)
    return policy


def test_an_accepted_policy_asks_the_database_nothing_more_in_the_session(client, contact):
    policy = _accepted_policy(contact)
    client.force_login(contact)
    first = client.get("/accounts/visitors/")
    assert first.status_code == 200
    assert client.session[ACCEPTED_SESSION_KEY] == f"{contact.pk}:{policy.pk}"
    with CaptureQueriesContext(connection) as again:
        assert client.get("/accounts/visitors/").status_code == 200
    sqls = " ".join(q["sql"] for q in again.captured_queries)
    assert "registration_consentrecord" not in sqls
    assert "ciie_portal_privacypolicy" not in sqls
    assert "ciie_portal_edition" not in sqls
    # A newer version: asked at the next page, although the session saw the older one.
    _policy(policy.edition, 2)
    assert client.get("/accounts/visitors/")["Location"].startswith("/privacy/accept/")


@shared_cache
def test_the_sign_in_notes_the_acceptance_so_the_first_page_writes_nothing(client, contact):
    from tests.registration.factories import PASSWORD

    policy = _accepted_policy(contact)
    signed_in = client.post(
        "/accounts/login/", {"username": contact.username, "password": PASSWORD}
    )
    assert signed_in.status_code == 302
    assert client.session[ACCEPTED_SESSION_KEY] == f"{contact.pk}:{policy.pk}"
    with CaptureQueriesContext(connection) as first_page:
        assert client.get("/accounts/").status_code == 200
    sqls = " ".join(q["sql"] for q in first_page.captured_queries)
    assert "registration_consentrecord" not in sqls
    assert "django_session" not in sqls  # the session is not written again


def test_a_contact_who_has_not_accepted_is_still_sent_to_accept_after_sign_in(client, contact):
    from tests.registration.factories import PASSWORD

    _policy(contact.units.get().edition, 1)
    client.post("/accounts/login/", {"username": contact.username, "password": PASSWORD})
    assert ACCEPTED_SESSION_KEY not in client.session
    assert client.get("/accounts/")["Location"].startswith("/privacy/accept/")


def test_an_account_without_a_unit_yet_is_asked_once_it_has_one(client, edition):
    _policy(edition, 1)
    account = UserFactory()
    client.force_login(account)
    client.get("/accounts/visitors/")  # no unit of this edition: nothing to accept yet
    assert ACCEPTED_SESSION_KEY not in client.session
    UnitFactory(account=account, edition=edition)
    assert client.get("/accounts/visitors/")["Location"].startswith("/privacy/accept/")
    assert ACCEPTED_SESSION_KEY not in client.session


def test_redis_cache_keeps_one_client_per_server():
    from ciie_portal.redis_cache import RedisCache

    redis_cache = RedisCache("redis://127.0.0.1:6379/3", {"KEY_PREFIX": "client-test"})
    client = redis_cache._cache.get_client(write=True)
    assert redis_cache._cache.get_client() is client
    try:
        redis_cache.set("k", {"a": 1})
    except Exception as error:  # noqa: BLE001 - no Redis on this machine
        pytest.skip(f"no Redis: {error}")
    assert redis_cache.get("k") == {"a": 1}
    redis_cache.delete("k")
    assert cache is not None


# --- One request, one snapshot ----------------------------------------------------------------


class _Reads:
    """The shared cache's reads, each as the keys it asked for."""

    def __init__(self, monkeypatch):
        self.calls: list[list[str]] = []
        get, get_many = cache.get, cache.get_many

        def counted_get(key, *args, **kwargs):
            self.calls.append([key])
            return get(key, *args, **kwargs)

        def counted_get_many(keys, *args, **kwargs):
            self.calls.append(list(keys))
            return get_many(keys, *args, **kwargs)

        monkeypatch.setattr(cache, "get", counted_get)
        monkeypatch.setattr(cache, "get_many", counted_get_many)

    def generation_reads(self) -> list[list[str]]:
        """The reads that asked for a topic's generation."""
        return [
            keys
            for keys in self.calls
            if any(k.startswith("read-cache:") and k.endswith(":generation") for k in keys)
        ]


@shared_cache
def test_a_request_reads_the_editions_generation_once(client, contact, monkeypatch):
    from ciie_portal import read_cache

    client.force_login(contact)
    assert client.get("/accounts/visitors/").status_code == 200  # entries built and held
    reads = _Reads(monkeypatch)
    page = client.get("/accounts/visitors/")
    assert page.status_code == 200
    # The policy in force, the current edition, its entry periods: one read of the topics'
    # generations, every topic's at once (a page that shows others asks no more).
    (generations,) = reads.generation_reads()
    assert set(read_cache.TOPICS) <= {
        k.removeprefix("read-cache:").removesuffix(":generation") for k in generations
    }


@shared_cache
def test_the_dashboard_reads_every_topics_generation_once(client, contact, monkeypatch):
    """Side events, exhibitors, the survey, points: each its own topic, one round trip."""
    client.force_login(contact)
    assert client.get("/accounts/").status_code == 200
    reads = _Reads(monkeypatch)
    assert client.get("/accounts/").status_code == 200
    assert len(reads.generation_reads()) == 1


@shared_cache
def test_a_page_reads_the_session_and_the_generations_in_one_round_trip(
    client, contact, settings, monkeypatch
):
    settings.SESSION_ENGINE = "ciie_portal.session_store"
    client.force_login(contact)
    assert client.get("/accounts/visitors/").status_code == 200  # entries built and held
    reads = _Reads(monkeypatch)
    assert client.get("/accounts/visitors/").status_code == 200
    (together,) = reads.calls
    assert any("sessions" in key for key in together)
    assert reads.generation_reads() == [together]


def test_a_change_elsewhere_is_seen_by_the_next_request(client, contact, edition):
    client.force_login(contact)
    client.get("/accounts/visitors/")
    # Another process renames the edition: a new generation in the shared cache.
    Edition.objects.filter(pk=edition.pk).update(name="第十届（新名）")
    edition.refresh_from_db()
    page = client.get("/accounts/visitors/").content.decode()
    assert edition.display_name in page


def test_a_change_within_the_request_is_read_anew(edition):
    from ciie_portal import read_cache

    read_cache._request_started()
    try:
        assert current_edition().name == edition.name
        Edition.objects.filter(pk=edition.pk).update(name="请求中改名")
        assert current_edition().name == "请求中改名"
    finally:
        read_cache._request_finished()


def test_what_a_request_is_given_is_its_own_copy(edition):
    from ciie_portal import read_cache

    for _ in range(2):
        read_cache._request_started()
        try:
            periods = entry_periods_of(edition)
            assert len(periods) == edition.entry_periods.count()
            periods.clear()  # the caller's list, not the one held
        finally:
            read_cache._request_finished()
