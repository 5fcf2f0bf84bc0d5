"""The admin visitor list at the scale of an edition (400,000 visitors): the current edition by
default, newest first, every filter's counts in one query (none above a size), search through
indexes — and still everything within the secretary's subtree."""

import html
import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import resolve

from delegations import admin as delegations_admin
from delegations import filters
from registration.models import Label, Sex, Visitor
from tests.ciie_portal.factories import EditionFactory
from tests.delegations.test_visitor_admin_list import VISITORS, _get, _rows
from tests.registration.factories import UnitFactory, VisitorFactory


@pytest.fixture
def past_unit(edition, guangzhou):
    return UnitFactory(edition=EditionFactory(number=9, is_current=False), delegation=guangzhou)


@pytest.fixture
def two_editions(unit, past_unit, other_unit):
    return {
        "now": VisitorFactory(unit=unit, name="今年", sex=Sex.FEMALE),
        "past": VisitorFactory(unit=past_unit, name="往届", sex=Sex.FEMALE),
        "theirs": VisitorFactory(unit=other_unit, name="别团", sex=Sex.FEMALE),
    }


def test_the_list_shows_the_current_edition_by_default(client, secretary, two_editions):
    content = _get(client, secretary)

    assert set(_rows(content)) == {"今年"}
    assert ">Female (1)</a>" in content


def test_another_edition_or_all_of_them_may_be_chosen(client, secretary, past_unit, two_editions):
    past = _get(client, secretary, edition=past_unit.edition_id)
    every = _get(client, secretary, edition="all")

    assert set(_rows(past)) == {"往届"}
    assert ">Female (1)</a>" in past
    assert set(_rows(every)) == {"今年", "往届"}  # never another delegation's
    assert ">Female (2)</a>" in every


def test_an_edition_that_is_not_a_number_is_refused(client, secretary, two_editions):
    client.force_login(secretary)
    response = client.get(VISITORS, {"edition": "last"})
    assert response.status_code == 302
    assert "?e=1" in response["Location"]


def test_a_visitor_of_another_edition_is_still_reached_by_its_page(client, secretary, two_editions):
    client.force_login(secretary)
    response = client.get(f"{VISITORS}{two_editions['past'].pk}/change/")
    assert response.status_code == 200


def test_the_list_is_newest_first(client, secretary, unit):
    for name in ["一", "二", "三"]:
        VisitorFactory(unit=unit, name=name)

    assert list(_rows(_get(client, secretary))) == ["三", "二", "一"]


def test_every_filter_is_counted_in_one_query(client, secretary, unit):
    VisitorFactory.create_batch(3, unit=unit, label=Label.VISITOR, sex=Sex.MALE)
    client.force_login(secretary)
    with CaptureQueriesContext(connection) as queries:
        client.get(VISITORS)
    counting = [q["sql"] for q in queries.captured_queries if "FILTER (WHERE" in q["sql"]]
    # The filters' counts, and the quota use beside them (delegations.services).
    # (A secretary's counts read their scope in a subquery, whose columns it names __colN.)
    assert len([sql for sql in counting if "= 'mainland')" in sql]) == 1


def test_above_the_limit_the_choices_show_no_counts(client, secretary, unit, monkeypatch):
    VisitorFactory.create_batch(2, unit=unit, sex=Sex.MALE)
    monkeypatch.setattr(filters, "COUNTED_AT_MOST", 1)

    content = _get(client, secretary, sex="M")

    assert ">Male</a>" in content
    assert "Male (" not in content
    assert len(_rows(content)) == 2


@pytest.mark.parametrize("who", ["secretary", "organiser"])
def test_the_list_costs_a_fixed_number_of_queries(
    client, request, unit, who, django_assert_max_num_queries
):
    VisitorFactory.create_batch(3, unit=unit)
    client.force_login(request.getfixturevalue(who))
    # Session, user, second factor, edition, quotas (secretary), permissions, the filters'
    # choices (entry days, editions), the counts (two), the page and its count.
    with django_assert_max_num_queries(22):
        assert client.get(VISITORS).status_code == 200


def test_search_finds_part_of_a_name_or_reference_and_unit_words(client, secretary, unit):
    found = VisitorFactory(unit=unit, name="欧阳明月")
    VisitorFactory(unit=unit, name="别人")

    assert set(_rows(_get(client, secretary, q="阳明"))) == {"欧阳明月"}
    assert set(_rows(_get(client, secretary, q=found.reference[2:9]))) == {"欧阳明月"}
    assert set(_rows(_get(client, secretary, q=f"阳明 {unit.uscc}"))) == {"欧阳明月"}
    assert set(_rows(_get(client, secretary, q="阳明 nowhere"))) == set()


def test_a_word_in_many_units_is_searched_by_a_subquery(client, secretary, unit, monkeypatch):
    VisitorFactory(unit=unit, name="甲")
    VisitorFactory(unit=UnitFactory(edition=unit.edition, delegation=unit.delegation), name="乙")
    monkeypatch.setattr(delegations_admin, "SEARCH_UNITS_LISTED", 1)

    assert set(_rows(_get(client, secretary, q=unit.uscc[:4]))) == {"甲", "乙"}


def test_another_secretary_finds_nothing_of_ours_in_any_edition(
    client, other_secretary, two_editions
):
    assert set(_rows(_get(client, other_secretary, edition="all"))) == {"别团"}
    assert _rows(_get(client, other_secretary, edition="all", q="往届")) == {}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm is PostgreSQL's")
def test_the_name_and_reference_have_a_trigram_index(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s", ["visitor_search_trgm"]
        )
        (definition,) = cursor.fetchone()
    assert "USING gin" in definition
    assert "upper((name)::text) gin_trgm_ops" in definition
    assert "upper((reference)::text) gin_trgm_ops" in definition


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
def test_a_name_search_is_served_by_the_trigram_index(db, unit):
    VisitorFactory(unit=unit, name="欧阳明月")
    queryset = Visitor.objects.filter(name__icontains="阳明月").order_by().values("pk")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = queryset.explain()
    assert "visitor_search_trgm" in plan


# --- Counted once ---------------------------------------------------------------------------


def _visitor_counts(queries) -> list[str]:
    """The statements that count visitors."""
    return [
        q["sql"]
        for q in queries.captured_queries
        if "COUNT(" in q["sql"] and '"registration_visitor"' in q["sql"]
    ]


def test_the_secretarys_unfiltered_list_counts_its_rows_once(client, secretary, unit):
    VisitorFactory.create_batch(2, unit=unit, label=Label.VISITOR, sex=Sex.MALE)
    VisitorFactory(unit=unit, label=Label.VIP, sex=Sex.FEMALE)
    client.force_login(secretary)
    client.cookies["django_language"] = "en"
    with CaptureQueriesContext(connection) as queries:
        content = client.get(VISITORS).content.decode()

    # The quota use (of the whole trade delegation, cancelled visitors left out), and one pass
    # that gives the filters' counts, the rows the list pages and 专业观众 n 已标记.
    assert len(_visitor_counts(queries)) == 2
    assert "3 visitors" in content
    assert ">Male (2)</a>" in content
    assert "<strong>Professional visitor</strong> 2 labelled" in content
    assert len(_rows(content)) == 3


def test_a_filtered_list_counts_what_it_shows(client, secretary, unit):
    VisitorFactory.create_batch(2, unit=unit, sex=Sex.MALE, label=Label.VISITOR)
    VisitorFactory(unit=unit, sex=Sex.FEMALE, label=Label.VISITOR)

    content = _get(client, secretary, sex="F")

    assert "1 visitor<" in content or "1 visitor\n" in content
    assert set(_rows(content)) == {v.name for v in Visitor.objects.filter(sex=Sex.FEMALE)}
    assert ">Male (2)</a>" in content  # the choices still count the whole scope
    assert "<strong>Professional visitor</strong> 3 labelled" in content


def test_the_organisers_list_asks_first_how_many_rows_there_are(client, organiser, unit):
    VisitorFactory.create_batch(3, unit=unit)
    client.force_login(organiser)
    with CaptureQueriesContext(connection) as queries:
        content = client.get(VISITORS).content.decode()

    counting = _visitor_counts(queries)
    # A count that stops at the limit, then the choices' counts; the page takes the first.
    assert len(counting) == 2
    assert f"LIMIT {filters.COUNTED_AT_MOST + 1}" in counting[0]
    assert len(_rows(content)) == 3


@pytest.mark.parametrize("who", ["secretary", "organiser"])
def test_above_the_limit_the_list_counts_its_rows_itself(client, request, unit, who, monkeypatch):
    VisitorFactory.create_batch(3, unit=unit, sex=Sex.MALE)
    monkeypatch.setattr(filters, "COUNTED_AT_MOST", 2)

    content = _get(client, request.getfixturevalue(who))

    assert "Male (" not in content
    assert "3 visitors" in content
    assert len(_rows(content)) == 3


def test_each_rows_link_keeps_the_lists_filters(client, secretary, unit):
    from django.contrib.admin.templatetags.admin_urls import add_preserved_filters

    visitor = VisitorFactory(unit=unit, sex=Sex.FEMALE)
    content = _get(client, secretary, sex="F", q=visitor.name)
    link = re.search(r'<th class="field-name"><a href="([^"]+)"', content).group(1)

    # What Django's own admin would link to: its preserved filters of the same request.
    listing = RequestFactory().get(VISITORS, {"sex": "F", "q": visitor.name})
    listing.resolver_match = resolve(VISITORS)
    preserved = admin.site._registry[Visitor].get_preserved_filters(listing)
    expected = add_preserved_filters(
        {"preserved_filters": preserved, "opts": Visitor._meta},
        f"{VISITORS}{visitor.pk}/change/",
    )
    assert "_changelist_filters=" in expected
    assert html.unescape(link) == expected
    assert client.get(html.unescape(link)).status_code == 200
