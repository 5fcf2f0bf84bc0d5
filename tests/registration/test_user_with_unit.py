"""The signed-in contact and their unit of the current edition read in one statement
(``registration.auth.ModelBackend.get_user``), which the request's ``current_unit`` takes once;
anyone else is read as before."""

from django.contrib.auth import get_user
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from registration.access import current_unit
from registration.auth import ModelBackend, UnitContactBackend
from tests.ciie_portal.factories import EditionFactory
from tests.registration.factories import PASSWORD, UnitFactory, UserFactory


def _statements(client, path) -> list[str]:
    with CaptureQueriesContext(connection) as done:
        assert client.get(path).status_code == 200
    return [q["sql"] for q in done.captured_queries]


def test_a_unit_page_reads_the_contact_with_the_unit(client, contact, unit):
    client.force_login(contact)
    client.get("/accounts/visitors/")
    statements = _statements(client, "/accounts/visitors/")
    from_unit = [s for s in statements if s.startswith('SELECT "registration_unit"."id"')]
    assert len(from_unit) == 1
    assert '"registration_user"' in from_unit[0]  # the account's row in the same statement
    assert not [s for s in statements if s.startswith('SELECT "registration_user"')]
    assert unit.name in client.get("/accounts/").content.decode()  # the contact's own unit


def test_the_unit_is_handed_out_once_then_read_anew(rf: RequestFactory, contact, unit):
    request = rf.get("/accounts/visitors/")
    request.user = UnitContactBackend().get_user(contact.pk)
    with CaptureQueriesContext(connection) as first:
        assert current_unit(request).pk == unit.pk
    assert first.captured_queries == []
    unit.__class__.objects.filter(pk=unit.pk).update(name="改名后的单位")
    with CaptureQueriesContext(connection) as second:
        assert current_unit(request).name == "改名后的单位"  # a service may have changed it
    assert len(second.captured_queries) == 1


def test_accounts_without_a_unit_of_the_edition_are_read_as_before(edition):
    elsewhere = UnitFactory(edition=EditionFactory(number=edition.number - 1)).account
    backend = UnitContactBackend()
    assert backend.get_user(elsewhere.pk) == elsewhere
    assert not hasattr(elsewhere, "_unit_read_with_user")
    assert backend.get_user(10**9) is None
    assert backend.authenticate(None, username=elsewhere.username, password=PASSWORD) is None


def test_a_contacts_session_names_the_unit_contact_backend_and_staffs_does_not(
    client, contact, edition
):
    from django.contrib.auth import BACKEND_SESSION_KEY

    assert (
        client.post(
            "/accounts/login/", {"username": contact.username, "password": PASSWORD}
        ).status_code
        == 302
    )
    assert client.session[BACKEND_SESSION_KEY] == "registration.auth.UnitContactBackend"
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.session[BACKEND_SESSION_KEY] == "registration.auth.ModelBackend"
    with CaptureQueriesContext(connection) as done:
        ModelBackend().get_user(staff.pk)
    assert len(done.captured_queries) == 1  # the user alone: no unit asked for


def test_an_inactive_contact_is_signed_out(client, contact):
    client.force_login(contact)
    contact.__class__.objects.filter(pk=contact.pk).update(is_active=False)
    response = client.get("/accounts/visitors/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    request = RequestFactory().get("/")
    request.session = client.session
    assert not get_user(request).is_authenticated
