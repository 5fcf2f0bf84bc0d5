"""The delegation's review decision gates every later step, for every actor (delegations.gates).

Only an approved unit's visitors are labelled, locked, ordered, paid, reviewed or produced.
Money that arrives for a unit no longer approved is recorded and flagged for finance.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from ciie_portal.models import Notice
from credentials.models import CredentialOrder
from credentials.orders.delegation import delegation_order_create
from credentials.orders.services import order_create, orders_expire
from credentials.production.selectors import producible
from credentials.review.selectors import pending_review_visitors
from credentials.review.services import review_batch_export, review_results_import
from credentials.review.spreadsheet import RESULT_PASSED
from delegations.services import visitors_label, visitors_lock
from payments.models import Payment, PaymentNotification
from payments.services import (
    payment_create,
    payment_notification_handle,
    transfer_confirm,
    transfer_reject,
    transfer_remittance_submit,
)
from registration.models import Label, Unit, Visitor
from tests.credentials.factories import delegation_paid_visitor, payable_visitor
from tests.credentials.test_review import line, result_file
from tests.payments.factories import open_for_payment, pending_order, signed_notification
from tests.registration.images import image_file

V = Visitor.Status
NOT_APPROVED = [
    Unit.Status.DRAFT,
    Unit.Status.SUBMITTED,
    Unit.Status.RETURNED,
    Unit.Status.REJECTED,
]


def set_status(unit, status):
    Unit.objects.filter(pk=unit.pk).update(status=status)
    unit.refresh_from_db()
    return unit


def admin_action(client, model, name, ids, **extra):
    return client.post(
        f"/admin/registration/{model}/",
        {"action": name, "_selected_action": [str(pk) for pk in ids], **extra},
        follow=True,
    )


# --- Labels and lock -------------------------------------------------------------------------


@pytest.mark.parametrize("status", NOT_APPROVED)
def test_visitors_of_a_unit_not_approved_are_not_labelled(unit, status):
    visitor = VisitorFactoryShortcut.submitted(set_status(unit, status))
    with pytest.raises(ValidationError) as error:
        visitors_label(visitors=Visitor.objects.filter(pk=visitor.pk), label=Label.VIP, actor=None)
    assert unit.name in str(error.value)
    assert Visitor.objects.get(pk=visitor.pk).label == ""


def test_the_admin_label_action_says_why_for_a_rejected_unit(client, secretary, unit):
    visitor = VisitorFactoryShortcut.submitted(set_status(unit, Unit.Status.REJECTED))
    client.force_login(secretary)
    response = admin_action(client, "visitor", "label_visitor", [visitor.pk])
    said = " ".join(str(message) for message in response.context["messages"])
    assert unit.name in said and "审核不通过" in said
    assert Visitor.objects.get(pk=visitor.pk).label == ""


def test_a_returned_units_visitors_are_not_locked_and_get_no_pay_now_notice(unit):
    unit.contact_mobile, unit.contact_email = "13800000001", "unit@example.com"
    unit.save()
    visitor = VisitorFactoryShortcut.submitted(unit, label=Label.VISITOR)
    set_status(unit, Unit.Status.RETURNED)
    with pytest.raises(ValidationError) as error:
        visitors_lock(visitors=Visitor.objects.filter(pk=visitor.pk), actor=None)
    assert "退回修改" in str(error.value) or "returned" in str(error.value).lower()
    assert Visitor.objects.get(pk=visitor.pk).status == V.SUBMITTED
    assert not Notice.objects.filter(event="pay_now").exists()


def test_an_approved_units_visitors_are_locked_and_the_deadline_is_in_beijing_time(unit, edition):
    unit.contact_mobile, unit.contact_email = "13800000001", "unit@example.com"
    unit.save()
    visitor = VisitorFactoryShortcut.submitted(unit, label=Label.VISITOR)
    visitors_lock(visitors=Visitor.objects.filter(pk=visitor.pk), actor=None)
    assert Visitor.objects.get(pk=visitor.pk).status == V.PENDING_PAYMENT
    notices = Notice.objects.filter(event="pay_now")
    assert {n.channel for n in notices} == {"sms", "email"}
    # The factory edition's online deadline is 23:59 in Beijing, 15:59 UTC.
    local = timezone.localtime(edition.online_payment_deadline)
    assert local.strftime("%H:%M") == "23:59"
    assert {n.params["deadline"] for n in notices} == {local.strftime("%Y-%m-%d 23:59")}


# --- Orders and payments ---------------------------------------------------------------------


@pytest.mark.parametrize("status", NOT_APPROVED)
def test_a_unit_not_approved_cannot_order(unit, status):
    visitor = payable_visitor(unit)
    set_status(unit, status)
    with pytest.raises(ValidationError):
        order_create(unit=unit, visitor_ids=[visitor.pk], actor=unit.account)
    assert not CredentialOrder.objects.exists()


def test_the_order_page_tells_a_rejected_unit_why(client, unit):
    visitor = payable_visitor(unit)
    set_status(unit, Unit.Status.REJECTED)
    client.force_login(unit.account)
    response = client.post("/accounts/orders/new/", {"visitors": [visitor.pk]})
    page = response.content.decode()
    assert response.status_code == 200
    assert "审核不通过" in page and unit.name in page
    assert not CredentialOrder.objects.exists()


def test_a_payment_cannot_start_once_the_unit_is_no_longer_approved(unit, edition):
    open_for_payment(edition)
    order = pending_order(unit)
    set_status(unit, Unit.Status.REJECTED)
    with pytest.raises(ValidationError) as error:
        payment_create(order=order, method="qr_alipay", actor=unit.account)
    assert order.number in str(error.value)
    assert not Payment.objects.exists()


def test_gateway_money_for_a_unit_no_longer_approved_is_flagged_not_accepted(unit, edition):
    open_for_payment(edition)
    order = pending_order(unit)
    payment = payment_create(order=order, method="qr_alipay", actor=unit.account)
    set_status(unit, Unit.Status.REJECTED)
    provider, body, headers = signed_notification(payment)
    record = payment_notification_handle(provider=provider, body=body, headers=headers)
    assert record.result == PaymentNotification.Result.FLAGGED
    payment.refresh_from_db()
    assert payment.flagged and payment.status == Payment.Status.CREATED
    assert payment.received_amount == order.total  # recorded, not dropped
    assert unit.name in payment.flag_reason
    order.refresh_from_db()
    assert order.status == CredentialOrder.Status.PENDING_PAYMENT
    assert not Visitor.objects.filter(status=V.PENDING_REVIEW).exists()


def _remit(order, unit):
    return transfer_remittance_submit(
        order=order,
        actor=unit.account,
        remittance={
            "payer_kind": "unit",
            "payer_name": unit.name,
            "bank_branch": "中国银行广州天河支行",
            "account_number": "6217000012345678",
            "phone": "02012345678",
            "amount": order.total,
            "remitted_on": timezone.localdate(),
            "voucher": image_file("voucher.jpg", fmt="JPEG"),
        },
    )


def test_a_transfer_for_a_unit_no_longer_approved_is_flagged_for_finance(unit, edition, finance):
    open_for_payment(edition)
    order = pending_order(unit)
    payment = _remit(order, unit)
    set_status(unit, Unit.Status.REJECTED)
    assert transfer_confirm(payment_id=payment.pk, actor=finance) == "flagged"
    payment.refresh_from_db()
    assert payment.flagged and payment.status == Payment.Status.CREATED
    assert CredentialOrder.objects.get(pk=order.pk).status == CredentialOrder.Status.PENDING_PAYMENT
    # Finance can still decide: here, return it.
    assert transfer_reject(payment_id=payment.pk, actor=finance, reason="单位审核不通过，原路退回")


def test_the_delegation_settles_only_approved_units_visitors(edition, guangdong, unit, finance):
    open_for_payment(edition)
    approved = delegation_paid_visitor(unit)
    returned_unit = set_status(
        type(unit).objects.create(
            edition=edition,
            delegation=unit.delegation,
            region=unit.region,
            category=unit.category,
            name="退回修改的单位",
            uscc="",
            account_number="W000000001",
        ),
        Unit.Status.RETURNED,
    )
    delegation_paid_visitor(returned_unit)
    order = delegation_order_create(delegation=guangdong, actor=None)
    assert list(order.lines.values_list("visitor_id", flat=True)) == [approved.pk]
    assert order.total == Decimal("200.00")


# --- Visitor review and production ------------------------------------------------------------


def test_the_security_review_takes_only_approved_units_visitors(unit, other_unit, edition):
    mine = VisitorFactoryShortcut.at(unit, V.PENDING_REVIEW)
    theirs = VisitorFactoryShortcut.at(other_unit, V.PENDING_REVIEW)
    set_status(other_unit, Unit.Status.REJECTED)
    listed = list(pending_review_visitors(edition=edition))
    assert mine in listed and theirs not in listed


def test_a_review_result_for_a_unit_no_longer_approved_is_refused(unit, edition, organiser):
    visitor = VisitorFactoryShortcut.at(unit, V.PENDING_REVIEW)
    review_batch_export(edition=edition, actor=organiser)
    set_status(unit, Unit.Status.REJECTED)
    report = review_results_import(
        rows_file=SimpleUploadedFile(
            "results.xlsx", result_file([line(visitor, result=RESULT_PASSED)])
        ),
        edition=edition,
        actor=organiser,
    )
    assert [row.verdict for row in report.rows] == ["refused"]
    assert unit.name in " ".join(report.rows[0].problems)
    assert Visitor.objects.get(pk=visitor.pk).status == V.PENDING_REVIEW


def test_production_takes_only_approved_units_visitors(unit, other_unit, edition):
    mine = VisitorFactoryShortcut.at(unit, V.REVIEW_PASSED)
    theirs = VisitorFactoryShortcut.at(
        set_status(other_unit, Unit.Status.RETURNED), V.REVIEW_PASSED
    )
    ready = set(producible(Visitor.objects.filter(edition=edition)))
    assert mine in ready and theirs not in ready


# --- Expiry ------------------------------------------------------------------------------------


def test_an_order_with_a_failed_transfer_and_a_started_qr_payment_is_closed(unit, edition, finance):
    open_for_payment(edition)
    order = pending_order(unit)
    transfer = _remit(order, unit)
    transfer_reject(payment_id=transfer.pk, actor=finance, reason="查无此款")
    payment_create(order=order, method="qr_alipay", actor=unit.account)
    assert orders_expire(now=order.expires_at + timedelta(seconds=1)) == 1
    assert CredentialOrder.objects.get(pk=order.pk).status == CredentialOrder.Status.CLOSED


def test_an_order_with_a_transfer_awaiting_finance_stays_open(unit, edition):
    open_for_payment(edition)
    order = pending_order(unit)
    _remit(order, unit)
    assert orders_expire(now=order.expires_at + timedelta(seconds=1)) == 0


class VisitorFactoryShortcut:
    """Visitors of ``unit`` in a given state, as the earlier steps would have left them."""

    @staticmethod
    def submitted(unit, **values):
        return VisitorFactoryShortcut.at(unit, V.SUBMITTED, **values)

    @staticmethod
    def at(unit, status, **values):
        from tests.registration.factories import VisitorFactory

        values.setdefault("entry_period", unit.edition.entry_periods.first())
        if status not in (V.SAVED, V.SUBMITTED):
            values.setdefault("label", Label.VISITOR)
        return VisitorFactory(unit=unit, status=status, **values)
