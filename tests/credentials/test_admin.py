import pytest
from django.contrib.auth.models import Permission

from tests.credentials.factories import order_with_lines
from tests.registration.factories import UserFactory


@pytest.fixture
def superuser(db):
    return UserFactory(is_staff=True, is_superuser=True)


def test_orders_are_listed_searchable_and_read_only(client, superuser, unit, other_unit):
    ours, theirs = order_with_lines(unit, lines=2), order_with_lines(other_unit)
    client.force_login(superuser)
    listing = client.get("/admin/credentials/credentialorder/").content.decode()
    assert ours.number in listing and theirs.number in listing
    found = client.get("/admin/credentials/credentialorder/", {"q": unit.name}).content.decode()
    assert ours.number in found and theirs.number not in found
    filtered = client.get(
        "/admin/credentials/credentialorder/", {"status__exact": "paid"}
    ).content.decode()
    assert ours.number not in filtered
    page = client.get(f"/admin/credentials/credentialorder/{ours.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert ours.number in html
    for line in ours.lines.select_related("visitor"):
        assert line.visitor.id_number_masked in html
        assert line.visitor.id_number not in html
    assert 'name="_save"' not in html
    assert client.get("/admin/credentials/credentialorder/add/").status_code == 403
    assert client.get(f"/admin/credentials/credentialorder/{ours.pk}/delete/").status_code == 403
    response = client.post(
        f"/admin/credentials/credentialorder/{ours.pk}/change/", {"total": "0.00"}
    )
    assert response.status_code == 403
    ours.refresh_from_db()
    assert str(ours.total) == "400.00"


def test_a_secretary_sees_only_their_delegations_orders(client, secretary, unit, other_unit):
    secretary.user_permissions.add(
        Permission.objects.get(codename="view_credentialorder"),
        Permission.objects.get(codename="view_orderline"),
    )
    ours, theirs = order_with_lines(unit), order_with_lines(other_unit)
    client.force_login(secretary)
    listing = client.get("/admin/credentials/credentialorder/").content.decode()
    assert ours.number in listing
    assert theirs.number not in listing
    assert client.get(f"/admin/credentials/credentialorder/{theirs.pk}/change/").status_code in (
        302,
        404,
    )
