import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ciie_portal.models import AuditEntry, Notice
from credentials.models import CredentialOrder, OrderLine
from credentials.orders.models import new_order_number
from credentials.orders.selectors import visitor_has_open_order
from credentials.orders.services import order_cancel, order_create, order_mark_paid, orders_expire
from credentials.tasks import orders_expire_task
from registration.models import Label, Visitor
from tests.ciie_portal.factories import SHANGHAI
from tests.credentials.factories import (
    CredentialOrderFactory,
    order_with_lines,
    payable_visitor,
    reusing_visitor,
)

S = CredentialOrder.Status
V = Visitor.Status


def ids(*visitors):
    return [v.pk for v in visitors]


# --- Creating ---------------------------------------------------------------------------------


def test_it_makes_one_order_with_a_line_per_visitor(unit, contact, edition):
    first, second = payable_visitor(unit), reusing_visitor(unit)
    vip = payable_visitor(unit, label=Label.VIP)
    before = timezone.now()
    order = order_create(unit=unit, visitor_ids=ids(first, second, vip), actor=contact)
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT
    assert (order.unit, order.edition, order.created_by) == (unit, edition, contact)
    assert order.total == Decimal("300.00")
    assert order.expires_at == order.created_at + edition.order_payment_window
    assert before <= order.created_at <= timezone.now()
    lines = {line.visitor_id: line for line in order.lines.all()}
    assert {pk: line.fee for pk, line in lines.items()} == {
        first.pk: Decimal("200.00"),
        second.pk: Decimal("100.00"),
        vip.pk: Decimal("0.00"),
    }
    assert lines[first.pk].label == Label.VISITOR
    assert lines[vip.pk].label == Label.VIP
    assert lines[first.pk].entry_period == edition.entry_periods.first()
    assert lines[first.pk].pickup == "courier"
    assert all(line.open for line in lines.values())
    # Ordering does not change the visitors: they stay 待支付 until paid.
    assert set(Visitor.objects.filter(unit=unit).values_list("status", flat=True)) == {
        V.PENDING_PAYMENT
    }
    entry = AuditEntry.objects.get(action="order.create")
    assert (entry.actor, entry.object_id, entry.to_state) == (
        contact,
        str(order.pk),
        S.PENDING_PAYMENT,
    )
    assert entry.data == {"visitors": sorted(ids(first, second, vip)), "total": "300.00"}


def test_the_order_number_is_v_then_shanghai_time_to_the_millisecond_then_six_digits(unit, contact):
    order = order_create(unit=unit, visitor_ids=ids(payable_visitor(unit)), actor=contact)
    assert re.fullmatch(r"V\d{17}\d{6}", order.number)
    local = order.created_at.astimezone(SHANGHAI)
    assert order.number[1:18] == local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"


def test_order_numbers_follow_the_organisers_example():
    moment = datetime(2020, 5, 12, 15, 3, 13, 594000, tzinfo=UTC)
    number = new_order_number(moment)
    assert number.startswith("V20200512230313594")  # 23:03:13.594 in Shanghai
    assert len(number) == len("V20200512230313594063001")


def test_order_numbers_are_unique_in_the_database(unit):
    CredentialOrderFactory(unit=unit, number="V20200512230313594063001")
    with pytest.raises(IntegrityError), transaction.atomic():
        CredentialOrderFactory(unit=unit, number="V20200512230313594063001")


def test_it_draws_another_number_when_one_is_taken(unit, contact, monkeypatch):
    CredentialOrderFactory(unit=unit, number="V20200512230313594063001")
    draws = iter(["V20200512230313594063001", "V20200512230313594063002"])
    monkeypatch.setattr(
        "credentials.orders.services.new_order_number", lambda now=None: next(draws)
    )
    order = order_create(unit=unit, visitor_ids=ids(payable_visitor(unit)), actor=contact)
    assert order.number == "V20200512230313594063002"


def test_it_refuses_visitors_that_are_not_awaiting_payment_and_names_them(unit, contact):
    payable = payable_visitor(unit)
    in_review = payable_visitor(unit, name="张审核", status=V.PENDING_REVIEW)
    saved = payable_visitor(unit, name="李保存", status=V.SAVED)
    with pytest.raises(ValidationError) as error:
        order_create(unit=unit, visitor_ids=ids(payable, in_review, saved), actor=contact)
    assert "张审核" in str(error.value) and "李保存" in str(error.value)
    assert not CredentialOrder.objects.exists()


def test_it_refuses_visitors_without_entry_days(unit, contact):
    with pytest.raises(ValidationError) as error:
        order_create(
            unit=unit,
            visitor_ids=ids(payable_visitor(unit, name="赵无日", entry_period=None)),
            actor=contact,
        )
    assert "赵无日" in str(error.value)
    assert not CredentialOrder.objects.exists()


def test_it_refuses_another_units_visitors(unit, other_unit, contact):
    theirs = payable_visitor(other_unit)
    with pytest.raises(ValidationError):
        order_create(unit=unit, visitor_ids=ids(payable_visitor(unit), theirs), actor=contact)
    assert not CredentialOrder.objects.exists()


def test_it_refuses_an_order_of_nothing_but_free_visitors(unit, contact):
    vip = payable_visitor(unit, label=Label.VIP, name="贵宾甲")
    staff = payable_visitor(unit, label=Label.STAFF, name="工作乙")
    with pytest.raises(ValidationError) as error:
        order_create(unit=unit, visitor_ids=ids(vip, staff), actor=contact)
    assert "贵宾甲" in str(error.value)
    assert not CredentialOrder.objects.exists()


def test_it_refuses_an_empty_selection(unit, contact):
    with pytest.raises(ValidationError):
        order_create(unit=unit, visitor_ids=[], actor=contact)


# --- One open order per visitor ---------------------------------------------------------------


def test_a_visitor_in_an_open_order_is_refused_by_the_service(unit, contact):
    visitor = payable_visitor(unit, name="钱已订")
    first = order_create(unit=unit, visitor_ids=ids(visitor), actor=contact)
    with pytest.raises(ValidationError) as error:
        order_create(unit=unit, visitor_ids=ids(visitor, payable_visitor(unit)), actor=contact)
    assert "钱已订" in str(error.value)
    assert first.number in str(error.value)
    assert CredentialOrder.objects.count() == 1


def test_a_visitor_in_an_open_order_is_refused_by_the_database(unit, contact):
    visitor = payable_visitor(unit)
    first = order_create(unit=unit, visitor_ids=ids(visitor), actor=contact)
    second = CredentialOrderFactory(unit=unit)
    line = first.lines.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderLine.objects.create(
            order=second,
            visitor=visitor,
            label=line.label,
            entry_period=line.entry_period,
            fee=line.fee,
        )
    # A closed line does not count: history may hold many.
    OrderLine.objects.create(
        order=second, visitor=visitor, label="visitor", entry_period=line.entry_period,
        fee=line.fee, open=False,
    )  # fmt: skip
    assert OrderLine.objects.filter(visitor=visitor).count() == 2


def test_visitor_has_open_order_follows_the_order(unit, contact):
    visitor = payable_visitor(unit)
    assert not visitor_has_open_order(visitor.pk)
    order = order_create(unit=unit, visitor_ids=ids(visitor), actor=contact)
    assert visitor_has_open_order(visitor.pk)
    order_cancel(order=order, actor=contact)
    assert not visitor_has_open_order(visitor.pk)
    paid = order_create(unit=unit, visitor_ids=ids(visitor), actor=contact)
    order_mark_paid(order=paid, actor=None)
    assert visitor_has_open_order(visitor.pk)


# --- Cancelling -------------------------------------------------------------------------------


def test_a_cancelled_orders_visitors_can_be_ordered_again(unit, contact):
    visitors = [payable_visitor(unit), payable_visitor(unit)]
    order = order_create(unit=unit, visitor_ids=ids(*visitors), actor=contact)
    order_cancel(order=order, actor=contact)
    order.refresh_from_db()
    assert order.status == S.CANCELLED
    assert order.closed_at is not None
    assert not order.lines.filter(open=True).exists()
    assert set(Visitor.objects.filter(unit=unit).values_list("status", flat=True)) == {
        V.PENDING_PAYMENT
    }
    again = order_create(unit=unit, visitor_ids=ids(*visitors), actor=contact)
    assert again.pk != order.pk
    entry = AuditEntry.objects.get(action="order.cancelled")
    assert (entry.from_state, entry.to_state, entry.actor) == (
        S.PENDING_PAYMENT,
        S.CANCELLED,
        contact,
    )


def test_only_an_unpaid_order_can_be_cancelled(unit, contact):
    order = order_create(unit=unit, visitor_ids=ids(payable_visitor(unit)), actor=contact)
    order_mark_paid(order=order, actor=None)
    with pytest.raises(ValidationError):
        order_cancel(order=order, actor=contact)
    order.refresh_from_db()
    assert order.status == S.PAID
    assert order.lines.get().open


# --- Closing when the payment window ends -----------------------------------------------------


def test_it_closes_only_orders_past_their_payment_window(unit, contact, edition):
    late, on_time = payable_visitor(unit), payable_visitor(unit)
    expired = order_create(unit=unit, visitor_ids=ids(late), actor=contact)
    current = order_create(unit=unit, visitor_ids=ids(on_time), actor=contact)
    paid = order_with_lines(unit, status=S.PAID, expires_at=timezone.now() - timedelta(seconds=1))
    assert expired.expires_at < current.expires_at
    assert orders_expire(now=expired.expires_at) == 1  # expired's window has just ended
    statuses = dict(CredentialOrder.objects.values_list("pk", "status"))
    assert statuses == {expired.pk: S.CLOSED, current.pk: S.PENDING_PAYMENT, paid.pk: S.PAID}
    assert not expired.lines.filter(open=True).exists()
    assert current.lines.get().open
    assert Visitor.objects.get(pk=late.pk).status == V.PENDING_PAYMENT
    entry = AuditEntry.objects.get(action="order.closed")
    assert (entry.object_id, entry.actor_repr) == (str(expired.pk), "system")
    # Its visitor can be ordered again; running again closes nothing more.
    order_create(unit=unit, visitor_ids=ids(late), actor=contact)
    assert orders_expire() == 0


def test_it_closes_orders_at_a_given_time(unit, contact, edition):
    order = order_create(unit=unit, visitor_ids=ids(payable_visitor(unit)), actor=contact)
    assert orders_expire(now=order.expires_at - timedelta(seconds=1)) == 0
    assert orders_expire(now=order.expires_at) == 1


def test_it_closes_many_orders_in_batches(unit, monkeypatch):
    monkeypatch.setattr("credentials.orders.services.EXPIRE_BATCH", 3)
    past = timezone.now() - timedelta(minutes=1)
    orders = [order_with_lines(unit, expires_at=past) for _ in range(7)]
    assert orders_expire() == 7
    assert set(CredentialOrder.objects.values_list("status", flat=True)) == {S.CLOSED}
    assert not OrderLine.objects.filter(order__in=orders, open=True).exists()
    assert AuditEntry.objects.filter(action="order.closed").count() == 7


def test_the_expiry_task_closes_expired_orders(unit):
    order = order_with_lines(unit, expires_at=timezone.now() - timedelta(minutes=1))
    assert orders_expire_task.apply().get() == 1
    order.refresh_from_db()
    assert order.status == S.CLOSED
    assert orders_expire_task.apply().get() == 0


# --- Paid -------------------------------------------------------------------------------------


@pytest.fixture
def reachable_unit(unit):
    unit.contact_mobile = "13800001111"
    unit.contact_email = "contact@example.com"
    unit.save()
    return unit


def test_a_paid_orders_visitors_await_review_and_the_unit_is_told_once(reachable_unit, contact):
    unit = reachable_unit
    visitors = [payable_visitor(unit), payable_visitor(unit)]
    bystander = payable_visitor(unit)
    order = order_create(unit=unit, visitor_ids=ids(*visitors), actor=contact)
    paid_at = timezone.now()
    order_mark_paid(order=order, actor="payment-gateway", paid_at=paid_at)
    order_mark_paid(order=order, actor="payment-gateway")  # the notification came twice
    order.refresh_from_db()
    assert order.status == S.PAID
    assert order.paid_at == paid_at
    assert set(Visitor.objects.filter(pk__in=ids(*visitors)).values_list("status", flat=True)) == {
        V.PENDING_REVIEW
    }
    assert Visitor.objects.get(pk=bystander.pk).status == V.PENDING_PAYMENT
    notices = Notice.objects.filter(event="payment_received")
    assert sorted(notices.values_list("channel", "recipient")) == [
        ("email", "contact@example.com"),
        ("sms", "13800001111"),
    ]
    assert notices.first().params["number"] == order.number
    assert AuditEntry.objects.filter(action="order.paid").count() == 1
    assert AuditEntry.objects.filter(action="visitor.pending_review").count() == 2


def test_the_payment_notice_renders(reachable_unit, contact):
    from ciie_portal.notices.services import render_notice

    order = order_create(
        unit=reachable_unit, visitor_ids=ids(payable_visitor(reachable_unit)), actor=contact
    )
    order_mark_paid(order=order, actor=None)
    for notice in Notice.objects.filter(event="payment_received"):
        text = render_notice(notice)["text"]
        assert order.number in text
        assert "200.00" in text
        assert reachable_unit.name in text


def test_a_cancelled_or_closed_order_cannot_be_marked_paid(unit, contact):
    visitor = payable_visitor(unit)
    order = order_create(unit=unit, visitor_ids=ids(visitor), actor=contact)
    order_cancel(order=order, actor=contact)
    with pytest.raises(ValidationError):
        order_mark_paid(order=order, actor=None)
    assert Visitor.objects.get(pk=visitor.pk).status == V.PENDING_PAYMENT
    assert not Notice.objects.filter(event="payment_received").exists()


def test_it_refuses_an_order_of_visitors_their_delegation_pays_for(unit, contact):
    free = payable_visitor(unit, paid_by_delegation=True, name="代付丙")
    with pytest.raises(ValidationError) as error:
        order_create(unit=unit, visitor_ids=ids(free), actor=contact)
    assert "代付丙" in str(error.value)
