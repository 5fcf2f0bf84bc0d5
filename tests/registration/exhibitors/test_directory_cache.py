"""The directory's facts kept in the shared cache: asked once, read anew on change."""

import pytest

from ciie_portal import read_cache
from registration.exhibitors.directory import edition_countries, edition_has_exhibitors

from .factories import ExhibitorFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    read_cache.forget_all()


def test_no_directory_costs_no_query_once_kept(edition, django_assert_num_queries):
    assert edition_has_exhibitors(edition.pk) is False
    with django_assert_num_queries(0):
        assert edition_has_exhibitors(edition.pk) is False


def test_a_saved_exhibitor_is_seen_at_once(edition, django_assert_num_queries):
    assert edition_has_exhibitors(edition.pk) is False
    exhibitor = ExhibitorFactory(edition=edition, country="FR")
    ProductFactory(exhibitor=exhibitor)
    assert edition_has_exhibitors(edition.pk) is True
    assert edition_countries(edition.pk) == ["FR"]
    with django_assert_num_queries(0):
        assert edition_has_exhibitors(edition.pk) is True
        assert edition_countries(edition.pk) == ["FR"]


def test_unlisted_exhibitors_do_not_count(edition):
    ExhibitorFactory(edition=edition, is_listed=False)
    assert edition_has_exhibitors(edition.pk) is False
    assert edition_has_exhibitors(None) is False
