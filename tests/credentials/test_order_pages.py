from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credentials.models import CredentialOrder
from registration.models import Label, Visitor
from tests.credentials.factories import order_with_lines, payable_visitor, reusing_visitor

S = CredentialOrder.Status


@pytest.fixture
def signed_in(client, contact):
    client.force_login(contact)
    return client


def test_the_pages_need_a_login(client, unit):
    order = order_with_lines(unit)
    for url in (
        "/accounts/orders/",
        "/accounts/orders/new/",
        f"/accounts/orders/{order.number}/",
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login" in response["Location"]
    client.post(f"/accounts/orders/{order.number}/cancel/")
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT


# --- 提交办证(付费) ------------------------------------------------------------------------------


def test_the_new_order_page_lists_the_units_visitors_awaiting_payment_with_fees(
    signed_in, unit, other_unit
):
    full = payable_visitor(unit, name="张全价")
    reuse = reusing_visitor(unit, name="李复用")
    payable_visitor(unit, name="王审核", status=Visitor.Status.PENDING_REVIEW)
    payable_visitor(other_unit, name="赵别家")
    response = signed_in.get("/accounts/orders/new/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "张全价" in page and "李复用" in page
    assert "王审核" not in page and "赵别家" not in page
    assert f'value="{full.pk}"' in page and f'value="{reuse.pk}"' in page
    assert 'data-fee="200.00"' in page and 'data-fee="100.00"' in page
    assert full.id_number_masked in page
    assert full.id_number not in page


def test_a_visitor_already_in_an_open_order_cannot_be_ticked(signed_in, unit):
    order = order_with_lines(unit)
    visitor = order.lines.get().visitor
    page = signed_in.get("/accounts/orders/new/").content.decode()
    assert visitor.name in page
    assert f'value="{visitor.pk}"' not in page
    assert f"/accounts/orders/{order.number}/" in page


def test_submitting_makes_the_order_and_shows_it(signed_in, unit, contact):
    visitors = [payable_visitor(unit), payable_visitor(unit, label=Label.VIP)]
    response = signed_in.post(
        "/accounts/orders/new/", {"visitors": [v.pk for v in visitors]}, follow=True
    )
    order = CredentialOrder.objects.get(unit=unit)
    assert response.redirect_chain == [(f"/accounts/orders/{order.number}/", 302)]
    assert order.total == Decimal("200.00")
    assert order.created_by == contact
    page = response.content.decode()
    assert order.number in page
    assert "¥200.00" in page and "¥0.00" in page
    assert all(v.name in page for v in visitors)
    assert 'id="payment-countdown"' in page
    assert 'id="payment-methods"' in page
    assert f'action="/accounts/orders/{order.number}/cancel/"' in page


def test_submitting_a_visitor_already_ordered_is_refused_next_to_the_list(signed_in, unit):
    ordered = order_with_lines(unit).lines.get().visitor
    fresh = payable_visitor(unit)
    response = signed_in.post("/accounts/orders/new/", {"visitors": [ordered.pk, fresh.pk]})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert CredentialOrder.objects.count() == 1


def test_submitting_when_another_request_ordered_first_names_the_visitor(
    signed_in, unit, monkeypatch
):
    visitor = payable_visitor(unit, name="孙并发")
    # The page was read before the other request made its order.
    from credentials.orders import views

    stale = views.payable_visitors(unit)
    monkeypatch.setattr(views, "payable_visitors", lambda unit: stale)
    from credentials.orders.services import order_create

    first = order_create(unit=unit, visitor_ids=[visitor.pk], actor=None)
    response = signed_in.post("/accounts/orders/new/", {"visitors": [visitor.pk]})
    assert response.status_code == 200
    page = response.content.decode()
    assert "孙并发" in page and first.number in page
    assert CredentialOrder.objects.filter(lines__visitor=visitor).count() == 1


def test_another_units_visitor_cannot_be_submitted(signed_in, unit, other_unit):
    theirs = payable_visitor(other_unit)
    response = signed_in.post("/accounts/orders/new/", {"visitors": [theirs.pk]})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not CredentialOrder.objects.exists()


def test_submitting_nothing_is_refused(signed_in, unit):
    payable_visitor(unit)
    response = signed_in.post("/accounts/orders/new/", {})
    assert response.context["form"].errors
    assert not CredentialOrder.objects.exists()


# --- Order detail and cancel ------------------------------------------------------------------


def test_the_detail_counts_down_what_the_server_says_is_left(signed_in, unit):
    order = order_with_lines(unit, expires_at=timezone.now() + timedelta(minutes=4, seconds=5))
    page = signed_in.get(f"/accounts/orders/{order.number}/").content.decode()
    seconds = int(page.split('data-seconds="')[1].split('"')[0])
    assert 240 <= seconds <= 245


def test_a_pending_order_past_its_window_offers_no_countdown(signed_in, unit):
    order = order_with_lines(unit, expires_at=timezone.now() - timedelta(seconds=1))
    page = signed_in.get(f"/accounts/orders/{order.number}/").content.decode()
    assert 'id="payment-countdown"' not in page
    assert 'id="payment-ended"' in page


def test_a_paid_order_shows_no_cancel_button(signed_in, unit):
    order = order_with_lines(unit, status=S.PAID, paid_at=timezone.now())
    page = signed_in.get(f"/accounts/orders/{order.number}/").content.decode()
    assert order.number in page
    assert "/cancel/" not in page
    assert 'id="payment-countdown"' not in page


def test_the_unit_cancels_its_order(signed_in, unit):
    order = order_with_lines(unit, lines=2)
    response = signed_in.post(f"/accounts/orders/{order.number}/cancel/")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/orders/{order.number}/"
    order.refresh_from_db()
    assert order.status == S.CANCELLED
    assert not order.lines.filter(open=True).exists()


def test_cancelling_a_paid_order_is_refused_with_a_message(signed_in, unit):
    order = order_with_lines(unit, status=S.PAID)
    response = signed_in.post(f"/accounts/orders/{order.number}/cancel/", follow=True)
    assert order.number in response.content.decode()
    order.refresh_from_db()
    assert order.status == S.PAID


def test_cancel_needs_a_post(signed_in, unit):
    order = order_with_lines(unit)
    assert signed_in.get(f"/accounts/orders/{order.number}/cancel/").status_code == 405
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT


def test_another_units_order_does_not_exist_for_the_contact(client, other_contact, unit):
    order = order_with_lines(unit)
    client.force_login(other_contact)
    assert client.get(f"/accounts/orders/{order.number}/").status_code == 404
    assert client.post(f"/accounts/orders/{order.number}/cancel/").status_code == 404
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT
    listing = client.get("/accounts/orders/").content.decode()
    assert order.number not in listing


def test_an_unknown_order_number_is_404(signed_in, unit):
    assert signed_in.get("/accounts/orders/V00000000000000000000000/").status_code == 404


# --- The order list ---------------------------------------------------------------------------


@pytest.fixture
def orders_of_each_state(unit):
    return {
        status: order_with_lines(unit, status=status)
        for status in (S.PENDING_PAYMENT, S.PAID, S.CANCELLED, S.CLOSED)
    }


@pytest.mark.parametrize(
    ("tab", "shown"),
    [
        ("all", {S.PENDING_PAYMENT, S.PAID, S.CANCELLED, S.CLOSED}),
        ("unpaid", {S.PENDING_PAYMENT}),
        ("paid", {S.PAID}),
        ("refund", set()),
        ("nonsense", {S.PENDING_PAYMENT, S.PAID, S.CANCELLED, S.CLOSED}),
    ],
)
def test_the_tabs_filter_the_orders(signed_in, orders_of_each_state, tab, shown):
    page = signed_in.get(f"/accounts/orders/?tab={tab}").content.decode()
    listed = {status for status, order in orders_of_each_state.items() if order.number in page}
    assert listed == shown


def test_the_list_shows_each_orders_lines_and_total(signed_in, unit):
    order = order_with_lines(unit, lines=2)
    page = signed_in.get("/accounts/orders/").content.decode()
    assert order.number in page
    assert (
        order.created_at.astimezone(timezone.get_current_timezone()).strftime("%Y-%m-%d %H:%M:%S")
        in page
    )
    for line in order.lines.select_related("visitor"):
        assert line.visitor.name in page
        assert line.visitor.id_number_masked in page
        assert line.visitor.id_number not in page
    assert "¥400.00" in page


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/accounts/orders/")
    assert response.status_code == 200
    return len(queries)


def test_the_list_costs_the_same_queries_for_1_or_50_orders(
    signed_in, unit, django_assert_max_num_queries
):
    order_with_lines(unit, lines=2)
    _list_queries(signed_in)  # the current edition read into the shared cache first
    one = _list_queries(signed_in)
    for _ in range(49):
        order_with_lines(unit, lines=2)
    with django_assert_max_num_queries(one):
        page = signed_in.get("/accounts/orders/").content.decode()
    assert page.count('class="card mb-3 order"') == 20  # first page of 50
    assert _list_queries(signed_in) == one
