"""Two finance clerks act on the same bank transfer at the same moment (PostgreSQL only).

The test holds the payment's row lock itself, lets both clerks' transactions queue up behind it
(it waits until PostgreSQL shows both waiting on a lock), then lets go: the two decisions really
meet inside ``transfer_confirm`` / ``transfer_reject`` instead of merely starting close together.
"""

import io
import threading
import time

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils import timezone
from PIL import Image

from ciie_portal.models import AuditEntry, Notice
from ciie_portal.roles import FINANCE, roles_sync
from credentials.models import CredentialOrder
from payments.models import Payment
from payments.services import transfer_confirm, transfer_reject, transfer_remittance_submit
from registration.models import Visitor
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.conftest import on_postgres
from tests.payments.factories import open_for_payment, pending_order
from tests.registration.factories import ApprovedUnitFactory, UserFactory

pytestmark = [on_postgres, pytest.mark.django_db(transaction=True)]

S = CredentialOrder.Status
VISITORS = 2
REASON = "未查到到账记录"


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private"), "base_url": None},
        },
    }


@pytest.fixture
def clerks():
    """Two finance clerks. Not the conftest cast: a transactional test empties every table
    after it, including the delegations the cast's unit belongs to."""
    roles_sync()
    group = Group.objects.get(name=FINANCE)
    users = [UserFactory(username=f"finance-{n}", is_staff=True) for n in (1, 2)]
    for user in users:
        user.groups.add(group)
    return users


@pytest.fixture
def transfer() -> Payment:
    """A bank transfer of an order for two visitors, awaiting finance."""
    edition = open_for_payment(EditionFactory())
    EntryPeriodFactory(edition=edition)
    unit = ApprovedUnitFactory(edition=edition, contact_mobile="13800001111")
    order = pending_order(unit, visitors=VISITORS)
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buffer, format="JPEG")
    return transfer_remittance_submit(
        order=order,
        actor=unit.account,
        remittance={
            "payer_kind": "unit",
            "payer_name": "广州示例贸易有限公司",
            "bank_branch": "中国银行广州天河支行",
            "account_number": "6217000012345678",
            "phone": "02012345678",
            "amount": order.total,
            "remitted_on": timezone.localdate(),
            "voucher": SimpleUploadedFile("v.jpg", buffer.getvalue(), "image/jpeg"),
        },
    )


def _waiting_on_locks() -> int:
    """Sessions of this test database that wait for a lock (the clerks' transactions)."""
    with connection.cursor() as cursor:
        # pg_stat_activity is read once per transaction unless the snapshot is dropped.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _wait_for(waiting: int, errors: list) -> None:
    deadline = time.monotonic() + 15
    while _waiting_on_locks() < waiting:
        assert errors == [], "an action failed before it reached the lock"
        assert time.monotonic() < deadline, f"{waiting} transactions never queued on the lock"
        time.sleep(0.02)


def run_at_once(payment: Payment, *actions) -> list:
    """Run each action in its own thread and transaction, all queued behind the payment's row
    lock in the order given, then released together; returns their results in that order."""
    results: list = [None] * len(actions)
    errors: list = []

    def run(i, action):
        try:
            results[i] = action()
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = []
    with transaction.atomic():
        Payment.objects.select_for_update().get(pk=payment.pk)
        for i, action in enumerate(actions):
            thread = threading.Thread(target=run, args=(i, action))
            thread.start()
            threads.append(thread)
            _wait_for(i + 1, errors)  # queued in this order: the lock is granted in this order
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a transaction hung"
    assert errors == []
    return results


def assert_paid_once(payment: Payment, *, by) -> None:
    payment.refresh_from_db()
    order = CredentialOrder.objects.get(pk=payment.order_id)
    assert payment.status == Payment.Status.CONFIRMED
    assert payment.received_amount == order.total and not payment.flagged
    assert order.status == S.PAID and order.paid_at is not None
    visitors = Visitor.objects.filter(unit=order.unit)
    assert visitors.count() == VISITORS
    assert set(visitors.values_list("status", flat=True)) == {Visitor.Status.PENDING_REVIEW}
    confirmed = AuditEntry.objects.get(action="payment.confirmed")
    assert confirmed.actor in by
    assert AuditEntry.objects.filter(action="order.paid").count() == 1
    assert AuditEntry.objects.filter(action="visitor.pending_review").count() == VISITORS
    assert not AuditEntry.objects.filter(action="payment.failed").exists()
    notice = Notice.objects.get(event="payment_received")
    assert notice.channel == "sms" and notice.status == Notice.Status.SENT


def assert_rejected(payment: Payment, *, by) -> None:
    payment.refresh_from_db()
    order = CredentialOrder.objects.get(pk=payment.order_id)
    assert payment.status == Payment.Status.FAILED and payment.flag_reason == REASON
    assert payment.confirmed_at is None
    assert order.status == S.PENDING_PAYMENT and order.paid_at is None
    statuses = set(Visitor.objects.filter(unit=order.unit).values_list("status", flat=True))
    assert statuses == {Visitor.Status.PENDING_PAYMENT}
    assert AuditEntry.objects.get(action="payment.failed").actor == by
    for action in ("payment.confirmed", "order.paid", "visitor.pending_review"):
        assert not AuditEntry.objects.filter(action=action).exists()
    assert not Notice.objects.filter(event="payment_received").exists()


def test_two_clerks_confirming_at_once_confirm_the_transfer_once(transfer, clerks):
    first, second = clerks
    results = run_at_once(
        transfer,
        lambda: transfer_confirm(payment_id=transfer.pk, actor=first),
        lambda: transfer_confirm(payment_id=transfer.pk, actor=second),
    )

    assert results == ["confirmed", "skipped"]
    assert_paid_once(transfer, by=[first])


@pytest.mark.parametrize("first", ["confirm", "reject"])
def test_confirm_and_reject_at_once_one_decision_wins(transfer, clerks, first):
    confirming, rejecting = clerks
    actions = {
        "confirm": lambda: transfer_confirm(payment_id=transfer.pk, actor=confirming),
        "reject": lambda: transfer_reject(payment_id=transfer.pk, actor=rejecting, reason=REASON),
    }
    order = [first, *(name for name in actions if name != first)]

    outcome = run_at_once(transfer, *(actions[name] for name in order))
    results = dict(zip(order, outcome, strict=True))

    # Whoever got the lock first decided; the other found the transfer decided and did nothing.
    if first == "confirm":
        assert results == {"confirm": "confirmed", "reject": False}
        assert_paid_once(transfer, by=[confirming])
    else:
        assert results == {"reject": True, "confirm": "skipped"}
        assert_rejected(transfer, by=rejecting)
