"""注销: the unit cancels its own visitor from the visitor's page; staff cancel from the visitor
list in the admin, within their delegation. Cancelled visitors of paid orders are refundable."""

from datetime import date

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.utils import translation

from ciie_portal.models import AuditEntry, Notice
from ciie_portal.notices.services import render_notice
from credentials.models import CredentialOrder
from credentials.orders.services import order_create, order_mark_paid
from credentials.review.cancellation import visitors_cancel
from payments.refunds import refundable_lines
from registration.models import Label, Visitor
from tests.payments.factories import open_for_payment, pending_order
from tests.registration.factories import VisitorFactory

V = Visitor.Status
CHANGELIST = "/admin/registration/visitor/"


@pytest.fixture(autouse=True)
def _in_english(settings):
    """Messages are asserted in English (the catalogue's msgids); pages default to English too."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def cancel_url(visitor) -> str:
    return f"/accounts/orders/visitors/{visitor.pk}/cancel/"


def page_url(visitor) -> str:
    return f"/accounts/visitors/{visitor.pk}/"


def visitor_of(unit, status=V.PENDING_REVIEW, **overrides):
    values = {
        "unit": unit,
        "status": status,
        "label": Label.VISITOR,
        "sex": "M",
        "birth_date": date(1980, 1, 1),
        "entry_period": unit.edition.entry_periods.first(),
    }
    values.update(overrides)
    return VisitorFactory(**values)


@pytest.fixture
def with_email(unit):
    unit.contact_email = "unit@example.com"
    unit.save()
    return unit


# --- The unit --------------------------------------------------------------------------------


def test_the_unit_cancels_its_visitor_with_a_reason(client, with_email, contact):
    visitor = visitor_of(with_email)
    client.force_login(contact)

    page = client.get(page_url(visitor)).content.decode()
    assert cancel_url(visitor) in page and "data-confirm" in page

    response = client.post(cancel_url(visitor), {"reason": "  员工离职  "}, follow=True)

    visitor.refresh_from_db()
    assert visitor.status == V.CANCELLED
    assert f"{visitor.name} was cancelled." in response.content.decode()
    assert cancel_url(visitor) not in response.content.decode()  # nothing left to cancel
    audit = AuditEntry.objects.get(object_id=str(visitor.pk), action="visitor.cancelled")
    assert (audit.actor, audit.from_state, audit.reason) == (contact, V.PENDING_REVIEW, "员工离职")
    notice = Notice.objects.get(event="visitor_cancelled")
    assert notice.recipient == "unit@example.com"
    text = render_notice(notice)["text"]
    assert visitor.name in text and "员工离职" in text


def test_another_units_visitor_cannot_be_cancelled(client, unit, other_contact):
    visitor = visitor_of(unit)
    client.force_login(other_contact)

    assert client.post(cancel_url(visitor)).status_code == 404
    assert client.get(page_url(visitor)).status_code == 404
    visitor.refresh_from_db()
    assert visitor.status == V.PENDING_REVIEW
    assert not Notice.objects.exists()


def test_cancelling_needs_a_post(client, unit, contact):
    visitor = visitor_of(unit)
    client.force_login(contact)
    assert client.get(cancel_url(visitor)).status_code == 405
    visitor.refresh_from_db()
    assert visitor.status == V.PENDING_REVIEW


@pytest.mark.parametrize(
    "status",
    [V.SUBMITTED, V.PENDING_LOCK, V.PENDING_PAYMENT, V.PENDING_REVIEW, V.REVIEW_PASSED],
)
def test_visitors_from_submitted_onward_can_be_cancelled(client, unit, contact, status):
    visitor = visitor_of(unit, status=status)
    client.force_login(contact)
    client.post(cancel_url(visitor))
    visitor.refresh_from_db()
    assert visitor.status == V.CANCELLED


def test_a_saved_visitor_is_deleted_not_cancelled(client, unit, contact):
    visitor = visitor_of(unit, status=V.SAVED)
    client.force_login(contact)
    response = client.post(cancel_url(visitor), follow=True)
    assert "not cancelled but deleted" in response.content.decode()
    visitor.refresh_from_db()
    assert visitor.status == V.SAVED


@pytest.mark.parametrize("status", [V.REVIEW_FAILED, V.CANCELLED])
def test_a_failed_or_cancelled_visitor_cannot_be_cancelled(client, unit, contact, status):
    visitor = visitor_of(unit, status=status)
    client.force_login(contact)
    assert cancel_url(visitor) not in client.get(page_url(visitor)).content.decode()
    response = client.post(cancel_url(visitor), follow=True)
    assert "cannot be cancelled" in response.content.decode()
    visitor.refresh_from_db()
    assert visitor.status == status
    assert not AuditEntry.objects.filter(action="visitor.cancelled").exists()


def test_a_cancelled_visitor_of_a_paid_order_becomes_refundable(client, unit, contact):
    open_for_payment(unit.edition)
    order = pending_order(unit, visitors=2)
    order_mark_paid(order=order, actor=None)
    leaving, staying = (line.visitor for line in order.lines.order_by("pk"))
    client.force_login(contact)

    client.post(cancel_url(leaving))

    assert [line.visitor_id for line in refundable_lines(unit)] == [leaving.pk]
    page = client.get(page_url(leaving)).content.decode()
    assert "can be refunded" in page


def test_a_cancelled_visitor_of_an_unpaid_order_is_pointed_at_the_order(client, unit, contact):
    open_for_payment(unit.edition)
    order = pending_order(unit, visitors=2)
    leaving = order.lines.order_by("pk").first().visitor
    client.force_login(contact)

    response = client.post(cancel_url(leaving), follow=True)

    assert order.number in response.content.decode()
    assert "cancel the order" in response.content.decode()
    order.refresh_from_db()
    assert order.status == CredentialOrder.Status.PENDING_PAYMENT  # the unit decides
    # Once the order is cancelled, a cancelled visitor cannot be ordered again.
    client.post(f"/accounts/orders/{order.number}/cancel/")
    order.refresh_from_db()
    assert order.status == CredentialOrder.Status.CANCELLED
    with translation.override("en"), pytest.raises(ValidationError, match="awaiting payment"):
        order_create(unit=unit, visitor_ids=[leaving.pk], actor=contact)


def test_the_service_cancels_set_based_and_tells_each_unit_once(unit, other_unit, secretary):
    unit.contact_email, other_unit.contact_email = "a@example.com", "b@example.com"
    unit.save()
    other_unit.save()
    mine = [visitor_of(unit) for _n in range(3)]
    theirs = visitor_of(other_unit, status=V.REVIEW_PASSED)
    saved = visitor_of(unit, status=V.SAVED)

    result = visitors_cancel(
        visitors=Visitor.objects.filter(pk__in=[v.pk for v in (*mine, theirs, saved)]),
        actor=secretary,
        reason="重复报名",
    )

    assert result.count == 4 and result.skipped == 1
    assert Visitor.objects.filter(status=V.CANCELLED).count() == 4
    notices = Notice.objects.filter(event="visitor_cancelled")
    assert sorted(notices.values_list("recipient", flat=True)) == ["a@example.com", "b@example.com"]
    assert notices.get(recipient="a@example.com").params["count"] == 3


# --- Staff in the admin ----------------------------------------------------------------------


def _action(client, visitors, **extra):
    return client.post(
        CHANGELIST,
        {"action": "cancel_visitors", ACTION_CHECKBOX_NAME: [v.pk for v in visitors], **extra},
    )


def test_a_secretary_cancels_visitors_of_their_delegation_with_a_reason(
    client, secretary, with_email
):
    first, second = visitor_of(with_email), visitor_of(with_email, status=V.PENDING_PAYMENT)
    client.force_login(secretary)

    assert "Cancel the selected visitors" in client.get(CHANGELIST).content.decode()
    ask = _action(client, [first, second])
    assert ask.status_code == 200
    assert 'name="reason"' in ask.content.decode() and first.name in ask.content.decode()
    first.refresh_from_db()
    assert first.status == V.PENDING_REVIEW  # asking changes nothing

    done = _action(client, [first, second], confirm="yes", reason="单位要求注销")

    assert done.status_code == 302
    assert set(Visitor.objects.values_list("status", flat=True)) == {V.CANCELLED}
    audit = AuditEntry.objects.filter(action="visitor.cancelled")
    assert audit.count() == 2 and {a.reason for a in audit} == {"单位要求注销"}
    assert {a.actor for a in audit} == {secretary}
    assert Notice.objects.filter(event="visitor_cancelled").count() == 1


def test_another_delegations_secretary_can_neither_see_nor_cancel(client, other_secretary, unit):
    visitor = visitor_of(unit)
    client.force_login(other_secretary)

    assert visitor.name not in client.get(CHANGELIST).content.decode()
    assert client.get(f"{CHANGELIST}{visitor.pk}/change/").status_code == 302  # "not found"
    _action(client, [visitor], confirm="yes", reason="x")

    visitor.refresh_from_db()
    assert visitor.status == V.PENDING_REVIEW
    assert not AuditEntry.objects.filter(action="visitor.cancelled").exists()


def test_the_group_secretary_cancels_in_a_sub_delegation(client, group_secretary, unit):
    visitor = visitor_of(unit)
    client.force_login(group_secretary)
    _action(client, [visitor], confirm="yes")
    visitor.refresh_from_db()
    assert visitor.status == V.CANCELLED


def test_staff_without_change_permission_have_no_cancel_action(client, finance, unit):
    from django.contrib.auth.models import Permission

    finance.user_permissions.add(Permission.objects.get(codename="view_visitor"))
    finance.user_permissions.add(Permission.objects.get(codename="view_all_units"))
    visitor = visitor_of(unit)
    client.force_login(finance)

    assert "Cancel the selected visitors" not in client.get(CHANGELIST).content.decode()
    _action(client, [visitor], confirm="yes")
    visitor.refresh_from_db()
    assert visitor.status == V.PENDING_REVIEW


def test_cancelling_revokes_the_visitors_credential(unit, contact):
    from credentials.models import Credential, ProductionJob

    visitor = visitor_of(unit, status=V.REVIEW_PASSED)
    credential = Credential.objects.create(
        edition=visitor.edition,
        visitor=visitor,
        sequence=1,
        number="T000000001",
        label=Label.VISITOR,
        first_day=date(2027, 11, 5),
        last_day=date(2027, 11, 10),
        name=visitor.name,
        unit_name=unit.name,
        card_data_hash="0" * 64,
        qr_payload="qr-1",
        job=ProductionJob.objects.create(edition=visitor.edition),
    )
    visitors_cancel(visitors=Visitor.objects.filter(pk=visitor.pk), actor=contact, reason="离职")
    credential.refresh_from_db()
    assert credential.status == Credential.Status.REVOKED
    assert "注销" in credential.revoked_reason
