"""The registration window is enforced by the services, in Beijing time: signing up, bringing an
earlier registration forward, adding and submitting visitors, submitting the unit and colleagues
joining — a minute before closing it works, a minute after it is refused with the window and what
to do, next to the form and without losing what was typed. Staff are not bound."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from ciie_portal.models import Edition
from ciie_portal.windows import beijing_text
from registration.models import Unit, Visitor
from registration.returning import unit_bring_forward
from registration.services import visitor_save, visitors_submit
from registration.views_join import join_token
from tests.ciie_portal.factories import EditionFactory
from tests.registration.factories import (
    DeliveryAddressFactory,
    UnitFactory,
    VisitorFactory,
    make_resident_id,
)
from tests.registration.test_signup import account_data, enter, last_code, request_code
from tests.registration.test_visitors import mainland

MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _private_media(private_media):
    return private_media


def closing_in(edition, delta: timedelta) -> Edition:
    """Registration closes ``delta`` from now (negative: it closed that long ago)."""
    now = timezone.now()
    Edition.objects.filter(pk=edition.pk).update(
        registration_opens_at=now - timedelta(days=60), registration_closes_at=now + delta
    )
    edition.refresh_from_db()
    return edition


def opening_in(edition, delta: timedelta) -> Edition:
    now = timezone.now()
    Edition.objects.filter(pk=edition.pk).update(
        registration_opens_at=now + delta, registration_closes_at=now + timedelta(days=60)
    )
    edition.refresh_from_db()
    return edition


@pytest.fixture
def english():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def signed_in(english, contact):
    english.force_login(contact)
    return english


@pytest.fixture
def address(unit):
    return DeliveryAddressFactory(unit=unit, is_default=True)


def complete_visitor(unit, n=1, **kwargs):
    period = unit.edition.entry_periods.first()
    visitor = VisitorFactory(
        unit=unit,
        id_number=make_resident_id(n, birth="19850315"),
        entry_period=period,
        pickup="delegation",
        **kwargs,
    )
    Visitor.objects.filter(pk=visitor.pk).update(photo="visitor-photos/x.jpg")
    return visitor


# --- Signing up -----------------------------------------------------------------------------


def test_a_minute_before_closing_a_unit_signs_up(english, edition, guangzhou):
    closing_in(edition, MINUTE)
    enter(english)
    request_code(english)
    response = english.post(
        "/accounts/register/account/", account_data(guangzhou, sms_code=last_code())
    )
    assert response.status_code == 302
    assert Unit.objects.filter(name="广州测试贸易有限公司").exists()


def test_a_minute_after_closing_the_signup_is_refused_next_to_the_form(english, edition, guangzhou):
    enter(english)
    request_code(english)
    code = last_code()
    closing_in(edition, -MINUTE)
    page = english.get("/accounts/register/account/").content.decode()
    closes = beijing_text(edition.registration_closes_at)
    assert 'id="registration-window"' in page
    assert f"Registration closed at {closes} (Beijing time" in page

    response = english.post("/accounts/register/account/", account_data(guangzhou, sms_code=code))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="signup-errors"' in page
    assert "contact your delegation" in page
    # Nothing typed is lost, and no account was opened.
    assert 'value="广州测试贸易有限公司"' in page
    assert not Unit.objects.filter(name="广州测试贸易有限公司").exists()


def test_before_opening_the_entry_page_says_when_registration_opens(english, edition):
    opening_in(edition, MINUTE)
    page = english.get("/accounts/register/").content.decode()
    assert (
        "Registration is not open yet: it opens at " + beijing_text(edition.registration_opens_at)
        in page
    )


# --- Visitors -------------------------------------------------------------------------------


def test_when_closed_the_add_visitor_button_says_so_in_beijing_time(signed_in, edition):
    closing_in(edition, -MINUTE)
    page = signed_in.get("/accounts/visitors/").content.decode()
    assert "/accounts/visitors/add/mainland/" not in page
    assert f"Registration closed at {beijing_text(edition.registration_closes_at)}" in page


def test_before_opening_the_add_visitor_button_says_when(signed_in, edition):
    opening_in(edition, MINUTE)
    page = signed_in.get("/accounts/visitors/").content.decode()
    assert "/accounts/visitors/add/mainland/" not in page
    assert f"Adding visitors opens at {beijing_text(edition.registration_opens_at)}" in page


def test_a_visitor_added_a_minute_before_closing_is_saved(signed_in, unit, edition, address):
    closing_in(edition, MINUTE)
    page = signed_in.get("/accounts/visitors/").content.decode()
    assert "/accounts/visitors/add/mainland/" in page
    response = signed_in.post("/accounts/visitors/add/mainland/", mainland(edition, address))
    assert response.status_code == 302
    assert Visitor.objects.filter(unit=unit).count() == 1


def test_a_visitor_posted_a_minute_after_closing_is_refused_and_nothing_is_lost(
    signed_in, unit, edition, address
):
    closing_in(edition, -MINUTE)
    response = signed_in.post(
        "/accounts/visitors/add/mainland/", mainland(edition, address, position="采购总监")
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Registration closed at" in page
    assert 'value="采购总监"' in page
    assert not Visitor.objects.filter(unit=unit).exists()


def test_after_closing_saved_visitors_cannot_be_submitted(signed_in, unit, edition):
    visitor = complete_visitor(unit)
    closing_in(edition, -MINUTE)
    response = signed_in.post(
        "/accounts/visitors/submit/", {"visitor": [visitor.pk], "pledge": "1"}, follow=True
    )
    assert "Registration closed at" in response.content.decode()
    assert Visitor.objects.get(pk=visitor.pk).status == Visitor.Status.SAVED


def test_a_minute_before_closing_visitors_are_submitted(signed_in, unit, edition):
    visitor = complete_visitor(unit)
    closing_in(edition, MINUTE)
    signed_in.post("/accounts/visitors/submit/", {"visitor": [visitor.pk], "pledge": "1"})
    assert Visitor.objects.get(pk=visitor.pk).status == Visitor.Status.SUBMITTED


def test_submitting_with_the_visitor_form_after_closing_is_refused(signed_in, unit, edition):
    visitor = complete_visitor(unit)
    closing_in(edition, -MINUTE)
    with pytest.raises(ValidationError, match="Registration closed"):
        visitor_save(
            unit=unit,
            actor=unit.account,
            values={"name": visitor.name},
            id_type=visitor.id_type,
            id_number=visitor.id_number,
            visitor=visitor,
            submit=True,
        )
    # Only saving (no submit) a visitor registered in time still works.
    visitor_save(
        unit=unit,
        actor=unit.account,
        values={"position": "经理"},
        id_type=visitor.id_type,
        id_number=visitor.id_number,
        visitor=visitor,
    )
    assert Visitor.objects.get(pk=visitor.pk).position == "经理"


# --- The unit -------------------------------------------------------------------------------


def test_after_closing_the_unit_cannot_be_submitted(signed_in, unit, edition):
    Unit.objects.filter(pk=unit.pk).update(info_saved_at=timezone.now())
    complete_visitor(unit, status=Visitor.Status.SUBMITTED)
    closing_in(edition, -MINUTE)
    page = signed_in.get("/accounts/submit/").content.decode()
    assert 'id="registration-window"' in page
    response = signed_in.post("/accounts/submit/", {}, follow=True)
    assert "Registration closed at" in response.content.decode()
    assert Unit.objects.get(pk=unit.pk).status == Unit.Status.DRAFT


def test_a_returned_unit_may_submit_its_corrections_after_closing(signed_in, unit, edition):
    Unit.objects.filter(pk=unit.pk).update(
        info_saved_at=timezone.now(), status=Unit.Status.RETURNED
    )
    complete_visitor(unit, status=Visitor.Status.SUBMITTED)
    edition.auto_approve_categories = []
    edition.save()
    closing_in(edition, -MINUTE)
    signed_in.post("/accounts/submit/", {})
    assert Unit.objects.get(pk=unit.pk).status == Unit.Status.SUBMITTED


# --- Staff are not bound --------------------------------------------------------------------


def test_a_secretary_still_registers_visitors_after_closing(unit, edition, secretary):
    closing_in(edition, -MINUTE)
    visitor = visitor_save(
        unit=unit,
        actor=secretary,
        values={"person_type": "mainland", "name": "秘书处补录"},
        id_type="resident_id",
        id_number=make_resident_id(77),
    )
    complete = complete_visitor(unit, n=78)
    assert visitor.pk
    submitted = visitors_submit(
        unit=unit,
        visitor_ids=[complete.pk],
        actor=secretary,
    )
    assert len(submitted) == 1


def test_the_contact_of_the_same_unit_is_bound(unit, edition):
    closing_in(edition, -MINUTE)
    with pytest.raises(ValidationError, match="Registration closed"):
        visitor_save(
            unit=unit,
            actor=unit.account,
            values={"person_type": "mainland", "name": "联络员"},
            id_type="resident_id",
            id_number=make_resident_id(79),
        )


# --- Returning units and colleagues ---------------------------------------------------------


def test_after_closing_an_earlier_registration_is_not_brought_forward(edition, guangzhou):
    old_unit = UnitFactory(edition=EditionFactory(number=edition.number - 1), delegation=guangzhou)
    closing_in(edition, -MINUTE)
    with pytest.raises(ValidationError, match="Registration closed"):
        unit_bring_forward(previous_unit=old_unit, edition=edition, actor=old_unit.account)
    assert not Unit.objects.filter(edition=edition, account=old_unit.account).exists()
    closing_in(edition, MINUTE)
    unit, _copied, _skipped = unit_bring_forward(
        previous_unit=old_unit, edition=edition, actor=old_unit.account
    )
    assert unit.edition == edition


def test_after_closing_the_returning_page_says_so_next_to_the_form(english, edition, guangzhou):
    old_unit = UnitFactory(edition=EditionFactory(number=edition.number - 1), delegation=guangzhou)
    closing_in(edition, -MINUTE)
    page = english.get("/accounts/register/returning/").content.decode()
    assert 'id="registration-window"' in page
    response = english.post(
        "/accounts/register/returning/?method=password",
        {"method": "password", "username": old_unit.uscc, "password": "Correct-Horse-9"},
    )
    assert response.status_code == 200
    assert "Registration closed at" in response.content.decode()
    assert not Unit.objects.filter(edition=edition, account=old_unit.account).exists()


def test_after_closing_colleagues_cannot_join(english, unit, edition):
    link = f"/accounts/join/{join_token(unit)}/"
    closing_in(edition, -MINUTE)
    response = english.get(link)
    assert response.status_code == 403
    assert "Registration closed at" in response.content.decode()


def test_a_colleague_posting_after_closing_keeps_the_form(english, unit, edition):
    from tests.registration.test_join import colleague_data

    link = f"/accounts/join/{join_token(unit)}/?type=mainland"
    closing_in(edition, -MINUTE)
    response = english.post(link, colleague_data(unit, position="采购专员"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Registration closed at" in page
    assert 'value="采购专员"' in page
    assert not Visitor.objects.filter(unit=unit).exists()
