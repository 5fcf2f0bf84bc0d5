"""Payments' operational figures (payments/ops_figures.py) as money arrives, and their scope: a
delegation sees its own units' part (with its sub-delegations'), never another's."""

import datetime
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from ciie_portal.ops.figures import Scope, admin_url_of, figures, snapshot
from payments.models import Method, PaymentNotification
from payments.refunds import refunds_request
from payments.services import (
    payment_create,
    payment_notification_handle,
    transfer_remittance_submit,
)
from registration.models import VISITOR_STATES, Visitor
from tests.payments.factories import open_for_payment, pending_order, signed_notification
from tests.scrape import scrape, value


@pytest.fixture(autouse=True)
def _private_media(private_media):
    return private_media


def _notify(payment, **changes):
    provider, body, headers = signed_notification(payment, **changes)
    return payment_notification_handle(provider=provider, body=body, headers=headers)


def _qr_payment(unit):
    open_for_payment(unit.edition)
    return payment_create(order=pending_order(unit), method=Method.QR_ALIPAY, actor=unit.account)


def _figure(values, name, **labels):
    [sample] = [sample for sample in values[name] if sample.labels == labels]
    return sample.value


def test_a_flagged_payment_shows_in_the_figures_and_on_metrics(client, unit):
    payment = _qr_payment(unit)
    before = snapshot(Scope(None))
    assert _figure(before, "payments_flagged") == 0
    assert _figure(before, "payment_notifications_last_hour", result="flagged") == 0

    assert _notify(payment, amount="1.00").result == PaymentNotification.Result.FLAGGED
    after = snapshot(Scope(None))
    assert _figure(after, "payments_flagged") == 1
    assert _figure(after, "payment_notifications_last_hour", result="flagged") == 1
    assert _figure(after, "payment_notifications_last_hour", result="confirmed") == 0

    scraped = scrape(client)
    assert value(scraped, "ciie_payments_flagged") == 1
    assert value(scraped, "ciie_payment_notifications_last_hour", result="flagged") == 1


def test_notifications_are_counted_for_the_last_hour_only(unit, other_unit):
    first, second = _qr_payment(unit), _qr_payment(other_unit)
    _notify(first)
    PaymentNotification.objects.update(received_at=timezone.now() - timedelta(hours=2))
    _notify(second)
    values = snapshot(Scope(None))
    assert _figure(values, "payment_notifications_last_hour", result="confirmed") == 1


def test_the_figures_of_a_delegation_are_its_own(unit, other_unit, guangzhou, guangdong):
    """``unit`` belongs to 广州 (a sub-delegation of 广东); ``other_unit`` to 浙江."""
    _notify(_qr_payment(unit), amount="1.00")
    _notify(_qr_payment(other_unit), amount="2.00")
    _notify(_qr_payment(other_unit), amount="3.00")

    assert _figure(snapshot(Scope(None)), "payments_flagged") == 3
    own = snapshot(Scope(None, delegation_id=guangzhou.pk))
    assert _figure(own, "payments_flagged") == 1
    assert _figure(own, "payment_notifications_last_hour", result="flagged") == 1
    # The trade delegation sees its sub-delegations' part.
    assert _figure(snapshot(Scope(None, delegation_id=guangdong.pk)), "payments_flagged") == 1
    other = snapshot(Scope(None, delegation_id=other_unit.delegation_id))
    assert _figure(other, "payments_flagged") == 2
    assert _figure(other, "payment_notifications_last_hour", result="flagged") == 2
    # The whole portal's figures (queues, notices, production) are not a delegation's to see.
    assert "celery_queue_length" not in own
    assert "notices" not in own
    assert set(own) == {figure.name for figure in figures() if figure.scoped}


def test_transfers_awaiting_finance_and_open_refunds(unit, other_unit, contact, guangzhou):
    open_for_payment(unit.edition)
    order = pending_order(unit)
    transfer_remittance_submit(
        order=order,
        actor=unit.account,
        remittance={
            "payer_kind": "unit",
            "payer_name": unit.name,
            "bank_branch": "工商银行广州分行",
            "phone": "020-12345678",
            "account_number": "6222020202020202",
            "amount": order.total,
            "remitted_on": datetime.date.today(),
            "voucher": SimpleUploadedFile("v.pdf", b"%PDF-1.4\n%%EOF\n"),
        },
    )
    values = snapshot(Scope(None))
    assert _figure(values, "transfers_awaiting_finance") == 1
    assert _figure(values, "refunds_open", state="requested") == 0

    paid = _qr_payment(unit)
    _notify(paid)
    line = paid.order.lines.get()
    VISITOR_STATES.move(line.visitor, Visitor.Status.REVIEW_FAILED, actor=None, reason="背审")
    refunds_request(unit=unit, line_ids=[line.pk], actor=contact)

    values = snapshot(Scope(None))
    assert _figure(values, "refunds_open", state="requested") == 1
    assert _figure(values, "refunds_open", state="refunding") == 0
    other = snapshot(Scope(None, delegation_id=other_unit.delegation_id))
    assert _figure(other, "refunds_open", state="requested") == 0
    assert _figure(other, "transfers_awaiting_finance") == 0
    assert (
        _figure(
            snapshot(Scope(None, delegation_id=guangzhou.pk)), "refunds_open", state="requested"
        )
        == 1
    )


def test_the_admin_links_list_what_the_figures_count(client, unit, finance):
    payment = _qr_payment(unit)
    _notify(payment, amount="1.00")
    by_name = {figure.name: figure for figure in figures()}
    client.force_login(finance)
    url = admin_url_of(by_name["payments_flagged"], Scope(None))
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    awaiting = client.get(admin_url_of(by_name["transfers_awaiting_finance"], Scope(None)))
    assert awaiting.status_code == 200
    assert awaiting.context["cl"].result_count == 0
    refunds = client.get(admin_url_of(by_name["refunds_open"], Scope(None)))
    assert refunds.status_code == 200
