from functools import partial

import pytest
from django.core.exceptions import ValidationError

from ciie_portal.models import AuditEntry, Notice
from delegations.models import DelegationQuota
from delegations.services import visitors_label, visitors_lock
from registration.models import Label, Unit, Visitor
from tests.conftest import on_postgres
from tests.races import run_at_once
from tests.registration.factories import UnitFactory, VisitorFactory

S = Visitor.Status


def action(client, model, name, ids, **extra):
    return client.post(
        f"/admin/registration/{model}/",
        {"action": name, "_selected_action": [str(pk) for pk in ids], **extra},
        follow=True,
    )


@pytest.fixture
def submitted(unit):
    Unit.objects.filter(pk=unit.pk).update(
        status=Unit.Status.SUBMITTED, contact_email="unit@example.com", contact_mobile="13800000001"
    )
    unit.refresh_from_db()
    return unit


def test_a_secretary_approves_a_unit_and_it_is_told(client, secretary, submitted):
    client.force_login(secretary)
    response = action(client, "unit", "review_approve", [submitted.pk])
    assert "1" in response.content.decode()
    submitted.refresh_from_db()
    assert submitted.status == Unit.Status.APPROVED
    notice = Notice.objects.get(event="unit_review_result", channel="email")
    assert notice.recipient == "unit@example.com"
    assert AuditEntry.objects.filter(action="unit.approved", actor=secretary).exists()


def test_returning_asks_for_a_reason_then_the_unit_edits_again(client, secretary, submitted):
    client.force_login(secretary)
    page = action(client, "unit", "review_return", [submitted.pk])
    assert 'name="reason"' in page.content.decode()
    assert Unit.objects.get(pk=submitted.pk).status == Unit.Status.SUBMITTED
    action(client, "unit", "review_return", [submitted.pk], reason="营业执照不清晰，请重新上传")
    submitted.refresh_from_db()
    assert submitted.status == Unit.Status.RETURNED
    assert submitted.is_editable
    notice = Notice.objects.get(event="unit_review_result", channel="email")
    assert notice.params["reason"] == "营业执照不清晰，请重新上传"
    entry = AuditEntry.objects.get(action="unit.returned")
    assert entry.reason == "营业执照不清晰，请重新上传"


def test_an_empty_reason_changes_nothing(client, secretary, submitted):
    client.force_login(secretary)
    response = action(client, "unit", "review_reject", [submitted.pk], reason="  ")
    assert Unit.objects.get(pk=submitted.pk).status == Unit.Status.SUBMITTED
    assert "errornote" in response.content.decode() or "error" in response.content.decode()


def test_a_rejected_unit_is_final(client, secretary, submitted):
    client.force_login(secretary)
    action(client, "unit", "review_reject", [submitted.pk], reason="不符合专业观众条件")
    submitted.refresh_from_db()
    assert submitted.status == Unit.Status.REJECTED
    assert not submitted.is_editable
    action(client, "unit", "review_approve", [submitted.pk])
    assert Unit.objects.get(pk=submitted.pk).status == Unit.Status.REJECTED


def test_another_delegations_secretary_cannot_review_this_unit(client, other_secretary, submitted):
    client.force_login(other_secretary)
    action(client, "unit", "review_approve", [submitted.pk])
    assert Unit.objects.get(pk=submitted.pk).status == Unit.Status.SUBMITTED
    assert client.get(f"/admin/registration/unit/{submitted.pk}/change/").status_code in (302, 404)


def test_finance_has_no_review_tools(client, finance, submitted):
    client.force_login(finance)
    assert client.get("/admin/registration/unit/").status_code == 403
    assert client.get("/admin/registration/visitor/").status_code == 403


def test_the_form_cannot_change_a_label_past_the_services(client, secretary, unit):
    visitor = VisitorFactory(unit=unit, status=S.SUBMITTED)
    client.force_login(secretary)
    page = client.get(f"/admin/registration/visitor/{visitor.pk}/change/").content.decode()
    assert 'name="label"' not in page
    assert 'name="status"' not in page


def test_labels_in_bulk_respect_the_quota(client, secretary, unit, edition, guangdong):
    DelegationQuota.objects.create(edition=edition, delegation=guangdong, vip_limit=1)
    a, b = VisitorFactory.create_batch(2, unit=unit, status=S.SUBMITTED)
    client.force_login(secretary)
    response = action(client, "visitor", "label_vip", [a.pk, b.pk])
    assert "1" in response.content.decode()
    assert set(Visitor.objects.values_list("label", flat=True)) == {""}
    action(client, "visitor", "label_vip", [a.pk])
    assert Visitor.objects.get(pk=a.pk).label == Label.VIP
    page = client.get("/admin/registration/visitor/").content.decode()
    assert "1/1" in page
    action(client, "visitor", "label_staff", [b.pk])
    assert Visitor.objects.get(pk=b.pk).label == Label.STAFF


def test_the_quota_counts_the_whole_trade_delegation(unit, edition, guangdong, secretary):
    from delegations.models import Delegation

    science = UnitFactory(
        edition=edition, delegation=Delegation.objects.get(code="gd-science-technology")
    )
    DelegationQuota.objects.create(edition=edition, delegation=guangdong, staff_limit=1)
    VisitorFactory(unit=science, status=S.SUBMITTED, label=Label.STAFF)
    mine = VisitorFactory(unit=unit, status=S.SUBMITTED)
    with pytest.raises(ValidationError):
        visitors_label(
            visitors=Visitor.objects.filter(pk=mine.pk), label=Label.STAFF, actor=secretary
        )


def test_reuse_labels_can_only_go_up(unit, secretary):
    staff = VisitorFactory(
        unit=unit, status=S.PENDING_LOCK, original_label=Label.STAFF, label=Label.STAFF
    )
    vip = VisitorFactory(
        unit=unit, status=S.PENDING_LOCK, original_label=Label.VIP, label=Label.VIP
    )
    Unit.objects.filter(pk=unit.pk).update(contact_email="unit@example.com")
    with pytest.raises(ValidationError):
        visitors_label(
            visitors=Visitor.objects.filter(pk=staff.pk), label=Label.VISITOR, actor=secretary
        )
    with pytest.raises(ValidationError):
        visitors_label(
            visitors=Visitor.objects.filter(pk=vip.pk), label=Label.STAFF, actor=secretary
        )
    visitors_label(visitors=Visitor.objects.filter(pk=staff.pk), label=Label.VIP, actor=secretary)
    staff.refresh_from_db()
    assert (staff.label, staff.needs_new_credential) == (Label.VIP, True)
    assert Notice.objects.filter(event="label_upgrade", recipient="unit@example.com").count() == 1


def test_a_label_upgrade_is_told_by_sms_and_by_email(unit, secretary):
    staff = VisitorFactory(
        unit=unit, status=S.PENDING_LOCK, original_label=Label.STAFF, label=Label.STAFF
    )
    Unit.objects.filter(pk=unit.pk).update(
        contact_email="unit@example.com", contact_mobile="13800000009"
    )
    visitors_label(visitors=Visitor.objects.filter(pk=staff.pk), label=Label.VIP, actor=secretary)
    sent = set(Notice.objects.filter(event="label_upgrade").values_list("channel", "recipient"))
    assert sent == {("sms", "13800000009"), ("email", "unit@example.com")}


def test_a_label_upgrade_goes_by_sms_alone_when_there_is_no_email(unit, secretary):
    staff = VisitorFactory(
        unit=unit, status=S.PENDING_LOCK, original_label=Label.STAFF, label=Label.STAFF
    )
    Unit.objects.filter(pk=unit.pk).update(contact_email="", contact_mobile="13800000009")
    visitors_label(visitors=Visitor.objects.filter(pk=staff.pk), label=Label.VIP, actor=secretary)
    sent = set(Notice.objects.filter(event="label_upgrade").values_list("channel", "recipient"))
    assert sent == {("sms", "13800000009")}


def test_lock_moves_visitors_and_tells_each_unit_once(unit, other_unit, secretary, organiser):
    Unit.objects.filter(pk=unit.pk).update(
        contact_email="u@example.com", contact_mobile="13800000001"
    )
    paying = VisitorFactory.create_batch(3, unit=unit, status=S.SUBMITTED, label=Label.VISITOR)
    vip = VisitorFactory(unit=unit, status=S.SUBMITTED, label=Label.VIP)
    unlabelled = VisitorFactory(unit=unit, status=S.SUBMITTED)
    reuse = VisitorFactory(unit=unit, status=S.PENDING_LOCK, label=Label.STAFF)
    result = visitors_lock(visitors=Visitor.objects.filter(unit=unit), actor=secretary)
    assert result == {"to_pay": 3, "to_review": 2, "units": 1}
    statuses = dict(Visitor.objects.values_list("pk", "status"))
    assert all(statuses[v.pk] == S.PENDING_PAYMENT for v in paying)
    assert statuses[vip.pk] == S.PENDING_REVIEW and statuses[reuse.pk] == S.PENDING_REVIEW
    assert statuses[unlabelled.pk] == S.SUBMITTED
    notices = Notice.objects.filter(event="pay_now")
    assert sorted(notices.values_list("channel", flat=True)) == ["email", "sms"]
    assert notices.get(channel="sms").params["count"] == 3
    assert AuditEntry.objects.filter(action="visitor.pending_payment").count() == 3


def test_lock_from_the_admin(client, secretary, unit):
    visitor = VisitorFactory(unit=unit, status=S.SUBMITTED, label=Label.VIP)
    client.force_login(secretary)
    action(client, "visitor", "lock_submission", [visitor.pk])
    assert Visitor.objects.get(pk=visitor.pk).status == S.PENDING_REVIEW


def test_the_unit_changelist_costs_the_same_for_1_or_500_rows(
    client, secretary, edition, guangzhou, django_assert_max_num_queries
):
    UnitFactory(edition=edition, delegation=guangzhou)
    client.force_login(secretary)
    with django_assert_max_num_queries(20) as one:
        client.get("/admin/registration/unit/")
    UnitFactory.create_batch(499, edition=edition, delegation=guangzhou)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get("/admin/registration/unit/").status_code == 200


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_two_secretaries_labelling_at_once_never_pass_the_quota(django_db_setup):
    from delegations.models import Delegation
    from tests.ciie_portal.factories import EditionFactory
    from tests.delegations.factories import DelegationFactory

    edition = EditionFactory(number=40)
    group = DelegationFactory(name="并发交易团", code="concurrent")
    DelegationQuota.objects.create(edition=edition, delegation=group, vip_limit=1)
    unit = UnitFactory(edition=edition, delegation=group, status=Unit.Status.APPROVED)
    first, second = VisitorFactory.create_batch(2, unit=unit, status=S.SUBMITTED)

    def label(visitor):
        visitors_label(visitors=Visitor.objects.filter(pk=visitor.pk), label=Label.VIP, actor=None)

    races = run_at_once(partial(label, first), partial(label, second))
    assert not [race.error for race in races if not isinstance(race.error, ValidationError | None)]
    outcomes = ["ok" if race.ok else "refused" for race in races]
    assert sorted(outcomes) == ["ok", "refused"]
    assert Visitor.objects.filter(unit=unit, label=Label.VIP).count() == 1
    assert Delegation.objects.filter(pk=group.pk).exists()


def test_a_returned_unit_edits_and_submits_again(client, secretary, submitted, contact):
    from django.utils import timezone

    VisitorFactory(unit=submitted, status=S.SUBMITTED)
    Unit.objects.filter(pk=submitted.pk).update(info_saved_at=timezone.now())
    client.force_login(secretary)
    action(client, "unit", "review_return", [submitted.pk], reason="请补充联系人")
    client.force_login(contact)
    assert 'name="contact_name"' in client.get("/accounts/unit/").content.decode()
    client.post("/accounts/submit/", {})
    assert Unit.objects.get(pk=submitted.pk).status == Unit.Status.SUBMITTED
    assert list(
        AuditEntry.objects.filter(object_id=str(submitted.pk), action__startswith="unit.")
        .order_by("pk")
        .values_list("to_state", flat=True)
    ) == ["returned", "submitted"]
