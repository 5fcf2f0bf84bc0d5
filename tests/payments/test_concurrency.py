import threading

import pytest
from django.db import connection

from ciie_portal.models import AuditEntry, Notice
from credentials.models import CredentialOrder
from payments.models import Payment, PaymentNotification
from payments.services import payment_create, payment_notification_handle
from registration.models import Visitor
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.conftest import on_postgres
from tests.payments.factories import open_for_payment, pending_order, signed_notification
from tests.registration.factories import ApprovedUnitFactory


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_notification_twice_at_once_confirms_one_payment_once():
    edition = open_for_payment(EditionFactory())
    EntryPeriodFactory(edition=edition)
    unit = ApprovedUnitFactory(edition=edition, contact_mobile="13800001111")
    order = pending_order(unit)
    payment = payment_create(order=order, method="b2b", actor=unit.account)
    provider, body, headers = signed_notification(payment)

    barrier = threading.Barrier(2)
    results, errors = [], []

    def handle():
        try:
            barrier.wait()
            results.append(
                payment_notification_handle(provider=provider, body=body, headers=headers)
            )
        except Exception as error:  # noqa: BLE001 - the test reports any failure below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=handle) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(results) == 2
    assert Payment.objects.filter(status=Payment.Status.CONFIRMED).count() == 1
    assert CredentialOrder.objects.get(pk=order.pk).status == CredentialOrder.Status.PAID
    notification = PaymentNotification.objects.get()
    assert notification.times_received == 2
    assert AuditEntry.objects.filter(action="payment.confirmed").count() == 1
    assert AuditEntry.objects.filter(action="order.paid").count() == 1
    assert Visitor.objects.get(unit=unit).status == Visitor.Status.PENDING_REVIEW
    assert Notice.objects.filter(event="payment_received").count() == 1
