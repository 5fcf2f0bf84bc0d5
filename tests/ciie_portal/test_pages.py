import re
from io import StringIO

import pytest
from django.core.management import call_command

from ciie_portal.models import SideEvent
from delegations.models import Delegation, Secretary
from registration.models import Unit, User, Visitor
from tests.delegations.factories import DelegationFactory
from tests.registration.factories import VisitorFactory


def test_the_landing_page_shows_the_edition_fees_and_delegation_contacts(client, edition):
    page = client.get("/")
    assert page.status_code == 200
    content = page.content.decode()
    assert '<html lang="zh-hans">' in content
    assert edition.name in content
    assert "200.00" in content
    assert "广东交易团" in content
    assert "广东科技交易分团" in content
    assert "郭映琦、杨保志" in content
    assert "交易团联系方式" in content


def test_the_landing_page_says_when_no_edition_is_open(client, db):
    content = client.get("/").content.decode()
    assert "尚未开放" in content


def test_the_visitor_switches_to_english(client, edition):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"}, follow=True)
    content = response.content.decode()
    assert '<html lang="en">' in content
    assert "Delegation contacts" in content
    assert "Credential fees" in content


def test_the_landing_page_cost_does_not_grow_with_delegations(
    client, edition, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6) as few:
        client.get("/")
    parent = DelegationFactory()
    for _ in range(30):
        DelegationFactory(parent=parent)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/")


def test_health_check(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_a_unit_contact_sees_their_own_unit_with_masked_ids(client, contact, unit, other_unit):
    mine = VisitorFactory(unit=unit)
    theirs = VisitorFactory(unit=other_unit)
    client.force_login(contact)
    content = client.get("/accounts/visitors/").content.decode()
    assert unit.name in client.get("/accounts/").content.decode()
    assert mine.name in content
    assert mine.id_number_masked in content
    assert mine.id_number not in content
    assert other_unit.name not in content
    assert theirs.name not in content


def test_the_account_page_needs_a_login(client, unit):
    response = client.get("/accounts/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.fixture
def demo(db):
    out = StringIO()
    call_command("demo_load", stdout=out)
    return out.getvalue()


def _accounts(output: str) -> list[tuple[str, str, str]]:
    return re.findall(r"^\s+(.+?)\s+(\S+) / (\S+)\s+\((\S+)\)$", output, re.M)


def test_demo_data_loads_twice_without_duplicates(demo):
    counts = (Unit.objects.count(), Visitor.objects.count(), User.objects.count())
    call_command("demo_load", stdout=StringIO())
    assert (Unit.objects.count(), Visitor.objects.count(), User.objects.count()) == counts
    assert Visitor.objects.filter(edition__is_current=True).count() == 2
    # 配套活动: two taking sign-ups (one needing approval), one only listed; not doubled.
    events = SideEvent.objects.filter(edition__is_current=True)
    assert events.count() == 3
    assert set(events.values_list("capacity", "needs_approval")) == {
        (3, False),
        (50, True),
        (None, False),
    }


def test_demo_accounts_cover_the_cast(demo):
    accounts = _accounts(demo)
    assert len(accounts) == 11
    staff = {username: where for _role, username, _password, where in accounts}
    assert staff["reviewer"] == staff["office"] == "/admin/" and staff["gate"] == "/gate/"
    secretaries = {
        s.user.username: s.delegation.name
        for s in Secretary.objects.select_related("user", "delegation")
    }
    assert secretaries["gd-secretary"] == "广东交易团"
    assert Delegation.objects.get(name=secretaries["gz-secretary"]).parent.name == "广东交易团"
    other = Delegation.objects.get(name=secretaries["zj-secretary"])
    assert other.parent is None and other.name != "广东交易团"


def test_every_demo_account_can_log_in(client, demo, settings):
    # make run (embedded mode) exempts the demo accounts from the second factor; elsewhere
    # staff enrol an authenticator first (tests/ciie_portal/test_two_factor.py).
    settings.TWO_FACTOR_DEMO_EXEMPT = True
    for _role, username, password, where in _accounts(demo):
        client.logout()
        if where == "/accounts/register/returning/":
            # Registered for the previous edition only: verifies and is brought forward.
            response = client.post(
                "/accounts/register/returning/?method=password",
                {"username": username, "password": password},
                follow=True,
            )
            assert Unit.objects.filter(
                account__username=username, edition__is_current=True
            ).exists()
            assert response.status_code == 200
        elif where.startswith("/gate/app/#enrol="):
            # The demo gate device: its one-time link registers it.
            response = client.post(
                "/gate/api/enrol/",
                {"token": where.split("=", 1)[1]},
                content_type="application/json",
            )
            assert response.status_code == 200 and response.json()["device_key"]
        elif where == "/gate/":
            response = client.post(
                "/admin/login/?next=/gate/", {"username": username, "password": password}
            )
            assert response.status_code == 302, username
            assert client.get("/gate/").status_code == 200, username
        elif where == "/admin/":
            response = client.post(
                "/admin/login/?next=/admin/", {"username": username, "password": password}
            )
            assert response.status_code == 302, username
            assert client.get("/admin/").status_code == 200, username
        else:
            response = client.post(
                "/accounts/login/", {"username": username, "password": password}, follow=True
            )
            assert "广州示范贸易有限公司" in response.content.decode()
