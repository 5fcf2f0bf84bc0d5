"""个人注册: the registrant fills in the unit information and is the one visitor."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from registration.models import Unit, Visitor
from registration.services import visitor_save
from registration.validators import resident_id_sex
from registration.views_join import join_token
from tests.registration.factories import DeliveryAddressFactory, UnitFactory, make_resident_id
from tests.registration.test_join import colleague_data
from tests.registration.test_visitors import mainland


@pytest.fixture(autouse=True)
def _private_media(private_media):
    return private_media


@pytest.fixture
def individual(edition, guangzhou):
    return UnitFactory(edition=edition, delegation=guangzhou, kind=Unit.Kind.INDIVIDUAL)


@pytest.fixture
def signed_in(individual):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(individual.account)
    return client


@pytest.fixture
def address(individual):
    return DeliveryAddressFactory(unit=individual, is_default=True)


def test_the_registrant_registers_themself_and_then_no_one_else(
    signed_in, individual, edition, address
):
    page = signed_in.get("/accounts/visitors/").content.decode()
    assert "/accounts/visitors/add/mainland/" in page
    response = signed_in.post("/accounts/visitors/add/mainland/", mainland(edition, address))
    assert response.status_code == 302
    assert Visitor.objects.filter(unit=individual).count() == 1

    page = signed_in.get("/accounts/visitors/").content.decode()
    assert "/accounts/visitors/add/" not in page
    assert 'id="individual-one-visitor"' in page
    assert "it registers only you" in page

    second = make_resident_id(13, birth="19850315")
    response = signed_in.post(
        "/accounts/visitors/add/mainland/",
        mainland(edition, address, id_number=second, sex=resident_id_sex(second)),
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "An individual registration registers only the registrant" in page
    assert 'value="采购经理"' in page  # nothing typed is lost
    assert Visitor.objects.filter(unit=individual).count() == 1


def test_the_add_page_of_a_full_individual_registration_sends_back_to_the_list(
    signed_in, individual
):
    Visitor.objects.create(
        edition=individual.edition, unit=individual, person_type="mainland", name="本人"
    )
    response = signed_in.get("/accounts/visitors/add/mainland/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/visitors/"
    assert "only the registrant" in response.content.decode()


def test_a_cancelled_registrant_can_be_registered_again(individual):
    from tests.registration.factories import VisitorFactory

    VisitorFactory(unit=individual, status=Visitor.Status.CANCELLED)
    visitor = visitor_save(
        unit=individual,
        actor=individual.account,
        values={"person_type": "mainland", "name": "本人"},
        id_type="resident_id",
        id_number=make_resident_id(55),
    )
    assert visitor.pk


def test_staff_cannot_add_a_second_visitor_either(individual, secretary):
    visitor_save(
        unit=individual,
        actor=secretary,
        values={"person_type": "mainland", "name": "本人"},
        id_type="resident_id",
        id_number=make_resident_id(56),
    )
    with pytest.raises(ValidationError, match="only the registrant"):
        visitor_save(
            unit=individual,
            actor=secretary,
            values={"person_type": "mainland", "name": "同事"},
            id_type="resident_id",
            id_number=make_resident_id(57),
        )


def test_an_individual_registration_has_no_invite_link(signed_in, individual):
    page = signed_in.get("/accounts/join/").content.decode()
    assert 'id="join-individual"' in page
    assert 'id="join-url"' not in page
    assert signed_in.get("/accounts/join/qr.png").status_code == 404
    assert "/accounts/join/" not in signed_in.get("/accounts/visitors/").content.decode()


def test_a_join_link_of_an_individual_registration_is_refused(individual):
    colleague = Client(HTTP_ACCEPT_LANGUAGE="en")
    link = f"/accounts/join/{join_token(individual)}/"
    response = colleague.get(link)
    assert response.status_code == 403
    assert "colleagues cannot join it" in response.content.decode()
    response = colleague.post(link + "?type=mainland", colleague_data(individual))
    assert response.status_code == 403
    assert not Visitor.objects.filter(unit=individual).exists()


def test_a_unit_registration_still_has_its_invite_link(client, contact):
    client.force_login(contact)
    assert 'id="join-url"' in client.get("/accounts/join/").content.decode()
