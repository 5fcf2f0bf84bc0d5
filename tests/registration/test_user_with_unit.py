"""The signed-in contact and their unit of the current edition read in one statement
(``registration.auth.ModelBackend.get_user``), which the request's ``current_unit`` takes once;
anyone else is read as before."""

from django.contrib.auth import get_user
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from registration.access import current_unit
from registration.auth import ModelBackend
from tests.ciie_portal.factories import EditionFactory
from tests.registration.factories import UnitFactory, UserFactory


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
    request.user = ModelBackend().get_user(contact.pk)
    with CaptureQueriesContext(connection) as first:
        assert current_unit(request).pk == unit.pk
    assert first.captured_queries == []
    unit.__class__.objects.filter(pk=unit.pk).update(name="改名后的单位")
    with CaptureQueriesContext(connection) as second:
        assert current_unit(request).name == "改名后的单位"  # a service may have changed it
    assert len(second.captured_queries) == 1


def test_staff_and_accounts_without_a_unit_of_the_edition_are_read_as_before(edition):
    staff = UserFactory(is_staff=True)
    elsewhere = UnitFactory(edition=EditionFactory(number=edition.number - 1)).account
    backend = ModelBackend()
    assert backend.get_user(staff.pk) == staff
    assert backend.get_user(elsewhere.pk) == elsewhere
    assert backend.get_user(10**9) is None


def test_an_inactive_contact_is_signed_out(client, contact):
    client.force_login(contact)
    contact.__class__.objects.filter(pk=contact.pk).update(is_active=False)
    response = client.get("/accounts/visitors/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    request = RequestFactory().get("/")
    request.session = client.session
    assert not get_user(request).is_authenticated
