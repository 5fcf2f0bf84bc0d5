"""交易团代付: the delegation settles one consolidated order for the visitors it pays for, by bank
transfer; finance confirms it like a unit's transfer; the delegation's contacts are emailed."""

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from PIL import Image

from ciie_portal.models import AuditEntry, Notice
from ciie_portal.notices.services import render_notice
from ciie_portal.roles import SECRETARY
from credentials.models import CredentialOrder, OrderLine
from credentials.orders.delegation import delegation_order_create
from credentials.orders.selectors import orders_of_unit
from credentials.orders.services import order_cancel, order_mark_paid, orders_expire
from delegations.models import DelegationContact
from payments.models import Method, Payment
from payments.services import payment_create
from registration.models import Label, Visitor
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.conftest import on_postgres
from tests.credentials.factories import (
    CredentialOrderFactory,
    delegation_paid_visitor,
    payable_visitor,
    reusing_visitor,
)
from tests.delegations.factories import DelegationFactory
from tests.payments.factories import open_for_payment
from tests.races import run_at_once
from tests.registration.factories import ApprovedUnitFactory, UserFactory

S = CredentialOrder.Status
V = Visitor.Status
CHANGELIST = "/admin/credentials/credentialorder/"
SETTLE = "/admin/credentials/credentialorder/settle/"


@pytest.fixture(autouse=True)
def _in_english(settings):
    """Messages are asserted in English (the catalogue's msgids); pages default to English too."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def transfer_page(order) -> str:
    return f"/payments/delegation-orders/{order.number}/transfer/"


@pytest.fixture(autouse=True)
def _private_media(private_media):
    return private_media


@pytest.fixture
def client():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def secretaries_settle(roles):
    """The permissions ciie_portal/roles.py is to give the secretaries for this feature."""
    Group.objects.get(name=SECRETARY).permissions.add(
        *Permission.objects.filter(
            content_type__app_label="credentials",
            codename__in=["view_credentialorder", "view_orderline", "settle_delegation_order"],
        )
    )


@pytest.fixture
def open_edition(edition):
    """The test edition's deadlines lie in the past: transfers are open for 30 more days."""
    return open_for_payment(edition)


@pytest.fixture
def gd_unit(open_edition, guangdong):
    """A unit directly under the trade delegation 广东交易团 (``unit`` is in its 广州 分团)."""
    return ApprovedUnitFactory(edition=open_edition, delegation=guangdong)


@pytest.fixture
def gd_contact(guangdong):
    contact = guangdong.contacts.first()
    contact.email = "waimao@gd.example.cn"
    contact.save(update_fields=["email"])
    return contact


def jpeg() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buffer, format="JPEG")
    return SimpleUploadedFile("voucher.jpg", buffer.getvalue(), content_type="image/jpeg")


def remittance_form(order, **changes) -> dict:
    data = {
        "payer_kind": "unit",
        "payer_name": "广东省商务厅",
        "bank_branch": "中国银行广州天河支行",
        "account_number": "6217 0000 1234 5678",
        "phone": "020-12345678",
        "amount": str(order.total),
        "remitted_on": timezone.localdate().isoformat(),
        "voucher": jpeg(),
    }
    data.update(changes)
    return data


def fees_of(order) -> dict[int, Decimal]:
    return dict(order.lines.values_list("visitor_id", "fee"))


# --- Making the order -----------------------------------------------------------------------


def test_it_settles_every_visitor_the_delegation_pays_for_in_one_order(
    open_edition, guangdong, unit, gd_unit, other_unit, group_secretary
):
    edition = open_edition
    shorter = EntryPeriodFactory(
        edition=edition, name="后三天", first_day=edition.ends_on, fee=Decimal("100.00")
    )
    full = delegation_paid_visitor(unit, name="全程代付")
    passed = delegation_paid_visitor(gd_unit, name="已通过", status=V.REVIEW_PASSED)
    reuse = reusing_visitor(unit, make=delegation_paid_visitor, name="复用")
    upgraded = reusing_visitor(
        unit, make=delegation_paid_visitor, name="升级", needs_new_credential=True
    )
    short = delegation_paid_visitor(unit, entry_period=shorter)
    left_out = [
        delegation_paid_visitor(unit, label=Label.VIP),
        delegation_paid_visitor(unit, label=Label.STAFF),
        delegation_paid_visitor(other_unit),  # another delegation's
        payable_visitor(unit),  # the unit pays for this one itself
        delegation_paid_visitor(unit, status=V.SUBMITTED),  # not locked yet
        delegation_paid_visitor(unit, status=V.CANCELLED),
        delegation_paid_visitor(
            ApprovedUnitFactory(
                edition=EditionFactory(number=9),
                delegation=guangdong,
            )
        ),  # last edition's
    ]
    before = timezone.now()

    order = delegation_order_create(delegation=guangdong, actor=group_secretary)

    order.refresh_from_db()
    assert (order.delegation, order.unit, order.edition) == (guangdong, None, edition)
    assert order.status == S.PENDING_PAYMENT and order.created_by == group_secretary
    assert re.fullmatch(r"V\d{23}", order.number)
    assert before <= order.created_at <= timezone.now()
    # Paid by bank transfer only: the window is the edition's transfer deadline.
    assert order.expires_at == edition.transfer_deadline
    assert fees_of(order) == {
        full.pk: Decimal("200.00"),
        passed.pk: Decimal("200.00"),  # a sub-delegation's and the trade delegation's units
        reuse.pk: Decimal("100.00"),  # the edition's reuse percentage (50 %)
        upgraded.pk: Decimal("200.00"),  # a label upgrade needs a new credential
        short.pk: Decimal("100.00"),
    }
    assert order.total == Decimal("800.00") and str(order.total) == "800.00"
    line = order.lines.get(visitor=full)
    assert (line.label, line.entry_period, line.pickup, line.open) == (
        Label.VISITOR,
        full.entry_period,
        full.pickup,
        True,
    )
    assert not OrderLine.objects.filter(visitor__in=left_out).exists()
    # The visitors are past payment already: nothing happens to them.
    assert Visitor.objects.get(pk=full.pk).status == V.PENDING_REVIEW
    assert Visitor.objects.get(pk=passed.pk).status == V.REVIEW_PASSED
    entry = AuditEntry.objects.get(action="order.create", object_id=str(order.pk))
    assert entry.data["delegation"] == guangdong.pk and entry.data["total"] == "800.00"
    # The units never see the delegation's order among theirs.
    assert not orders_of_unit(unit).exists() and not orders_of_unit(gd_unit).exists()


def test_a_sub_delegation_settles_only_its_own_visitors(
    open_edition, guangzhou, unit, gd_unit, secretary
):
    ours = delegation_paid_visitor(unit)
    parents = delegation_paid_visitor(gd_unit)
    order = delegation_order_create(delegation=guangzhou, actor=secretary)
    assert set(fees_of(order)) == {ours.pk}
    assert not OrderLine.objects.filter(visitor=parents).exists()


def test_visitors_already_in_an_open_order_are_not_settled_twice(
    open_edition, guangdong, guangzhou, unit, group_secretary, secretary
):
    first = delegation_paid_visitor(unit, name="先结算")
    earlier = delegation_paid_visitor(unit, name="待再结算")
    by_the_sub_delegation = delegation_order_create(delegation=guangzhou, actor=secretary)
    assert set(fees_of(by_the_sub_delegation)) == {first.pk, earlier.pk}
    # Cancelled: its visitors are free again.
    order_cancel(order=by_the_sub_delegation, actor=secretary)
    later = delegation_paid_visitor(unit, name="后来的")
    second = delegation_order_create(delegation=guangdong, actor=group_secretary)
    assert set(fees_of(second)) == {first.pk, earlier.pk, later.pk}
    newest = delegation_paid_visitor(unit, name="最新的")
    third = delegation_order_create(delegation=guangdong, actor=group_secretary)
    assert set(fees_of(third)) == {newest.pk}
    assert OrderLine.objects.filter(visitor=first, open=True).count() == 1


def test_it_refuses_when_there_is_nothing_to_settle(open_edition, guangdong, unit, group_secretary):
    payable_visitor(unit)  # pays for itself
    delegation_paid_visitor(unit, label=Label.VIP)  # free
    with pytest.raises(ValidationError, match="广东交易团 has no visitors to settle"):
        delegation_order_create(delegation=guangdong, actor=group_secretary)
    delegation_paid_visitor(unit)
    delegation_order_create(delegation=guangdong, actor=group_secretary)
    with pytest.raises(ValidationError, match="already in an order"):
        delegation_order_create(delegation=guangdong, actor=group_secretary)
    assert CredentialOrder.objects.count() == 1


def test_it_refuses_after_the_transfer_deadline(edition, guangdong, unit, group_secretary):
    delegation_paid_visitor(unit)
    with pytest.raises(ValidationError, match="Payment by bank transfer closed on"):
        delegation_order_create(delegation=guangdong, actor=group_secretary)
    assert not CredentialOrder.objects.exists()


def test_it_refuses_a_total_other_than_the_one_confirmed(
    open_edition, guangdong, unit, group_secretary
):
    delegation_paid_visitor(unit)
    delegation_paid_visitor(unit)  # arrived after the secretary saw ¥200.00
    with pytest.raises(ValidationError, match="now 2 visitors, 400.00 CNY"):
        delegation_order_create(
            delegation=guangdong, actor=group_secretary, expected_total=Decimal("200.00")
        )
    assert not CredentialOrder.objects.exists()


def test_an_order_belongs_to_a_unit_or_to_a_delegation_never_both_nor_neither(
    edition, unit, guangdong
):
    with pytest.raises(IntegrityError), transaction.atomic():
        CredentialOrderFactory(unit=unit, delegation=guangdong)
    with pytest.raises(IntegrityError), transaction.atomic():
        CredentialOrderFactory(unit=None, edition=edition)
    CredentialOrderFactory(unit=None, edition=edition, delegation=guangdong)
    CredentialOrderFactory(unit=unit)
    assert CredentialOrder.objects.count() == 2


# --- Paying -----------------------------------------------------------------------------------


def test_qr_and_b2b_are_refused_for_a_delegation_order(
    open_edition, guangdong, unit, group_secretary
):
    delegation_paid_visitor(unit)
    order = delegation_order_create(delegation=guangdong, actor=group_secretary)
    for method in (Method.QR_ALIPAY, Method.QR_WECHAT, Method.QR_UNIONPAY, Method.B2B):
        with pytest.raises(ValidationError, match="by bank transfer only"):
            payment_create(order=order, method=method, actor=group_secretary)
    assert not Payment.objects.exists()
    transfer = payment_create(order=order, method=Method.TRANSFER, actor=group_secretary)
    assert transfer.amount == order.total


def test_the_order_does_not_close_before_the_transfer_deadline(
    open_edition, guangdong, unit, group_secretary
):
    visitor = delegation_paid_visitor(unit)
    order = delegation_order_create(delegation=guangdong, actor=group_secretary)
    units_order = CredentialOrderFactory(unit=unit)  # a unit's: 30 minutes to pay
    assert orders_expire(now=timezone.now() + timedelta(days=1)) == 1
    units_order.refresh_from_db()
    order.refresh_from_db()
    assert units_order.status == S.CLOSED and order.status == S.PENDING_PAYMENT
    assert orders_expire(now=open_edition.transfer_deadline - timedelta(minutes=1)) == 0
    assert orders_expire(now=open_edition.transfer_deadline + timedelta(minutes=1)) == 1
    order.refresh_from_db()
    assert order.status == S.CLOSED
    assert not OrderLine.objects.filter(order=order, open=True).exists()
    assert Visitor.objects.get(pk=visitor.pk).status == V.PENDING_REVIEW


def test_marking_it_paid_moves_no_visitor_and_emails_the_delegation(
    open_edition, guangdong, unit, gd_contact, group_secretary
):
    gd_contact.delegation.contacts.create(
        persons="李四", phone="020-1", email="WaiMao@gd.example.cn"
    )
    visitor = delegation_paid_visitor(unit)
    order = delegation_order_create(delegation=guangdong, actor=group_secretary)
    order_mark_paid(order=order, actor="finance")
    order_mark_paid(order=order, actor="finance")  # safe twice
    order.refresh_from_db()
    assert order.status == S.PAID and order.paid_at is not None
    assert Visitor.objects.get(pk=visitor.pk).status == V.PENDING_REVIEW
    assert not AuditEntry.objects.filter(action__startswith="visitor.").exists()
    notice = Notice.objects.get(event="delegation_order_paid")  # one mailbox, one email
    assert notice.recipient == "waimao@gd.example.cn" and notice.channel == "email"
    assert not Notice.objects.filter(event="payment_received").exists()
    mail = render_notice(notice)
    assert order.number in mail["text"] and "200.00" in mail["text"]
    assert "广东交易团" in mail["text"] and mail["subject"] == "Delegation order paid"


def test_without_a_contact_address_the_secretary_who_settled_is_emailed(
    open_edition, guangdong, unit
):
    settler = UserFactory(is_staff=True, email="mishu@gd.example.cn")
    delegation_paid_visitor(unit)
    order = delegation_order_create(delegation=guangdong, actor=settler)
    order_mark_paid(order=order, actor="finance")
    assert list(
        Notice.objects.filter(event="delegation_order_paid").values_list("recipient", flat=True)
    ) == ["mishu@gd.example.cn"]


# --- The secretary's side, in the admin -------------------------------------------------------


def test_the_secretary_settles_after_seeing_the_count_and_the_total(
    client, secretaries_settle, open_edition, guangdong, unit, gd_unit, group_secretary
):
    delegation_paid_visitor(unit)
    reusing_visitor(gd_unit, make=delegation_paid_visitor)
    client.force_login(group_secretary)
    listing = client.get(CHANGELIST).content.decode()
    assert 'id="settle-delegation-order"' in listing

    preview = client.get(SETTLE).content.decode()
    assert 'id="settle-count">2<' in preview and 'id="settle-total">300.00<' in preview
    assert unit.name in preview and gd_unit.name in preview
    assert not CredentialOrder.objects.exists()  # looking makes nothing

    response = client.post(SETTLE, {"total": "300.00"})
    order = CredentialOrder.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{CHANGELIST}{order.pk}/change/"
    assert (order.delegation, order.total, order.lines.count()) == (
        guangdong,
        Decimal("300.00"),
        2,
    )
    page = client.get(response["Location"]).content.decode()
    assert f"Order {order.number} made for 2 visitors" in page
    assert "中国国际进口博览局 (demo)" in page and f"<strong>{order.number}</strong>" in page
    assert transfer_page(order) in page
    assert 'name="_save"' not in page

    again = client.get(SETTLE).content.decode()
    assert 'id="settle-nothing"' in again and 'id="settle-form"' not in again
    client.post(SETTLE, {"total": "300.00"})
    assert CredentialOrder.objects.count() == 1


def test_the_settle_page_costs_the_same_queries_for_few_or_many_visitors(
    client, secretaries_settle, open_edition, unit, gd_unit, group_secretary
):
    client.force_login(group_secretary)
    delegation_paid_visitor(unit)
    client.get(SETTLE)  # the current edition read into the shared cache first
    with CaptureQueriesContext(connection) as few:
        client.get(SETTLE)
    for _ in range(10):
        delegation_paid_visitor(unit)
        delegation_paid_visitor(gd_unit)
    with CaptureQueriesContext(connection) as many:
        assert 'id="settle-count">21<' in client.get(SETTLE).content.decode()
    assert len(many) == len(few)


def test_finance_and_organisers_see_every_delegation_order_but_do_not_settle(
    client, secretaries_settle, open_edition, guangdong, unit, group_secretary, finance, organiser
):
    delegation_paid_visitor(unit)
    order = delegation_order_create(delegation=guangdong, actor=group_secretary)
    for user in (finance, organiser):
        client.force_login(user)
        listing = client.get(CHANGELIST, {"payer": "delegation"}).content.decode()
        # The admin reads in English here: the delegation by its English name.
        assert order.number in listing and "Guangdong Trading Delegation" in listing
        assert 'id="settle-delegation-order"' not in listing
        assert client.get(SETTLE).status_code == 403
        assert client.get(f"{CHANGELIST}{order.pk}/change/").status_code == 200


def test_another_delegations_secretary_sees_nothing_of_the_order(
    client, secretaries_settle, open_edition, guangdong, unit, group_secretary, other_secretary
):
    delegation_paid_visitor(unit)
    order = delegation_order_create(delegation=guangdong, actor=group_secretary)
    transfer = payment_create(order=order, method=Method.TRANSFER, actor=group_secretary)
    client.force_login(other_secretary)
    listing = client.get(CHANGELIST)
    assert listing.status_code == 200 and order.number not in listing.content.decode()
    change = client.get(f"{CHANGELIST}{order.pk}/change/")
    # The admin's answer for an object outside the user's queryset: back to the index.
    assert change.status_code == 302 and change["Location"] == "/admin/"
    assert client.get(transfer_page(order)).status_code == 404
    assert client.post(transfer_page(order), remittance_form(order)).status_code == 404
    voucher = f"/payments/delegation-orders/{order.number}/transfers/{transfer.pk}/voucher/"
    assert client.get(voucher).status_code == 404
    # Their own settlement finds nothing of Guangdong's.
    assert 'id="settle-nothing"' in client.get(SETTLE).content.decode()
    assert Payment.objects.count() == 1


def test_a_sub_delegations_secretary_does_not_see_the_trade_delegations_order(
    client, secretaries_settle, open_edition, guangdong, unit, group_secretary, secretary
):
    delegation_paid_visitor(unit)
    order = delegation_order_create(delegation=guangdong, actor=group_secretary)
    client.force_login(secretary)
    assert order.number not in client.get(CHANGELIST).content.decode()
    assert client.get(transfer_page(order)).status_code == 404


def test_the_remittance_is_confirmed_by_finance_and_the_delegation_is_emailed(
    client,
    secretaries_settle,
    open_edition,
    guangdong,
    unit,
    gd_contact,
    group_secretary,
    finance,
    django_capture_on_commit_callbacks,
):
    visitors = [
        delegation_paid_visitor(unit),
        delegation_paid_visitor(unit, status=V.REVIEW_PASSED),
    ]
    order = delegation_order_create(delegation=guangdong, actor=group_secretary)
    client.force_login(group_secretary)
    page = client.get(transfer_page(order)).content.decode()
    assert f'id="transfer-reference">{order.number}<' in page and "¥400.00" in page
    assert 'value="广东省商务厅"' in page  # the secretariat's body pays

    response = client.post(transfer_page(order), remittance_form(order))
    assert response.status_code == 302
    payment = Payment.objects.get(order=order)
    assert (payment.method, payment.status, payment.amount) == (
        Method.TRANSFER,
        Payment.Status.CREATED,
        Decimal("400.00"),
    )
    assert payment.created_by == group_secretary and payment.remittance.payer_name == "广东省商务厅"
    page = client.get(transfer_page(order)).content.decode()
    assert 'id="transfer-awaiting"' in page and 'id="transfer-form"' not in page
    voucher = client.get(
        f"/payments/delegation-orders/{order.number}/transfers/{payment.pk}/voucher/"
    )
    assert voucher.status_code == 200 and voucher["Content-Type"] == "image/jpeg"

    client.force_login(finance)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/payments/payment/",
            {"action": "confirm_transfer", ACTION_CHECKBOX_NAME: [payment.pk]},
        )
    order.refresh_from_db()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CONFIRMED and order.status == S.PAID
    assert [Visitor.objects.get(pk=v.pk).status for v in visitors] == [
        V.PENDING_REVIEW,
        V.REVIEW_PASSED,
    ]
    notice = Notice.objects.get(event="delegation_order_paid")
    assert notice.recipient == gd_contact.email and notice.status == Notice.Status.SENT

    client.force_login(group_secretary)
    page = client.get(transfer_page(order)).content.decode()
    assert 'id="transfer-done"' in page and 'id="transfer-form"' not in page


def test_a_remittance_after_the_transfer_deadline_is_refused(
    client, secretaries_settle, open_edition, guangdong, unit, group_secretary
):
    delegation_paid_visitor(unit)
    order = delegation_order_create(delegation=guangdong, actor=group_secretary)
    open_edition.transfer_deadline = timezone.now() - timedelta(minutes=1)
    open_edition.save(update_fields=["transfer_deadline"])
    client.force_login(group_secretary)
    page = client.get(transfer_page(order)).content.decode()
    assert 'id="transfer-closed"' in page and 'id="transfer-form"' not in page
    client.post(transfer_page(order), remittance_form(order))
    assert not Payment.objects.exists()


# --- Two secretaries at once (PostgreSQL) -----------------------------------------------------


def _race(attempts):
    """Run each callable in its own thread and connection, all starting together."""
    outcomes = []
    for outcome in run_at_once(*attempts):
        if outcome.ok:
            outcomes.append(("ok", outcome.value))
        elif isinstance(outcome.error, ValidationError):
            outcomes.append(("refused", outcome.error))
        else:
            raise outcome.error
    return outcomes


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_two_settlements_at_once_make_one_order_and_one_refusal():
    edition = open_for_payment(EditionFactory())
    EntryPeriodFactory(edition=edition)
    delegation = DelegationFactory(name="竞态交易团")
    DelegationContact.objects.create(delegation=delegation, persons="王五", phone="1")
    sub_unit = ApprovedUnitFactory(
        edition=edition, delegation=DelegationFactory(name="竞态分团", parent=delegation)
    )
    visitors = [delegation_paid_visitor(sub_unit) for _ in range(5)]
    actor = UserFactory(is_staff=True)
    outcomes = _race(
        [lambda: delegation_order_create(delegation=delegation, actor=actor, edition=edition)] * 2
    )
    assert sorted(kind for kind, _value in outcomes) == ["ok", "refused"]
    refusal = next(value for kind, value in outcomes if kind == "refused")
    assert "竞态交易团 has no visitors to settle" in str(refusal)
    order = CredentialOrder.objects.get()
    assert order.total == Decimal("1000.00")
    assert OrderLine.objects.filter(visitor__in=visitors, open=True).count() == 5
