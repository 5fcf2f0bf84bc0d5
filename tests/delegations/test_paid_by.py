"""交易团代付: a secretary marks units or visitors as paid for by the delegation, in the admin or
in the bulk-registration sheet; reversible until an order exists."""

import io

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation
from openpyxl import load_workbook

from ciie_portal.models import AuditEntry, Notice
from credentials.orders.delegation import delegation_order_create
from credentials.orders.services import order_cancel
from delegations.bulk import NOTES_SHEET, bulk_register, template_workbook
from delegations.paid_by import (
    paid_by_preview,
    units_mark_paid_by_delegation,
    visitors_mark_paid_by_delegation,
)
from registration.models import Label, Unit, Visitor
from registration.services import visitor_save
from tests.credentials.factories import delegation_paid_visitor, payable_visitor
from tests.delegations.test_bulk import mainland, workbook
from tests.payments.factories import open_for_payment, pending_order
from tests.registration.factories import UnitFactory, VisitorFactory, make_resident_id

S = Visitor.Status
UNITS = "/admin/registration/unit/"
VISITORS = "/admin/registration/visitor/"


@pytest.fixture(autouse=True)
def _in_english(settings):
    """Messages are asserted in English (the catalogue's msgids)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def client():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def unit(edition, guangzhou):
    """An approved unit of 广州 that can be told by SMS and email."""
    return UnitFactory(
        edition=open_for_payment(edition),
        delegation=guangzhou,
        status=Unit.Status.APPROVED,
        contact_email="unit@example.com",
        contact_mobile="13800000001",
    )


@pytest.fixture
def other_unit(edition, other_delegation):
    return UnitFactory(edition=edition, delegation=other_delegation, status=Unit.Status.APPROVED)


def flags(*visitors) -> list[tuple[bool, str]]:
    return [
        tuple(Visitor.objects.filter(pk=v.pk).values_list("paid_by_delegation", "status")[0])
        for v in visitors
    ]


def units_of(unit):
    return Unit.objects.filter(pk=unit.pk)


def only(*visitors):
    return Visitor.objects.filter(pk__in=[v.pk for v in visitors])


# --- The service ----------------------------------------------------------------------------


def test_marking_a_unit_marks_it_and_every_visitor_that_may_change(unit, secretary):
    saved = VisitorFactory(unit=unit)
    submitted = VisitorFactory(unit=unit, status=S.SUBMITTED, label=Label.VISITOR)
    vip = VisitorFactory(unit=unit, status=S.PENDING_REVIEW, label=Label.VIP)
    cancelled = VisitorFactory(unit=unit, status=S.CANCELLED)
    failed = VisitorFactory(unit=unit, status=S.REVIEW_FAILED)

    change = units_mark_paid_by_delegation(units=units_of(unit), paid=True, actor=secretary)

    assert Unit.objects.get(pk=unit.pk).paid_by_delegation
    assert {v.pk for v in change.visitors} == {saved.pk, submitted.pk, vip.pk}
    assert flags(saved, submitted, vip, cancelled, failed) == [
        (True, S.SAVED),
        (True, S.SUBMITTED),
        (True, S.PENDING_REVIEW),
        (False, S.CANCELLED),
        (False, S.REVIEW_FAILED),
    ]
    unit_entry = AuditEntry.objects.get(action="unit.paid_by_delegation")
    assert (unit_entry.object_id, unit_entry.from_state, unit_entry.to_state) == (
        str(unit.pk),
        "0",
        "1",
    )
    assert unit_entry.actor == secretary
    visitor_entries = AuditEntry.objects.filter(action="visitor.paid_by_delegation")
    assert sorted(int(e.object_id) for e in visitor_entries) == sorted(
        [saved.pk, submitted.pk, vip.pk]
    )
    assert {(e.from_state, e.to_state) for e in visitor_entries} == {("0", "1")}


def test_marking_again_changes_and_records_nothing(unit, secretary):
    VisitorFactory(unit=unit)
    units_mark_paid_by_delegation(units=units_of(unit), paid=True, actor=secretary)
    before = AuditEntry.objects.count()
    change = units_mark_paid_by_delegation(units=units_of(unit), paid=True, actor=secretary)
    assert not change.changes_anything
    assert AuditEntry.objects.count() == before


def test_visitors_added_later_inherit_the_units_mark(unit, secretary, contact):
    units_mark_paid_by_delegation(units=units_of(unit), paid=True, actor=secretary)
    unit.refresh_from_db()
    visitor = visitor_save(
        unit=unit,
        actor=contact,
        values={"person_type": "mainland", "name": "后来的人"},
        id_type="resident_id",
        id_number=make_resident_id(77),
    )
    assert Visitor.objects.get(pk=visitor.pk).paid_by_delegation


def test_visitors_awaiting_payment_go_on_to_review_and_the_unit_is_not_asked_to_pay(
    unit, secretary
):
    waiting = payable_visitor(unit)
    change = visitors_mark_paid_by_delegation(visitors=only(waiting), paid=True, actor=secretary)
    assert [v.pk for v in change.to_review] == [waiting.pk]
    assert flags(waiting) == [(True, S.PENDING_REVIEW)]
    move = AuditEntry.objects.get(action="visitor.pending_review")
    assert (move.from_state, move.actor) == (S.PENDING_PAYMENT, secretary)
    assert not Notice.objects.filter(event="pay_now").exists()
    # The unit's own unit mark is not touched by a visitor's.
    assert not Unit.objects.get(pk=unit.pk).paid_by_delegation


def test_undoing_sends_a_professional_visitor_back_to_payment_and_tells_the_unit(
    unit, secretary, django_capture_on_commit_callbacks
):
    paid_for = delegation_paid_visitor(unit)
    vip = delegation_paid_visitor(unit, label=Label.VIP)
    Unit.objects.filter(pk=unit.pk).update(paid_by_delegation=True)
    with django_capture_on_commit_callbacks(execute=True):
        change = units_mark_paid_by_delegation(units=units_of(unit), paid=False, actor=secretary)
    assert [v.pk for v in change.to_payment] == [paid_for.pk]
    assert flags(paid_for, vip) == [(False, S.PENDING_PAYMENT), (False, S.PENDING_REVIEW)]
    assert not Unit.objects.get(pk=unit.pk).paid_by_delegation
    move = AuditEntry.objects.get(action="visitor.pending_payment")
    assert (move.object_id, move.from_state) == (str(paid_for.pk), S.PENDING_REVIEW)
    entries = AuditEntry.objects.filter(action__endswith=".paid_by_delegation")
    assert {(e.from_state, e.to_state) for e in entries} == {("1", "0")}
    notices = Notice.objects.filter(event="pay_now")
    assert {(n.channel, n.recipient) for n in notices} == {
        ("sms", "13800000001"),
        ("email", "unit@example.com"),
    }
    assert all(n.params["count"] == 1 for n in notices)


def test_a_visitor_in_a_unit_order_is_refused_by_name_and_order(unit, secretary):
    order = pending_order(unit)
    ordered = order.lines.get().visitor
    with pytest.raises(ValidationError) as refused:
        visitors_mark_paid_by_delegation(visitors=only(ordered), paid=True, actor=secretary)
    message = " ".join(refused.value.messages)
    assert ordered.name in message and order.number in message
    assert "cancel the order first" in message
    assert flags(ordered) == [(False, S.PENDING_PAYMENT)]
    assert not AuditEntry.objects.filter(action="visitor.paid_by_delegation").exists()

    order_cancel(order=order, actor=unit.account)
    visitors_mark_paid_by_delegation(visitors=only(ordered), paid=True, actor=secretary)
    assert flags(ordered) == [(True, S.PENDING_REVIEW)]


def test_marking_a_unit_changes_the_others_and_lists_the_ordered_ones(unit, secretary):
    order = pending_order(unit)
    ordered = order.lines.get().visitor
    free = VisitorFactory(unit=unit, status=S.SUBMITTED)
    change = units_mark_paid_by_delegation(units=units_of(unit), paid=True, actor=secretary)
    assert [v.pk for v in change.visitors] == [free.pk]
    assert [v.pk for v, _reason in change.refused_visitors] == [ordered.pk]
    assert order.number in change.refusals[0]
    assert flags(ordered, free) == [(False, S.PENDING_PAYMENT), (True, S.SUBMITTED)]
    assert Unit.objects.get(pk=unit.pk).paid_by_delegation


def test_once_the_delegation_settled_the_mark_cannot_be_undone_until_cancelled(
    unit, guangdong, group_secretary
):
    paid_for = delegation_paid_visitor(unit)
    order = delegation_order_create(delegation=guangdong, actor=group_secretary)
    with pytest.raises(ValidationError, match=order.number):
        visitors_mark_paid_by_delegation(visitors=only(paid_for), paid=False, actor=group_secretary)
    assert flags(paid_for) == [(True, S.PENDING_REVIEW)]
    order_cancel(order=order, actor=group_secretary)
    visitors_mark_paid_by_delegation(visitors=only(paid_for), paid=False, actor=group_secretary)
    assert flags(paid_for) == [(False, S.PENDING_PAYMENT)]


def test_a_visitor_with_a_review_result_stays_paid_by_the_delegation(unit, secretary):
    passed = delegation_paid_visitor(unit, status=S.REVIEW_PASSED)
    with pytest.raises(ValidationError, match="already has a review result"):
        visitors_mark_paid_by_delegation(visitors=only(passed), paid=False, actor=secretary)
    assert flags(passed) == [(True, S.REVIEW_PASSED)]


@pytest.mark.parametrize(
    ("status", "why"),
    [
        (Unit.Status.REJECTED, "rejected"),
        (Unit.Status.DRAFT, "has not submitted"),
        (Unit.Status.RETURNED, "returned for changes"),
    ],
)
def test_only_approved_units_and_units_awaiting_review_can_be_marked(unit, secretary, status, why):
    visitor = VisitorFactory(unit=unit, status=S.SUBMITTED)
    Unit.objects.filter(pk=unit.pk).update(status=status)
    for call, rows in (
        (units_mark_paid_by_delegation, {"units": units_of(unit)}),
        (visitors_mark_paid_by_delegation, {"visitors": only(visitor)}),
    ):
        with pytest.raises(ValidationError) as refused:
            call(**rows, paid=True, actor=secretary)
        assert unit.name in refused.value.messages[0] and why in refused.value.messages[0]
    assert not Unit.objects.get(pk=unit.pk).paid_by_delegation
    assert flags(visitor) == [(False, S.SUBMITTED)]


def test_a_unit_awaiting_review_can_be_marked(unit, secretary):
    Unit.objects.filter(pk=unit.pk).update(status=Unit.Status.SUBMITTED)
    units_mark_paid_by_delegation(units=units_of(unit), paid=True, actor=secretary)
    assert Unit.objects.get(pk=unit.pk).paid_by_delegation


def test_the_preview_changes_nothing(unit):
    waiting = payable_visitor(unit)
    preview = paid_by_preview(units=units_of(unit), paid=True)
    assert [v.pk for v in preview.to_review] == [waiting.pk]
    assert flags(waiting) == [(False, S.PENDING_PAYMENT)]
    assert not AuditEntry.objects.exists()


# --- The admin ------------------------------------------------------------------------------


def act(client, changelist, name, ids, **extra):
    return client.post(
        changelist, {"action": name, ACTION_CHECKBOX_NAME: [str(pk) for pk in ids], **extra}
    )


def test_a_secretary_confirms_then_marks_a_unit(client, unit, secretary):
    waiting = payable_visitor(unit, name="待付张三")
    ordered = pending_order(unit).lines.get().visitor
    client.force_login(secretary)

    page = act(client, UNITS, "mark_paid_by_delegation", [unit.pk])
    assert page.status_code == 200
    content = page.content.decode()
    assert 'id="paid-by-confirm"' in content and 'id="paid-by-yes"' in content
    assert 'id="paid-by-visitor-count">1<' in content and "待付张三" in content
    assert 'id="paid-by-refused-count">1<' in content and ordered.name in content
    assert not Unit.objects.get(pk=unit.pk).paid_by_delegation  # looking changes nothing

    done = act(client, UNITS, "mark_paid_by_delegation", [unit.pk], post="yes")
    assert done.status_code == 302
    assert Unit.objects.get(pk=unit.pk).paid_by_delegation
    assert flags(waiting, ordered) == [(True, S.PENDING_REVIEW), (False, S.PENDING_PAYMENT)]
    listing = client.get(done["Location"]).content.decode()
    assert "1 visitor marked as paid by the delegation" in listing
    assert "1 moved from awaiting payment to awaiting review" in listing
    assert "Not changed:" in listing and "cancel the order first" in listing


def test_the_trade_delegations_secretary_and_the_organiser_may_mark_too(
    client, unit, group_secretary, organiser
):
    visitor = VisitorFactory(unit=unit, status=S.SUBMITTED)
    client.force_login(group_secretary)
    act(client, VISITORS, "mark_paid_by_delegation", [visitor.pk], post="yes")
    assert flags(visitor) == [(True, S.SUBMITTED)]
    client.force_login(organiser)
    act(client, VISITORS, "undo_paid_by_delegation", [visitor.pk], post="yes")
    assert flags(visitor) == [(False, S.SUBMITTED)]


def test_another_delegations_secretary_can_neither_see_nor_mark(
    client, unit, other_unit, other_secretary
):
    visitor = VisitorFactory(unit=unit, status=S.SUBMITTED, name="广州李四")
    client.force_login(other_secretary)
    for changelist, pk in ((UNITS, unit.pk), (VISITORS, visitor.pk)):
        page = act(client, changelist, "mark_paid_by_delegation", [pk])
        assert 'id="paid-by-confirm"' not in page.content.decode()
        act(client, changelist, "mark_paid_by_delegation", [pk], post="yes")
    assert not Unit.objects.get(pk=unit.pk).paid_by_delegation
    assert flags(visitor) == [(False, S.SUBMITTED)]
    assert "广州李四" not in client.get(VISITORS).content.decode()


def test_finance_may_not_mark(client, unit, finance):
    client.force_login(finance)
    assert client.get(UNITS).status_code == 403
    response = act(client, UNITS, "mark_paid_by_delegation", [unit.pk], post="yes")
    assert response.status_code == 403
    assert not Unit.objects.get(pk=unit.pk).paid_by_delegation


def test_undoing_a_refused_visitor_says_why_on_the_confirmation_page(client, unit, secretary):
    passed = delegation_paid_visitor(unit, status=S.REVIEW_PASSED, name="已审王五")
    client.force_login(secretary)
    page = act(client, VISITORS, "undo_paid_by_delegation", [passed.pk]).content.decode()
    assert "已审王五" in page and "already has a review result" in page
    assert 'id="paid-by-yes"' not in page  # nothing to confirm
    done = act(client, VISITORS, "undo_paid_by_delegation", [passed.pk], post="yes")
    assert "already has a review result" in client.get(done["Location"]).content.decode()
    assert flags(passed) == [(True, S.REVIEW_PASSED)]


def test_the_lists_filter_and_show_the_mark(client, unit, secretary, edition, guangzhou):
    plain = UnitFactory(edition=edition, delegation=guangzhou, status=Unit.Status.APPROVED)
    marked = VisitorFactory(unit=unit, status=S.SUBMITTED, name="代付赵六")
    VisitorFactory(unit=plain, status=S.SUBMITTED, name="自付钱七")
    units_mark_paid_by_delegation(units=units_of(unit), paid=True, actor=secretary)
    client.force_login(secretary)
    units = client.get(UNITS, {"paid_by_delegation": "yes"}).content.decode()
    assert unit.name in units and plain.name not in units
    assert "Paid by the delegation (1)" in units and "column-paid_by_delegation" in units
    visitors = client.get(VISITORS, {"paid_by_delegation": "yes"}).content.decode()
    assert marked.name in visitors and "自付钱七" not in visitors
    assert "column-paid_by_delegation" in visitors


# --- Bulk registration ----------------------------------------------------------------------


def import_rows(rows, user, edition):
    return bulk_register(rows_file=io.BytesIO(workbook(rows)), user=user, edition=edition)


@pytest.mark.parametrize(
    ("cell", "paid"),
    [
        ("是", True),
        ("yes", True),
        ("Y", True),
        ("1", True),
        ("否", False),
        ("no", False),
        ("0", False),
        ("", False),
    ],  # fmt: skip
)
def test_the_sheets_column_marks_the_visitor(unit, secretary, edition, cell, paid):
    report = import_rows([mainland(unit, 1, paid_by_delegation=cell)], secretary, edition)
    assert report.refused == [] and len(report.visitor_ids) == 1
    visitor = Visitor.objects.get(pk=report.visitor_ids[0])
    assert (visitor.paid_by_delegation, visitor.status) == (paid, S.SAVED)
    assert AuditEntry.objects.filter(action="visitor.paid_by_delegation").count() == int(paid)


def test_an_empty_cell_keeps_the_units_mark_and_no_undoes_it(unit, secretary, edition):
    Unit.objects.filter(pk=unit.pk).update(paid_by_delegation=True)
    report = import_rows(
        [mainland(unit, 1), mainland(unit, 2, paid_by_delegation="否")], secretary, edition
    )
    assert report.refused == []
    assert [Visitor.objects.get(pk=pk).paid_by_delegation for pk in report.visitor_ids] == [
        True,
        False,
    ]


def test_a_bad_value_is_reported_in_its_column(unit, secretary, edition):
    report = import_rows([mainland(unit, 1, paid_by_delegation="也许")], secretary, edition)
    assert not Visitor.objects.exists()
    [row] = report.refused
    [(column, message)] = row.reasons
    assert column == "交易团代付" and "是、否" in message


def test_a_unit_that_cannot_be_marked_refuses_the_row(unit, secretary, edition):
    Unit.objects.filter(pk=unit.pk).update(status=Unit.Status.DRAFT)
    report = import_rows(
        [mainland(unit, 1, paid_by_delegation="是"), mainland(unit, 2)], secretary, edition
    )
    assert report.saved_rows == [3]
    [(column, message)] = report.refused[0].reasons
    assert column == "交易团代付" and unit.name in message
    assert not Visitor.objects.filter(paid_by_delegation=True).exists()


def test_the_template_explains_the_column(edition):
    book = load_workbook(io.BytesIO(template_workbook(edition)))
    assert "交易团代付" in [cell.value for cell in book.active[1]]
    notes = {row[0]: row for row in book[NOTES_SHEET].iter_rows(values_only=True)}
    assert "是、否" in notes["交易团代付"][2]


# --- What the unit sees ---------------------------------------------------------------------

ORDER_NEW = "/accounts/orders/new/"


def test_the_units_order_page_shows_no_pay_button_for_visitors_the_delegation_pays_for(
    client, unit, contact, secretary
):
    waiting = payable_visitor(unit, name="自付孙八")
    client.force_login(contact)
    page = client.get(ORDER_NEW).content.decode()
    assert "自付孙八" in page and 'id="order-submit"' in page

    units_mark_paid_by_delegation(units=units_of(unit), paid=True, actor=secretary)
    page = client.get(ORDER_NEW).content.decode()
    assert "自付孙八" not in page and 'id="none-payable"' in page
    assert 'id="order-submit"' not in page and 'id="unit-paid-by-delegation"' in page
    orders = client.get("/accounts/orders/").content.decode()
    assert ORDER_NEW not in orders and 'id="unit-paid-by-delegation"' in orders
    visitors = client.get("/accounts/visitors/").content.decode()
    assert "Paid by the delegation" in visitors
    assert flags(waiting) == [(True, S.PENDING_REVIEW)]


def test_a_visitor_the_delegation_pays_for_is_never_offered_for_an_order(client, unit, contact):
    # Should one ever wait for payment, it still shows as paid by the delegation, unpickable.
    paid_for = payable_visitor(unit, name="代付周九", paid_by_delegation=True)
    client.force_login(contact)
    page = client.get(ORDER_NEW).content.decode()
    assert "代付周九" in page and "Paid by the delegation" in page
    assert f'value="{paid_for.pk}"' not in page and 'id="order-submit"' not in page
