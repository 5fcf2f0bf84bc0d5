"""Payment reminders: an SMS and an email before an unpaid order's window ends and before each
payment method's deadline, once per order and deadline; none for paid orders or orders whose
transfer awaits finance; the unit's next payment deadline on its dashboard in Beijing time.

Time is moved by the services' ``now`` (as the expiry job's tests do): no clock is frozen."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ciie_portal.models import Edition, Notice
from ciie_portal.notices.services import render_notice
from credentials.models import CredentialOrder
from credentials.orders.reminders import payment_reminders_send, unit_next_payment_deadline
from credentials.orders.services import order_mark_paid
from payments.models import Method, Payment
from registration.models import Unit
from tests.credentials.factories import payable_visitor
from tests.payments.factories import open_for_payment, pending_order
from tests.payments.test_statements import (
    _private_media,  # noqa: F401 (autouse fixture)
    awaiting_transfer,
)


@pytest.fixture
def payable(edition):
    return open_for_payment(edition)


@pytest.fixture(autouse=True)
def _contacts(unit):
    Unit.objects.filter(pk=unit.pk).update(
        contact_mobile="13800138000", contact_email="unit@example.com"
    )
    unit.refresh_from_db()


def reminders(order=None):
    notices = Notice.objects.filter(event="payment_reminder")
    if order is not None:
        notices = notices.filter(key__startswith=f"payment-reminder:{order.pk}:")
    return notices


def deadlines(edition, *, transfer, online):
    Edition.objects.filter(pk=edition.pk).update(
        transfer_deadline=transfer, online_payment_deadline=online
    )


def test_the_window_reminder_goes_out_once_at_its_lead_time(payable, unit):
    order = pending_order(unit)
    lead = payable.reminder_before_order_expiry
    assert payment_reminders_send(now=order.expires_at - lead - timedelta(seconds=1)) == 0
    assert not reminders().exists()
    assert payment_reminders_send(now=order.expires_at - lead) == 1
    assert payment_reminders_send(now=order.expires_at - lead + timedelta(seconds=30)) == 0
    sent = reminders(order)
    assert sorted(sent.values_list("channel", flat=True)) == ["email", "sms"]
    assert {n.recipient for n in sent} == {unit.contact_mobile, unit.contact_email}
    # Once the window has ended nothing is sent.
    assert payment_reminders_send(now=order.expires_at + timedelta(seconds=1)) == 0
    assert reminders().count() == 2


def test_the_texts_name_the_order_and_the_time_in_beijing(payable, unit):
    order = pending_order(unit)
    payment_reminders_send(now=order.expires_at - timedelta(minutes=1))
    beijing = timezone.localtime(order.expires_at).strftime("%Y-%m-%d %H:%M")
    for notice in reminders(order):
        notice.language = "en"
        text = render_notice(notice)["text"]
        assert order.number in text and beijing in text and "Beijing time" in text
        notice.language = "zh-hans"
        assert order.number in render_notice(notice)["text"]


def test_each_method_deadline_is_reminded_once_for_orders_open_then(payable, unit):
    # A long window: the order is still open at both deadlines.
    Edition.objects.filter(pk=payable.pk).update(order_payment_window=timedelta(days=10))
    order = pending_order(unit)
    now = timezone.now()
    deadlines(payable, transfer=now + timedelta(days=1), online=now + timedelta(days=3))
    assert payment_reminders_send(now=now) == 1  # the transfer deadline is within 2 days
    assert payment_reminders_send(now=now) == 0
    assert payment_reminders_send(now=now + timedelta(days=1, hours=2)) == 1  # the online one
    assert payment_reminders_send(now=now + timedelta(days=2)) == 0
    keys = sorted(reminders(order).values_list("key", flat=True))
    assert len(keys) == 4
    assert [k.split(":")[2] for k in keys] == ["online", "online", "transfer", "transfer"]


def test_a_deadline_after_the_window_is_not_reminded_for_the_order(payable, unit):
    order = pending_order(unit)  # a 30-minute window
    now = timezone.now()
    deadlines(payable, transfer=now + timedelta(days=1), online=now + timedelta(days=1))
    payment_reminders_send(now=now)
    assert not reminders(order).exists()


def test_no_reminder_for_a_paid_order(payable, unit):
    order = pending_order(unit)
    Payment.objects.create(order=order, method=Method.QR_ALIPAY, amount=order.total)
    order_mark_paid(order=order, actor=None)
    assert payment_reminders_send(now=order.expires_at - timedelta(minutes=1)) == 0
    assert not reminders().exists()


def test_no_reminder_while_a_transfer_awaits_finance(payable, unit):
    payment = awaiting_transfer(unit)
    assert payment_reminders_send(now=payment.order.expires_at - timedelta(minutes=1)) == 0
    assert not reminders().exists()


def test_no_reminder_for_free_visitors(payable, unit):
    """A visitor without a fee never gets an order (``order_create`` refuses one of 0): the
    only orders reminded carry a fee; an order of 0 in the database is not reminded either."""
    order = CredentialOrder.objects.create(
        edition=payable,
        unit=unit,
        number="V20261001120000000000001",
        total=0,
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    assert payment_reminders_send(now=order.expires_at - timedelta(minutes=1)) == 0


def test_the_dashboard_shows_the_next_deadline_in_beijing_time(payable, unit):
    order = pending_order(unit)
    found = unit_next_payment_deadline(unit)
    assert found == {"at": order.expires_at, "kind": "window", "number": order.number}
    client = Client()
    client.force_login(unit.account)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("registration:home")).content.decode()
    beijing = timezone.localtime(order.expires_at).strftime("%Y-%m-%d %H:%M")
    assert 'id="next-payment-deadline"' in page and beijing in page
    assert "Your unpaid credential order closes at" in page


def test_the_dashboard_shows_a_method_deadline_when_nothing_is_ordered_yet(payable, unit):
    payable_visitor(unit)
    found = unit_next_payment_deadline(unit)
    assert found["kind"] in ("transfer", "online") and found["at"] > timezone.now()


def test_no_deadline_for_another_units_order_or_when_nothing_is_owed(payable, unit, other_unit):
    pending_order(other_unit)
    assert unit_next_payment_deadline(unit) is None
    client = Client()
    client.force_login(unit.account)
    page = client.get(reverse("registration:home")).content.decode()
    assert 'id="next-payment-deadline"' not in page


def test_an_unpaid_order_whose_visitors_were_all_cancelled_keeps_its_deadline(payable, unit):
    """A cancelled visitor keeps its line in an unpaid order (注销): the order can still be
    paid, so the dashboard still names when it closes — although no visitor awaits payment."""
    from credentials.review.cancellation import visitors_cancel
    from registration.models import Visitor

    order = pending_order(unit)
    visitors_cancel(visitors=Visitor.objects.filter(unit=unit), actor=unit.account)
    assert not unit.visitors.filter(status=Visitor.Status.PENDING_PAYMENT).exists()
    client = Client()
    client.force_login(unit.account)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("registration:home")).content.decode()
    beijing = timezone.localtime(order.expires_at).strftime("%Y-%m-%d %H:%M")
    assert 'id="next-payment-deadline"' in page and beijing in page
