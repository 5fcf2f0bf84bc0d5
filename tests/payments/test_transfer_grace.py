"""Finance's grace for bank transfers: an order whose remittance was submitted in time is not
closed until finance decides (within the edition's grace), and a transfer the bank booked on or
before the deadline pays its order even when it is matched later — also a closed one; money
booked after the deadline, or matched after the grace, is flagged."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ciie_portal.models import Edition
from credentials.models import CredentialOrder
from credentials.orders.services import order_create, orders_expire
from payments.models import Payment, StatementEntry
from payments.services import transfer_confirm, transfer_reject
from registration.models import Visitor
from tests.payments.factories import open_for_payment, pending_order
from tests.payments.test_statements import (
    _in_english,  # noqa: F401 (autouse fixture)
    _private_media,  # noqa: F401 (autouse fixture)
    awaiting_transfer,
    csv_file,
    fresh,
    imported,
    row,
)

S = CredentialOrder.Status
M = StatementEntry.Match


@pytest.fixture
def payable(edition):
    return open_for_payment(edition)


def set_deadline(edition, deadline, grace_days=3):
    Edition.objects.filter(pk=edition.pk).update(
        transfer_deadline=deadline, transfer_grace_days=grace_days
    )


def day(value):
    return timezone.localdate(value).isoformat()


# --- Held open while finance decides -----------------------------------------------------------


def test_a_remittance_in_time_keeps_its_order_open_until_finance_decides(payable, unit, finance):
    payment = awaiting_transfer(unit)
    order = payment.order
    # The transfer deadline passes, the window has long ended; finance is still within grace.
    set_deadline(payable, timezone.now() - timedelta(hours=1), grace_days=3)
    assert orders_expire(now=timezone.now()) == 0
    assert fresh(order).status == S.PENDING_PAYMENT
    # Finance confirms the next morning: the order is paid.
    assert transfer_confirm(payment_id=payment.pk, actor=finance) == "confirmed"
    assert fresh(order).status == S.PAID


def test_once_finance_refuses_the_order_closes(payable, unit, finance):
    payment = awaiting_transfer(unit)
    assert orders_expire(now=payment.order.expires_at + timedelta(minutes=1)) == 0
    transfer_reject(payment_id=payment.pk, actor=finance, reason="查无此款")
    assert orders_expire(now=payment.order.expires_at + timedelta(minutes=1)) == 1
    assert fresh(payment.order).status == S.CLOSED


def test_after_the_grace_the_held_order_closes_and_late_confirmation_is_flagged(
    payable, unit, finance
):
    payment = awaiting_transfer(unit)
    order = payment.order
    set_deadline(payable, timezone.now() - timedelta(days=4), grace_days=3)
    # Confirming after the grace (the order not yet closed by the job): flagged, not accepted.
    later = order.expires_at + timedelta(minutes=1)
    assert transfer_confirm(payment_id=payment.pk, actor=finance, now=later) == "flagged"
    assert fresh(order).status == S.PENDING_PAYMENT
    payment = fresh(payment)
    assert payment.flagged and "grace" in payment.flag_reason
    assert payment.status == Payment.Status.CREATED
    assert orders_expire(now=later) == 1
    assert fresh(order).status == S.CLOSED


def test_a_remittance_submitted_after_the_deadline_holds_nothing(payable, unit):
    """Submitted after the deadline is refused at submission; one recorded late by whatever
    way still holds no order (the rule is in the query, not in the form)."""
    payment = awaiting_transfer(unit)
    set_deadline(payable, payment.remittance.submitted_at - timedelta(minutes=1), grace_days=3)
    assert orders_expire(now=payment.order.expires_at + timedelta(minutes=1)) == 1


# --- Statement value dates on both sides of the deadline ---------------------------------------


def test_a_transfer_booked_on_the_deadline_day_pays_its_remittance_order_later(
    payable, unit, finance
):
    payment = awaiting_transfer(unit)
    deadline = timezone.now() - timedelta(hours=2)
    set_deadline(payable, deadline)
    report = imported(csv_file([row(payment.order, on=day(deadline))]), finance)
    assert report.matching.confirmed == 1
    assert fresh(payment.order).status == S.PAID


def test_a_transfer_booked_after_the_deadline_is_flagged(payable, unit, finance):
    payment = awaiting_transfer(unit)
    deadline = timezone.now() - timedelta(days=2)
    set_deadline(payable, deadline)
    report = imported(csv_file([row(payment.order, on=day(deadline + timedelta(days=1)))]), finance)
    assert report.matching.confirmed == 0
    assert fresh(payment.order).status == S.PENDING_PAYMENT
    payment = fresh(payment)
    assert payment.flagged and "deadline" in payment.flag_reason
    assert StatementEntry.objects.get().match == M.UNMATCHED  # still finance's queue


def test_a_closed_order_is_paid_by_money_booked_in_time_within_the_grace(payable, unit, finance):
    order = pending_order(unit)
    assert orders_expire(now=order.expires_at) == 1
    set_deadline(payable, timezone.now() - timedelta(hours=1), grace_days=3)
    report = imported(csv_file([row(order, on=day(order.created_at))]), finance)
    assert report.matching.confirmed == 1
    order = fresh(order)
    assert order.status == S.PAID and order.closed_at is not None
    assert order.lines.filter(open=True).count() == 1
    assert Visitor.objects.get(order_lines__order=order).status == Visitor.Status.PENDING_REVIEW
    assert Payment.objects.get(order=order).status == Payment.Status.CONFIRMED


def test_a_closed_order_is_not_reopened_after_the_grace(payable, unit, finance):
    order = pending_order(unit)
    orders_expire(now=order.expires_at)
    set_deadline(payable, timezone.now() - timedelta(days=5), grace_days=3)
    report = imported(csv_file([row(order, on=day(order.created_at))]), finance)
    assert report.matching.flagged == 1 and report.matching.confirmed == 0
    assert fresh(order).status == S.CLOSED
    flagged = Payment.objects.get(order=order)
    assert flagged.flagged and flagged.status == Payment.Status.FAILED


def test_a_closed_order_whose_visitors_were_ordered_again_is_not_reopened(payable, unit, finance):
    order = pending_order(unit)
    orders_expire(now=order.expires_at)
    visitor = Visitor.objects.get(order_lines__order=order)
    again = order_create(unit=unit, visitor_ids=[visitor.pk], actor=unit.account)
    report = imported(csv_file([row(order, on=day(order.created_at))]), finance)
    assert report.matching.flagged == 1
    assert fresh(order).status == S.CLOSED
    assert fresh(again).status == S.PENDING_PAYMENT
    assert "ordered again" in Payment.objects.get(order=order).flag_reason


def test_money_booked_after_the_window_day_does_not_reopen(payable, unit, finance):
    order = pending_order(unit)
    orders_expire(now=order.expires_at)
    report = imported(csv_file([row(order, on=day(order.expires_at + timedelta(days=1)))]), finance)
    assert report.matching.flagged == 1
    assert fresh(order).status == S.CLOSED


@pytest.mark.parametrize("twice", [False, True])
def test_a_statement_imported_twice_pays_a_closed_order_once(payable, unit, finance, twice):
    order = pending_order(unit)
    orders_expire(now=order.expires_at)
    content = [row(order, on=day(order.created_at), number="B1")]
    imported(csv_file(content), finance)
    if twice:
        imported(csv_file(content, name="again.csv"), finance)
    assert Payment.objects.filter(order=order, status=Payment.Status.CONFIRMED).count() == 1
    assert fresh(order).status == S.PAID
