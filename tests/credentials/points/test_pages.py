"""积分, the unit's page: balance, history in Beijing time, per-visitor totals, the offers and
the exchange (Chinese and English); another unit sees nothing of it; anonymous → login; an
exchange below the cost is refused with a clear message and writes nothing; the dashboard's
panel asks the database nothing without rules."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ciie_portal.models import AuditEntry
from credentials.points.models import Coupon, PointsEntry
from credentials.points.selectors import dashboard_panel, unit_balance
from tests.ciie_portal.factories import EditionFactory
from tests.credentials.points.factories import give, offer, rules
from tests.registration.factories import UserFactory, VisitorFactory

pytestmark = pytest.mark.django_db

PAGE = reverse("credentials:points")


def _exchange_url(batch):
    return reverse("credentials:points_exchange", args=[batch.pk])


def _page(client, **headers):
    response = client.get(PAGE, **headers)
    assert response.status_code == 200
    return response.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client, edition, unit):
    batch = offer(edition)
    assert client.get(PAGE)["Location"].startswith("/accounts/login/")
    response = client.post(_exchange_url(batch))
    assert response.status_code == 302 and "login" in response["Location"]
    assert not Coupon.objects.filter(exchanged_by__isnull=False).exists()


def test_an_account_without_a_unit_finds_no_page(client, edition):
    client.force_login(UserFactory())
    assert client.get(PAGE).status_code == 404


def test_the_page_shows_balance_history_in_beijing_time_and_visitors(
    client, edition, unit, contact
):
    rules(edition, gate_day=5, meeting_held=30)
    visitor = VisitorFactory(unit=unit, name="王小明")
    # 23:30 UTC is 07:30 the next day in Beijing.
    entry = PointsEntry.objects.create(
        edition=edition,
        unit=unit,
        visitor=visitor,
        kind="gate_day",
        points=5,
        source_key=f"gate_day:{visitor.pk}:2027-11-06",
        created_at=datetime(2027, 11, 5, 23, 30, tzinfo=UTC),
    )
    give(unit, 40)
    offer(edition, cost=30, name="咖啡优惠券", name_en="Coffee coupon", codes=["A1", "A2"])
    client.force_login(contact)
    page = _page(client)
    assert 'data-balance="45"' in page
    assert "2027-11-06 07:30" in page and entry.source_key not in page
    assert "王小明" in page and "咖啡优惠券" in page
    assert "points-visitors" in page
    english = _page(client, HTTP_ACCEPT_LANGUAGE="en")
    assert "Your unit&#x27;s points" in english or "Your unit's points" in english
    assert "A visitor entered the expo (per day)" in english
    assert "Coffee coupon" in english and "2 left" in english
    assert "Exchange" in english and "History" in english


def test_an_exchange_gives_the_code_spends_the_points_and_is_audited(
    client, edition, unit, contact
):
    give(unit, 80)
    batch = offer(edition, cost=50, codes=["CIIE-0001", "CIIE-0002"])
    client.force_login(contact)
    response = client.post(_exchange_url(batch), HTTP_ACCEPT_LANGUAGE="en", follow=True)
    page = response.content.decode()
    assert "Exchanged: your coupon code" in page and "CIIE-0001" in page
    coupon = Coupon.objects.get(code="CIIE-0001")
    assert coupon.exchanged_by == unit and coupon.exchanged_at is not None
    assert unit_balance(unit.pk) == 30
    spent = PointsEntry.objects.get(kind="exchange")
    assert (spent.points, spent.coupon, spent.source_key) == (-50, coupon, f"exchange:{coupon.pk}")
    audit = AuditEntry.objects.get(action="points.exchange")
    assert audit.actor == contact and audit.data["balance_after"] == 30
    # Its code is on its page from then on; the other code stays the organiser's.
    page = _page(client)
    assert "CIIE-0001" in page and "CIIE-0002" not in page


def test_an_exchange_below_the_cost_is_refused_and_writes_nothing(client, edition, unit, contact):
    give(unit, 49)
    batch = offer(edition, cost=50)
    client.force_login(contact)
    before = AuditEntry.objects.count()
    page = client.post(_exchange_url(batch), HTTP_ACCEPT_LANGUAGE="en", follow=True)
    text = page.content.decode()
    assert "Not enough points: this coupon costs 50 points and your unit has 49." in text
    assert not Coupon.objects.filter(exchanged_by__isnull=False).exists()
    assert PointsEntry.objects.filter(kind="exchange").count() == 0
    assert unit_balance(unit.pk) == 49
    assert AuditEntry.objects.count() == before
    assert "Not enough points yet" in text


def test_an_offer_all_exchanged_is_refused_as_sold_out(client, edition, unit, other_unit, contact):
    give(unit, 100)
    give(other_unit, 100)
    batch = offer(edition, cost=10, codes=["ONLY"])
    Coupon.objects.filter(code="ONLY").update(exchanged_by=other_unit, exchanged_at=timezone.now())
    client.force_login(contact)
    text = client.post(_exchange_url(batch), HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert "All coupons of this offer have been exchanged." in text.content.decode()
    assert unit_balance(unit.pk) == 100


def test_another_unit_sees_nothing_of_it_and_spends_only_its_own(
    client, edition, unit, other_unit, contact, other_contact
):
    give(unit, 100, visitor=VisitorFactory(unit=unit, name="王小明"))
    batch = offer(edition, cost=50, codes=["MINE-1", "MINE-2"])
    client.force_login(contact)
    client.post(_exchange_url(batch))
    other = Client()
    other.force_login(other_contact)
    page = _page(other)
    assert 'data-balance="0"' in page
    assert "MINE-1" not in page and "王小明" not in page
    # Exchanging spends the requester's own (absent) points, never the other unit's.
    other.post(_exchange_url(batch))
    assert unit_balance(unit.pk) == 50 and unit_balance(other_unit.pk) == 0
    assert list(Coupon.objects.filter(exchanged_by=other_unit)) == []


def test_another_editions_offer_and_one_withdrawn_are_not_on_offer(client, edition, unit, contact):
    give(unit, 100)
    elsewhere = offer(EditionFactory(number=11), cost=10, codes=["OLD"])
    withdrawn = offer(edition, cost=10, codes=["OFF"], on_offer=False)
    ended = offer(
        edition,
        cost=10,
        codes=["LATE"],
        valid_until=timezone.localdate() - timedelta(days=1),
    )
    client.force_login(contact)
    for batch, message in (
        (elsewhere, "This coupon is not on offer."),
        (withdrawn, "This coupon is not on offer."),
        (ended, "This coupon offer has ended."),
    ):
        page = client.post(_exchange_url(batch), HTTP_ACCEPT_LANGUAGE="en", follow=True)
        assert message in page.content.decode()
    assert unit_balance(unit.pk) == 100
    page = _page(client)
    assert "OLD" not in page and "points-offers-none" in page


def test_the_page_costs_the_same_queries_for_one_entry_or_many(
    client, edition, unit, contact, django_assert_max_num_queries
):
    rules(edition, meeting_held=30)
    client.force_login(contact)
    give(unit, 1, visitor=VisitorFactory(unit=unit))
    offer(edition, codes=["X1"])
    with django_assert_max_num_queries(20) as few:
        _page(client)
    for _ in range(30):
        give(unit, 1, visitor=VisitorFactory(unit=unit))
    offer(edition, codes=["X2"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        _page(client)


# --- The dashboard panel ---------------------------------------------------------------------


def test_the_panel_asks_nothing_without_rules_and_once_with_them(
    edition, unit, django_assert_num_queries
):
    give(unit, 12)
    dashboard_panel(unit)  # the rules (none) kept in the shared cache
    with django_assert_num_queries(0):
        assert dashboard_panel(unit) is None
    rules(edition, gate_day=5)
    dashboard_panel(unit)
    with django_assert_num_queries(1):
        panel = dashboard_panel(unit)
    assert panel["balance"] == 12


def test_the_dashboard_shows_the_balance_and_the_link(client, edition, unit, contact):
    client.force_login(contact)
    assert "points-panel" not in client.get(reverse("registration:home")).content.decode()
    rules(edition, gate_day=5)
    give(unit, 12)
    page = client.get(reverse("registration:home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="points-panel-balance">12<' in page
    assert PAGE in page and "Points and coupons" in page
