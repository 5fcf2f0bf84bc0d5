"""One confirmation through the gateways' callback costs a fixed, small number of statements."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ciie_portal.models import AuditEntry, Notice
from credentials.models import CredentialOrder
from payments.models import Payment, PaymentNotification
from payments.services import payment_create
from registration.models import Visitor
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.conftest import on_postgres
from tests.payments.factories import open_for_payment, pending_order, signed_notification
from tests.registration.factories import ApprovedUnitFactory

# What the callback may send for one confirmation, BEGIN and COMMIT and the delivery of the
# two "payment received" notices in the request (embedded mode) included.
MOST_STATEMENTS = 15


@on_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("visitors", [1, 5])
def test_a_confirmation_through_the_callback_takes_at_most_15_statements(client, visitors):
    edition = open_for_payment(EditionFactory())
    EntryPeriodFactory(edition=edition)
    unit = ApprovedUnitFactory(
        edition=edition, contact_mobile="13800001111", contact_email="u@example.com"
    )
    order = pending_order(unit, visitors=visitors)
    payment = payment_create(order=order, method="qr_wechat", actor=unit.account)
    provider, body, headers = signed_notification(payment)
    # The content types are cached per process after the first use (as in a running server).
    ContentType.objects.get_for_models(Payment, PaymentNotification, CredentialOrder, Visitor)

    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            f"/payments/notify/{provider}/",
            data=body,
            content_type="application/json",
            headers=headers,
        )

    assert response.content == b"success"
    statements = [query["sql"] for query in captured.captured_queries]
    assert len(statements) <= MOST_STATEMENTS, "\n".join(statements)
    assert not [sql for sql in statements if sql.startswith(("SAVEPOINT", "RELEASE"))]
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.CONFIRMED
    assert CredentialOrder.objects.get(pk=order.pk).status == CredentialOrder.Status.PAID
    assert set(Visitor.objects.filter(unit=unit).values_list("status", flat=True)) == {
        Visitor.Status.PENDING_REVIEW
    }
    assert AuditEntry.objects.filter(action="visitor.pending_review").count() == visitors
    assert AuditEntry.objects.filter(action="payment_notification.confirmed").count() == 1
    assert sorted(
        Notice.objects.filter(event="payment_received").values_list("channel", "status")
    ) == [("email", "sent"), ("sms", "sent")]


def _values(obj):
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_the_locking_select_reads_what_the_orm_would():
    from django.db import transaction

    from payments.services import _payment_locked

    edition = open_for_payment(EditionFactory())
    EntryPeriodFactory(edition=edition)
    unit = ApprovedUnitFactory(
        edition=edition, contact_mobile="13800001111", contact_email="u@example.com"
    )
    payment = payment_create(order=pending_order(unit), method="qr_wechat", actor=unit.account)

    with transaction.atomic():
        read = _payment_locked(payment.pk, ["qr_wechat", "qr_alipay"])
        assert _payment_locked(payment.pk, ["b2b"]) is None
    expected = (
        Payment.objects.select_related("order", "order__edition", "order__unit")
        .filter(pk=payment.pk)
        .get()
    )
    with CaptureQueriesContext(connection) as captured:
        assert _values(read) == _values(expected)
        assert _values(read.order) == _values(expected.order)
        assert _values(read.order.edition) == _values(expected.order.edition)
        assert _values(read.order.unit) == _values(expected.order.unit)
    assert captured.captured_queries == []
