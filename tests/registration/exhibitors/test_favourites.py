"""收藏: a unit keeps exhibitors of its edition and lets them go — idempotent, audited, never
another unit's — through the button on the recommendations (and the directory), and its list
of favourites."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ciie_portal.models import AuditEntry
from registration.exhibitors.favourites import (
    favourite_add,
    favourite_ids,
    favourite_remove,
)
from registration.exhibitors.models import Exhibitor, Favourite
from tests.ciie_portal.factories import EditionFactory
from tests.conftest import on_postgres
from tests.races import run_at_once
from tests.registration.factories import UnitFactory

pytestmark = pytest.mark.django_db

_codes = iter(range(1, 1_000_000))


def exhibitor(edition, name, **fields) -> Exhibitor:
    return Exhibitor.objects.create(
        edition=edition, code=f"F{next(_codes):05d}", name=name, **fields
    )


@pytest.fixture
def bayer(edition):
    return exhibitor(edition, "拜耳医药", name_en="Bayer Pharma", country="DE")


@pytest.fixture
def signed_in(client, contact):
    client.force_login(contact)
    return client


def _actions():
    return list(
        AuditEntry.objects.filter(action__startswith="favourite.")
        .order_by("pk")
        .values_list("action", flat=True)
    )


def test_adding_and_removing_are_idempotent_and_audited(unit, bayer):
    first, created = favourite_add(unit=unit, exhibitor=bayer, actor=unit.account)
    again, created_again = favourite_add(unit=unit, exhibitor=bayer, actor=unit.account)
    assert created and not created_again and first.pk == again.pk
    assert Favourite.objects.filter(unit=unit).count() == 1
    assert favourite_remove(unit=unit, exhibitor=bayer, actor=unit.account) is True
    assert favourite_remove(unit=unit, exhibitor=bayer, actor=unit.account) is False
    assert not Favourite.objects.filter(unit=unit).exists()
    assert _actions() == ["favourite.add", "favourite.remove"]
    entry = AuditEntry.objects.get(action="favourite.add")
    assert entry.actor_id == unit.account.pk
    assert entry.data["exhibitor"] == bayer.pk and entry.data["unit"] == unit.pk


def test_only_listed_exhibitors_of_the_units_edition_are_kept(unit, edition):
    for made in (
        exhibitor(edition, "撤展公司", is_listed=False),
        exhibitor(EditionFactory(number=9), "往届公司"),
    ):
        with pytest.raises(ValidationError):
            favourite_add(unit=unit, exhibitor=made, actor=unit.account)
    assert not Favourite.objects.exists()


def test_favourite_ids_says_which_of_a_page_the_unit_keeps(unit, other_unit, bayer, edition):
    other = exhibitor(edition, "赛诺菲")
    favourite_add(unit=unit, exhibitor=bayer, actor=unit.account)
    favourite_add(unit=other_unit, exhibitor=other, actor=other_unit.account)
    assert favourite_ids(unit, [bayer.pk, other.pk]) == {bayer.pk}
    assert favourite_ids(unit, []) == set()


# --- The button -----------------------------------------------------------------------------


def test_the_button_saves_and_returns_to_the_page(signed_in, unit, bayer):
    response = signed_in.post(
        f"/accounts/favourites/exhibitor/{bayer.pk}/",
        {"action": "add", "next": "/accounts/matching/?page=2"},
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/matching/?page=2"
    assert Favourite.objects.filter(unit=unit, exhibitor=bayer).exists()
    response = signed_in.post(
        f"/accounts/favourites/exhibitor/{bayer.pk}/",
        {"action": "remove", "next": "/accounts/matching/"},
    )
    assert response["Location"] == "/accounts/matching/"
    assert not Favourite.objects.filter(unit=unit).exists()
    assert _actions() == ["favourite.add", "favourite.remove"]


def test_the_button_never_sends_elsewhere(signed_in, bayer):
    response = signed_in.post(
        f"/accounts/favourites/exhibitor/{bayer.pk}/",
        {"action": "add", "next": "https://evil.example/"},
    )
    assert response["Location"] == "/accounts/favourites/"


def test_the_button_needs_a_post_with_csrf(client, contact, bayer):
    checking = type(client)(enforce_csrf_checks=True)
    checking.force_login(contact)
    assert checking.post(f"/accounts/favourites/exhibitor/{bayer.pk}/").status_code == 403
    assert checking.get(f"/accounts/favourites/exhibitor/{bayer.pk}/").status_code == 405
    assert not Favourite.objects.exists()


def test_another_editions_or_unlisted_exhibitor_is_not_found(signed_in, edition):
    for made in (
        exhibitor(edition, "撤展公司", is_listed=False),
        exhibitor(EditionFactory(number=9), "往届公司"),
    ):
        response = signed_in.post(f"/accounts/favourites/exhibitor/{made.pk}/", {"action": "add"})
        assert response.status_code == 404
    assert not Favourite.objects.exists()


def test_anonymous_is_sent_to_sign_in(client, edition, bayer):
    response = client.post(f"/accounts/favourites/exhibitor/{bayer.pk}/", {"action": "add"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    favourite = Favourite.objects.create(unit=_a_unit(edition), exhibitor=bayer)
    response = client.post(f"/accounts/favourites/{favourite.pk}/remove/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert Favourite.objects.filter(pk=favourite.pk).exists()


def _a_unit(edition):
    from tests.registration.factories import UnitFactory

    return UnitFactory(edition=edition)


# --- The list of favourites ------------------------------------------------------------------


def test_the_list_shows_the_units_favourites_with_a_remove_button(
    signed_in, unit, other_unit, bayer, edition
):
    theirs = exhibitor(edition, "赛诺菲")
    favourite_add(unit=unit, exhibitor=bayer, actor=unit.account)
    favourite_add(unit=other_unit, exhibitor=theirs, actor=other_unit.account)
    page = signed_in.get("/accounts/favourites/").content.decode()
    mine = Favourite.objects.get(unit=unit)
    assert "拜耳医药" in page and "赛诺菲" not in page
    assert f'href="/accounts/exhibitors/{bayer.pk}/"' in page
    assert f'action="/accounts/favourites/{mine.pk}/remove/"' in page
    english = signed_in.get("/accounts/favourites/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Bayer Pharma" in english


def test_the_list_says_when_there_is_none(signed_in):
    page = signed_in.get("/accounts/favourites/").content.decode()
    assert 'id="favourites-none"' in page


def test_removing_from_the_list(signed_in, unit, bayer):
    favourite, _new = favourite_add(unit=unit, exhibitor=bayer, actor=unit.account)
    response = signed_in.post(f"/accounts/favourites/{favourite.pk}/remove/")
    assert response.status_code == 302 and response["Location"] == "/accounts/favourites/"
    assert not Favourite.objects.filter(pk=favourite.pk).exists()
    assert _actions() == ["favourite.add", "favourite.remove"]


def test_another_units_favourite_cannot_be_removed(signed_in, other_unit, bayer):
    theirs, _new = favourite_add(unit=other_unit, exhibitor=bayer, actor=other_unit.account)
    response = signed_in.post(f"/accounts/favourites/{theirs.pk}/remove/")
    assert response.status_code == 404
    assert Favourite.objects.filter(pk=theirs.pk).exists()
    assert _actions() == ["favourite.add"]


def test_the_list_costs_the_same_queries_for_1_or_30_favourites(signed_in, unit, edition):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert signed_in.get("/accounts/favourites/").status_code == 200
        return len(captured)

    favourite_add(unit=unit, exhibitor=exhibitor(edition, "公司0"), actor=unit.account)
    queries()  # the per-edition facts kept
    one = queries()
    for n in range(1, 30):
        favourite_add(unit=unit, exhibitor=exhibitor(edition, f"公司{n}"), actor=unit.account)
    assert queries() == one


def test_an_unlisted_favourite_stays_in_the_list_marked(signed_in, unit, bayer):
    favourite_add(unit=unit, exhibitor=bayer, actor=unit.account)
    Exhibitor.objects.filter(pk=bayer.pk).update(is_listed=False)
    page = signed_in.get("/accounts/favourites/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No longer listed" in page


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_two_colleagues_saving_at_once_keep_one_favourite():
    # Transactional tests empty every table (the delegations of the data migration too):
    # everything made here.
    edition = EditionFactory()
    unit = UnitFactory(edition=edition)
    bayer = exhibitor(edition, "拜耳医药", name_en="Bayer Pharma", country="DE")
    outcomes = run_at_once(
        *(lambda: favourite_add(unit=unit, exhibitor=bayer, actor=unit.account) for _ in range(4))
    )
    assert all(outcome.ok for outcome in outcomes), [o.error for o in outcomes]
    assert sorted(outcome.value[1] for outcome in outcomes) == [False, False, False, True]
    assert Favourite.objects.filter(unit=unit, exhibitor=bayer).count() == 1
    assert _actions() == ["favourite.add"]
