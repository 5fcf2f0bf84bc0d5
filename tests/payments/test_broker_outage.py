"""A gateway's notification while the broker is down: the payment commits, the gateway gets
its "success" (no 500 for committed work), and the notices go out once the relay publishes."""

from datetime import timedelta

import pytest
from celery import Celery
from celery.app.task import Task
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from ciie_portal import outbox
from ciie_portal.celery import app
from ciie_portal.models import Notice, OutboxMessage
from payments.models import Payment
from payments.services import payment_create
from tests.payments.factories import open_for_payment, pending_order, signed_notification


@pytest.fixture
def payment(unit, edition):
    unit.contact_mobile, unit.contact_email = "13912345678", "contact@example.com"
    unit.save(update_fields=["contact_mobile", "contact_email"])
    open_for_payment(edition)
    order = pending_order(unit)
    return payment_create(order=order, method="qr_alipay", actor=unit.account)


def _post(client, provider, body, headers):
    return client.post(
        f"/payments/notify/{provider}/", data=body, content_type="application/json",
        headers=headers,
    )  # fmt: skip


def test_a_notification_while_the_broker_is_down_is_answered_and_its_notices_follow(
    client, payment, monkeypatch, django_capture_on_commit_callbacks
):
    def refuse(*args, **kwargs):
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(outbox, "_broker_down_until", 0.0)
    with monkeypatch.context() as down:
        app.conf.task_always_eager = False
        down.setattr(Task, "apply_async", refuse)
        down.setattr(Celery, "send_task", refuse)
        with django_capture_on_commit_callbacks(execute=True):
            response = _post(client, *signed_notification(payment))
        app.conf.task_always_eager = True

    assert response.status_code == 200
    assert response.content == b"success"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CONFIRMED
    notices = Notice.objects.filter(event="payment_received")
    assert {n.status for n in notices} == {Notice.Status.QUEUED}
    assert OutboxMessage.objects.filter(published_at__isnull=True).count() == notices.count() == 2

    # The broker is back: the relay's next round publishes them.
    with django_capture_on_commit_callbacks(execute=True):
        published = outbox.outbox_relay(now=timezone.now() + timedelta(seconds=5))

    assert published == 2
    assert {n.status for n in notices.all()} == {Notice.Status.SENT}


def test_a_repeated_notification_makes_sure_the_orders_notices_exist(
    client, payment, django_capture_on_commit_callbacks
):
    provider, body, headers = signed_notification(payment)
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, provider, body, headers).status_code == 200
    Notice.objects.filter(event="payment_received").delete()

    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, provider, body, headers).status_code == 200

    notices = Notice.objects.filter(event="payment_received")
    assert sorted(n.channel for n in notices) == ["email", "sms"]
    assert {n.status for n in notices} == {Notice.Status.SENT}
