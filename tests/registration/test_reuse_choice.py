"""往届专业观众人员: a returning unit chooses per earlier visitor between 证件复用 (reuse, the
edition's reuse percentage) and 重新申办 (a new card, full fee); reuse holds only while the card
data is last edition's, and a change clears it at once."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ciie_portal.models import AuditEntry
from credentials.orders.fees import credential_fee
from registration.models import Label, Unit, Visitor
from registration.returning import unit_bring_forward
from registration.services import (
    reuse_applies,
    unit_delegation_change,
    unit_info_save,
    visitor_change_entry_days,
    visitor_save,
    visitors_reuse_choose,
    visitors_submit,
)
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.registration.factories import DeliveryAddressFactory, UnitFactory, VisitorFactory

S = Visitor.Status


@pytest.fixture
def previous_edition(edition):
    previous = EditionFactory(number=edition.number - 1)
    whole = edition.entry_periods.get()
    EntryPeriodFactory(
        edition=previous,
        first_day=whole.first_day.replace(year=whole.first_day.year - 1),
        last_day=whole.last_day.replace(year=whole.last_day.year - 1),
    )
    return previous


@pytest.fixture
def old_unit(previous_edition, guangzhou):
    return UnitFactory(
        edition=previous_edition,
        delegation=guangzhou,
        name="广州往届贸易有限公司",
        status=Unit.Status.APPROVED,
    )


def _old_visitor(unit, name, status=S.REVIEW_PASSED, label=Label.VISITOR):
    return VisitorFactory(
        unit=unit,
        name=name,
        status=status,
        label=label,
        entry_period=unit.edition.entry_periods.get(),
        pickup="delegation",
        photo=f"visitor-photos/{name}.jpg",
    )


@pytest.fixture
def old_visitors(old_unit):
    return {
        "reuse": _old_visitor(old_unit, "李复用"),
        "renew": _old_visitor(old_unit, "王重办"),
        "pending": _old_visitor(old_unit, "赵待审", status=S.PENDING_REVIEW),
    }


@pytest.fixture
def brought(old_unit, old_visitors, edition):
    """The unit brought forward: 李复用 reuses (the default), 王重办 chose a new card."""
    unit, copied, _skipped = unit_bring_forward(
        previous_unit=old_unit,
        edition=edition,
        actor=old_unit.account,
        reuse_choices={old_visitors["renew"].pk: False},
    )
    assert copied == 3
    # The unit picks the same entry days as last time.
    Visitor.objects.filter(unit=unit).update(entry_period=edition.entry_periods.get())
    return unit


def copy_of(unit, name) -> Visitor:
    return (
        Visitor.objects.select_related(
            "unit", "entry_period", "previous__unit", "previous__entry_period"
        )
        .filter(unit=unit)
        .get(name=name)
    )


@pytest.fixture
def signed_in(brought):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(brought.account)
    return client


def test_the_bring_forward_stores_each_choice_and_reuse_is_the_default(brought):
    assert copy_of(brought, "李复用").reuse_eligible is True
    assert copy_of(brought, "王重办").reuse_eligible is False
    assert copy_of(brought, "赵待审").reuse_eligible is False  # never passed: nothing to reuse
    assert reuse_applies(copy_of(brought, "李复用"))
    assert not reuse_applies(copy_of(brought, "王重办"))


def test_the_fee_follows_the_choice(brought, edition):
    assert credential_fee(copy_of(brought, "李复用"), edition) == Decimal("100.00")
    assert credential_fee(copy_of(brought, "王重办"), edition) == Decimal("200.00")


def test_the_visitor_list_offers_the_choice_to_earlier_visitors_only(signed_in, brought):
    page = signed_in.get("/accounts/visitors/").content.decode()
    reuser, renewer, pending = (copy_of(brought, n) for n in ("李复用", "王重办", "赵待审"))
    assert f'name="reuse-{reuser.pk}" id="reuse-{reuser.pk}-reuse" value="reuse" checked' in page
    assert f'name="reuse-{renewer.pk}" id="reuse-{renewer.pk}-new" value="new" checked' in page
    assert f'name="reuse-{pending.pk}"' not in page
    assert "50% of the credential fee" in page


def test_the_unit_changes_its_choice_on_the_visitor_list(signed_in, brought, edition):
    reuser, renewer = copy_of(brought, "李复用"), copy_of(brought, "王重办")
    response = signed_in.post(
        "/accounts/visitors/reuse/",
        {f"reuse-{reuser.pk}": "new", f"reuse-{renewer.pk}": "reuse"},
        follow=True,
    )
    assert "2 credential choice(s) changed." in response.content.decode()
    assert credential_fee(copy_of(brought, "李复用"), edition) == Decimal("200.00")
    assert credential_fee(copy_of(brought, "王重办"), edition) == Decimal("100.00")
    entry = AuditEntry.objects.get(action="visitor.reuse_choose", object_id=str(reuser.pk))
    assert (entry.from_state, entry.to_state, entry.actor) == ("reuse", "new", brought.account)


def test_the_edit_page_has_the_choice_too(signed_in, brought):
    reuser = copy_of(brought, "李复用")
    page = signed_in.get(f"/accounts/visitors/{reuser.pk}/").content.decode()
    assert 'id="reuse-choice-reuse"' in page
    response = signed_in.post(
        "/accounts/visitors/reuse/", {f"reuse-{reuser.pk}": "new", "back": "edit"}
    )
    assert response["Location"] == f"/accounts/visitors/{reuser.pk}/"
    assert copy_of(brought, "李复用").reuse_eligible is False


def test_another_unit_cannot_choose_for_our_visitors(brought, other_contact):
    reuser = copy_of(brought, "李复用")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(other_contact)
    response = client.post("/accounts/visitors/reuse/", {f"reuse-{reuser.pk}": "new"}, follow=True)
    assert "Choose among your unit&#x27;s visitors." in response.content.decode()
    assert copy_of(brought, "李复用").reuse_eligible is True


def test_a_visitor_who_never_passed_cannot_choose_reuse(brought):
    pending = copy_of(brought, "赵待审")
    with pytest.raises(ValidationError, match="cannot reuse"):
        visitors_reuse_choose(unit=brought, choices={pending.pk: True}, actor=brought.account)


def test_a_submitted_visitor_keeps_its_choice(brought, edition):
    reuser = copy_of(brought, "李复用")
    DeliveryAddressFactory(unit=brought, is_default=True)
    visitors_submit(
        unit=brought, visitor_ids=[reuser.pk], actor=brought.account, sensitive_consent=True
    )
    assert Visitor.objects.get(pk=reuser.pk).status == S.PENDING_LOCK
    with pytest.raises(ValidationError, match="was submitted"):
        visitors_reuse_choose(unit=brought, choices={reuser.pk: False}, actor=brought.account)


# --- A change of card data clears reuse at once ---------------------------------------------


def _resave(visitor, actor, **values):
    return visitor_save(
        unit=visitor.unit,
        actor=actor,
        values=values,
        id_type=visitor.id_type,
        id_number=visitor.id_number,
        visitor=visitor,
    )


def test_saving_unchanged_card_data_keeps_reuse(brought, edition):
    reuser = copy_of(brought, "李复用")
    _resave(reuser, brought.account, position="总经理")
    assert copy_of(brought, "李复用").reuse_eligible is True
    assert not AuditEntry.objects.filter(action="visitor.reuse_cleared").exists()


def test_a_new_name_clears_reuse_and_the_full_fee_is_due(brought, edition, signed_in):
    reuser = copy_of(brought, "李复用")
    _resave(reuser, brought.account, name="李新名")
    changed = copy_of(brought, "李新名")
    assert changed.reuse_eligible is False
    assert credential_fee(changed, edition) == Decimal("200.00")
    entry = AuditEntry.objects.get(action="visitor.reuse_cleared")
    assert (entry.object_id, entry.data, entry.actor) == (
        str(reuser.pk),
        {"fields": ["name"]},
        brought.account,
    )
    # Reuse cannot be chosen again for the changed card.
    response = signed_in.post(
        "/accounts/visitors/reuse/", {f"reuse-{reuser.pk}": "reuse"}, follow=True
    )
    assert "the card data changed since then (name)" in response.content.decode()
    assert copy_of(brought, "李新名").reuse_eligible is False


def test_a_new_photo_clears_reuse(brought, edition):
    from django.core.files.base import ContentFile

    from tests.registration.images import image_file

    reuser = copy_of(brought, "李复用")
    visitor_save(
        unit=brought,
        actor=brought.account,
        values={},
        id_type=reuser.id_type,
        id_number=reuser.id_number,
        visitor=reuser,
        photo=ContentFile(image_file(fmt="JPEG").read(), name="new.jpg"),
    )
    assert copy_of(brought, "李复用").reuse_eligible is False
    assert credential_fee(copy_of(brought, "李复用"), edition) == Decimal("200.00")


def test_other_entry_days_clear_reuse(brought, edition):
    last_days = EntryPeriodFactory(
        edition=edition, name="后三天", first_day=edition.ends_on, fee="100.00"
    )
    reuser = copy_of(brought, "李复用")
    Visitor.objects.filter(pk=reuser.pk).update(status=S.SUBMITTED)
    visitor_change_entry_days(visitor=reuser, entry_period=last_days, actor=brought.account)
    changed = copy_of(brought, "李复用")
    assert changed.reuse_eligible is False
    assert credential_fee(changed, edition) == Decimal("100.00")  # the full fee of those days
    assert AuditEntry.objects.filter(
        action="visitor.reuse_cleared", data={"fields": ["entry_days"]}
    ).exists()


def test_a_new_unit_name_clears_reuse_for_every_visitor(brought, edition):
    unit_info_save(unit=brought, actor=brought.account, values={"name": "广州新名贸易有限公司"})
    assert not Visitor.objects.filter(unit=brought, reuse_eligible=True).exists()
    assert credential_fee(copy_of(brought, "李复用"), edition) == Decimal("200.00")
    assert (
        AuditEntry.objects.filter(
            action="visitor.reuse_cleared", data={"fields": ["unit_name"]}
        ).count()
        == 1
    )


def test_another_delegation_clears_reuse(brought, edition, other_delegation, organiser):
    unit_delegation_change(unit=brought, delegation=other_delegation, actor=organiser)
    assert Unit.objects.get(pk=brought.pk).delegation == other_delegation
    assert not Visitor.objects.filter(unit=brought, reuse_eligible=True).exists()
    assert AuditEntry.objects.filter(
        action="visitor.reuse_cleared", data={"fields": ["delegation"]}, actor=organiser
    ).exists()
    assert AuditEntry.objects.filter(action="unit.delegation_change", actor=organiser).exists()


def test_a_label_upgrade_means_a_new_card(brought, edition):
    Visitor.objects.filter(unit=brought, name="李复用").update(label=Label.VIP)
    assert not reuse_applies(copy_of(brought, "李复用"))
    Visitor.objects.filter(unit=brought, name="李复用").update(
        label=Label.VISITOR, needs_new_credential=True
    )
    assert not reuse_applies(copy_of(brought, "李复用"))


def test_reuse_applies_costs_no_query_with_the_documented_select_related(brought):
    visitors = list(
        Visitor.objects.filter(unit=brought).select_related(
            "unit", "entry_period", "previous__unit", "previous__entry_period"
        )
    )
    with CaptureQueriesContext(connection) as queries:
        results = [reuse_applies(v) for v in visitors]
    assert len(queries) == 0
    assert sorted(results) == [False, False, True]


def test_the_same_days_of_another_year_are_the_same_entry_days(brought, edition):
    reuser = copy_of(brought, "李复用")
    assert reuser.entry_period.first_day.year != reuser.previous.entry_period.first_day.year
    assert (reuser.entry_period.first_day.month, reuser.entry_period.first_day.day) == (
        reuser.previous.entry_period.first_day.month,
        reuser.previous.entry_period.first_day.day,
    )
    assert isinstance(reuser.entry_period.first_day, date)
