import pytest

from ciie_portal.models import AuditEntry, Notice
from credentials.models import CredentialOrder
from payments.models import Payment, PaymentNotification
from payments.services import payment_create, payment_notification_handle
from registration.models import Visitor
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.conftest import on_postgres
from tests.payments.factories import open_for_payment, pending_order, signed_notification
from tests.races import run_at_once
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

    races = run_at_once(
        *[lambda: payment_notification_handle(provider=provider, body=body, headers=headers)] * 2
    )
    results = [race.value for race in races if race.ok]
    errors = [race.error for race in races if not race.ok]

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
