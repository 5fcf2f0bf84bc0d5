"""The visitor and unit lists filter by every status of the organiser's guide and show counts;
the delegation overview shows a secretary their own subtree's figures and nobody else's."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from delegations.models import Delegation, DelegationQuota
from registration.models import Label, PersonType, Pickup, Unit, Visitor
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.registration.factories import UnitFactory, VisitorFactory

VISITORS = "/admin/registration/visitor/"
UNITS = "/admin/registration/unit/"
OVERVIEW = "/staff/overview/"
V = Visitor.Status


@pytest.fixture
def science_unit(edition):
    return UnitFactory(
        edition=edition, delegation=Delegation.objects.get(code="gd-science-technology")
    )


def _get(client, user, url, **params):
    client.force_login(user)
    return client.get(url, params, HTTP_ACCEPT_LANGUAGE="en")


def _choice(text: str) -> str:
    """How a filter choice appears in the admin's filter sidebar."""
    return f">{text}</a>"


# --- List filters ---------------------------------------------------------------------------


def test_each_label_shows_how_many_visitors_of_the_secretarys_subtree_have_it(
    client, secretary, unit, other_unit
):
    VisitorFactory.create_batch(2, unit=unit, label=Label.VIP)
    VisitorFactory(unit=unit, label=Label.STAFF)
    VisitorFactory(unit=unit)
    VisitorFactory.create_batch(3, unit=other_unit, label=Label.VIP)

    content = _get(client, secretary, VISITORS).content.decode()

    assert _choice("VIP (2)") in content
    assert _choice("Staff (1)") in content
    assert _choice("Professional visitor (0)") in content
    assert _choice("No label (1)") in content
    assert _choice("Submitted (0)") in content
    assert _choice("Saved (4)") in content


def test_choosing_a_label_lists_only_those_visitors(client, secretary, unit):
    vip = VisitorFactory(unit=unit, label=Label.VIP)
    unlabelled = VisitorFactory(unit=unit)

    vips = _get(client, secretary, VISITORS, label="vip").content.decode()
    assert vip.name in vips
    assert unlabelled.name not in vips

    none = client.get(VISITORS, {"label": "none"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert unlabelled.name in none
    assert vip.name not in none


@pytest.mark.parametrize(
    ("parameter", "value", "choice", "matching", "other"),
    [
        (
            "person_type",
            "foreign",
            "Person from another country or region",
            {"person_type": PersonType.FOREIGN},
            {},
        ),
        ("pickup", "courier", "By courier (free)", {"pickup": Pickup.COURIER}, {}),
        ("pickup", "none", "Not chosen", {}, {"pickup": Pickup.DELEGATION}),
        (
            "paid_by_delegation",
            "yes",
            "Paid by the delegation",
            {"paid_by_delegation": True},
            {},
        ),
        ("paid_by_delegation", "no", "Paid by the unit", {}, {"paid_by_delegation": True}),
        ("reuse_eligible", "yes", "May reuse", {"reuse_eligible": True}, {}),
        ("status", "submitted", "Submitted", {"status": V.SUBMITTED}, {}),
        ("status", "pending_lock", "Awaiting lock", {"status": V.PENDING_LOCK}, {}),
        ("credential", "yes", "Needs a new credential", {"needs_new_credential": True}, {}),
        ("credential", "no", "No new credential needed", {}, {"needs_new_credential": True}),
    ],
)
def test_every_filter_counts_and_filters(
    client, secretary, unit, parameter, value, choice, matching, other
):
    kept = VisitorFactory(unit=unit, **matching)
    dropped = VisitorFactory(unit=unit, **other)

    content = _get(client, secretary, VISITORS, **{parameter: value}).content.decode()

    assert _choice(f"{choice} (1)") in content
    assert kept.name in content
    assert dropped.name not in content


def test_entry_days_are_those_of_the_current_edition(client, secretary, unit, edition):
    period = edition.entry_periods.get()
    second = EntryPeriodFactory(edition=edition, name="首日", last_day=period.first_day)
    old_period = EntryPeriodFactory(edition=EditionFactory(number=9), name="上届全程")
    on_day = VisitorFactory.create_batch(2, unit=unit, entry_period=period)
    undecided = VisitorFactory(unit=unit)

    content = _get(client, secretary, VISITORS, entry_period=period.pk).content.decode()

    assert _choice(f"{period} (2)") in content
    assert _choice(f"{second} (0)") in content
    assert _choice("Not chosen (1)") in content
    assert str(old_period) not in content
    assert all(visitor.name in content for visitor in on_day)
    assert undecided.name not in content


def test_a_value_that_is_not_offered_is_refused(client, secretary, unit):
    VisitorFactory(unit=unit)
    response = _get(client, secretary, VISITORS, label="boss")
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_units_filter_by_status_with_counts(
    client, group_secretary, unit, science_unit, other_unit
):
    Unit.objects.filter(pk=unit.pk).update(status=Unit.Status.DRAFT)
    Unit.objects.filter(pk=science_unit.pk).update(status=Unit.Status.APPROVED)
    Unit.objects.filter(pk=other_unit.pk).update(status=Unit.Status.APPROVED)

    content = _get(client, group_secretary, UNITS, status="approved").content.decode()

    assert _choice("Approved (1)") in content
    assert _choice("Not submitted (1)") in content
    assert science_unit.name in content
    assert unit.name not in content
    assert other_unit.name not in content


def test_the_filtered_list_costs_the_same_queries_for_one_or_many(
    client, secretary, unit, django_assert_max_num_queries
):
    VisitorFactory(unit=unit, label=Label.VIP)
    client.force_login(secretary)
    with django_assert_max_num_queries(30) as one:
        client.get(VISITORS)
    VisitorFactory.create_batch(40, unit=unit, label=Label.STAFF, pickup=Pickup.COURIER)
    with django_assert_max_num_queries(len(one.captured_queries)):
        content = client.get(VISITORS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert _choice("Staff (40)") in content


def test_admin_facets_replace_our_counts_instead_of_adding_to_them(client, secretary, unit):
    VisitorFactory.create_batch(2, unit=unit, label=Label.VIP)
    content = _get(client, secretary, VISITORS, _facets="True").content.decode()
    assert _choice("VIP (2)") in content
    assert "VIP (2) (2)" not in content


# --- Overview -------------------------------------------------------------------------------


def test_a_secretary_sees_only_their_subtrees_figures(
    client, secretary, unit, science_unit, other_unit
):
    VisitorFactory.create_batch(2, unit=unit, label=Label.VIP, status=V.SUBMITTED)
    VisitorFactory(unit=unit, label=Label.VISITOR, status=V.PENDING_PAYMENT)
    VisitorFactory(unit=science_unit, label=Label.VIP)
    VisitorFactory.create_batch(5, unit=other_unit, label=Label.VIP, status=V.SUBMITTED)
    UnitFactory(edition=unit.edition, delegation=unit.delegation, status=Unit.Status.SUBMITTED)
    Unit.objects.filter(pk=unit.pk).update(status=Unit.Status.DRAFT)

    response = _get(client, secretary, OVERVIEW)

    assert response.status_code == 200
    context = response.context
    assert context["visitor_total"] == 3
    rows = {row["label"]: row for row in context["visitor_rows"]}
    statuses = context["visitor_statuses"]
    assert rows["VIP"]["cells"][statuses.index("Submitted")] == 2
    assert rows["Professional visitor"]["cells"][statuses.index("Awaiting payment")] == 1
    units = {row["status"]: row["count"] for row in context["unit_rows"]}
    assert units == {
        "Not submitted": 1,
        "Awaiting delegation review": 1,
        "Returned for changes": 0,
        "Approved": 0,
        "Rejected": 0,
        "Total": 2,
    }
    content = response.content.decode()
    assert "广州" in content
    assert other_unit.name not in content


def test_a_trade_delegation_secretary_sees_every_sub_delegation(
    client, group_secretary, unit, science_unit, other_unit
):
    VisitorFactory(unit=unit)
    VisitorFactory(unit=science_unit)
    VisitorFactory(unit=other_unit)
    response = _get(client, group_secretary, OVERVIEW)
    assert response.context["visitor_total"] == 2


def test_the_quota_shows_use_of_the_whole_trade_delegation_against_its_limit(
    client, secretary, unit, science_unit, other_unit, edition, guangdong
):
    VisitorFactory(unit=unit, label=Label.VIP)
    VisitorFactory(unit=other_unit, label=Label.VIP)
    content = _get(client, secretary, OVERVIEW).content.decode()
    assert "VIP 1/100" in content
    assert "Staff 0/100" in content

    # The quota is the trade delegation's, shared by its sub-delegations.
    VisitorFactory(unit=science_unit, label=Label.VIP)
    DelegationQuota.objects.create(edition=edition, delegation=guangdong, vip_limit=5)
    response = _get(client, secretary, OVERVIEW)
    assert "VIP 2/5" in response.content.decode()
    assert response.context["visitor_total"] == 1


def test_the_quota_reads_in_chinese(client, secretary, unit):
    VisitorFactory(unit=unit, label=Label.STAFF)
    client.force_login(secretary)
    content = client.get(OVERVIEW, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "工作人员 1/100" in content
    assert "VIP 0/100" in content


def test_registrations_are_charted_per_day_for_the_last_30_days(client, secretary, unit):
    now = timezone.now()
    three_days_ago = VisitorFactory.create_batch(2, unit=unit)
    Visitor.objects.filter(pk__in=[v.pk for v in three_days_ago]).update(
        created_at=now - timedelta(days=3)
    )
    too_old = VisitorFactory(unit=unit)
    Visitor.objects.filter(pk=too_old.pk).update(created_at=now - timedelta(days=40))
    VisitorFactory(unit=unit)

    response = _get(client, secretary, OVERVIEW)

    day = timezone.localdate(now - timedelta(days=3))
    content = response.content.decode()
    assert f"<title>{day:%Y-%m-%d}: 2</title>" in content
    assert f"<title>{timezone.localdate():%Y-%m-%d}: 1</title>" in content
    assert "<svg" in content
    chart = response.context["chart"]
    assert len(chart["bars"]) == 30
    assert chart["total"] == 3


def test_an_organiser_sees_everything_or_the_trade_delegation_they_choose(
    client, organiser, unit, science_unit, other_unit, guangdong, other_delegation
):
    VisitorFactory(unit=unit)
    VisitorFactory(unit=science_unit, label=Label.VIP)
    VisitorFactory(unit=other_unit)

    everything = _get(client, organiser, OVERVIEW)
    assert everything.context["visitor_total"] == 3
    assert everything.context["quotas"] is None
    assert "Choose a trade delegation to see its quotas." in everything.content.decode()

    chosen = client.get(OVERVIEW, {"delegation": guangdong.pk}, HTTP_ACCEPT_LANGUAGE="en")
    assert chosen.context["visitor_total"] == 2
    assert "VIP 1/100" in chosen.content.decode()

    other = client.get(OVERVIEW, {"delegation": other_delegation.pk})
    assert other.context["visitor_total"] == 1


def test_a_secretary_cannot_choose_another_delegation(
    client, secretary, unit, other_unit, other_delegation
):
    VisitorFactory(unit=other_unit)
    response = _get(client, secretary, OVERVIEW, delegation=other_delegation.pk)
    assert response.context["visitor_total"] == 0


def test_the_overview_costs_the_same_queries_for_one_or_300_visitors(
    client, secretary, unit, django_assert_max_num_queries
):
    VisitorFactory(unit=unit, label=Label.VIP)
    client.force_login(secretary)
    # 20 with the shared cache; without one (SQLite's `make test`) the session is read from
    # the database too.
    sessions = 0 if settings.SESSION_ENGINE == "ciie_portal.session_store" else 1
    with django_assert_max_num_queries(20 + sessions) as one:
        client.get(OVERVIEW)
    units = UnitFactory.create_batch(3, edition=unit.edition, delegation=unit.delegation)
    labels = [Label.VIP, Label.STAFF, Label.VISITOR, ""]
    for i in range(300):
        VisitorFactory(unit=units[i % 3], label=labels[i % 4])
    Visitor.objects.filter(pk__in=Visitor.objects.order_by("pk").values("pk")[:100]).update(
        created_at=timezone.now() - timedelta(days=5)
    )
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(OVERVIEW)
    assert response.context["visitor_total"] == 301


def test_finance_and_unit_contacts_get_no_overview(client, finance, contact, unit):
    VisitorFactory(unit=unit)
    client.force_login(finance)
    assert client.get(OVERVIEW).status_code == 403
    client.force_login(contact)
    response = client.get(OVERVIEW)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_another_delegations_secretary_sees_none_of_ours(client, other_secretary, unit):
    VisitorFactory.create_batch(2, unit=unit, label=Label.VIP)
    response = _get(client, other_secretary, OVERVIEW)
    assert response.context["visitor_total"] == 0
    assert "VIP 0/100" in response.content.decode()


def test_without_a_current_edition_the_page_says_so(client, secretary, edition):
    type(edition).objects.filter(pk=edition.pk).update(is_current=False)
    response = _get(client, secretary, OVERVIEW)
    assert response.status_code == 200
    assert "No edition is current" in response.content.decode()
