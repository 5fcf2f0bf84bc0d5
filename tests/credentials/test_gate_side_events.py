"""At a side event's door: gate staff scan a credential (or type its number) and read whether
its holder is on the event's list — admitted, awaiting approval, waiting, declined or not on
it — with the holder's name; forged, revoked and unknown credentials are refused first."""

import pytest
from django.contrib.auth.models import Permission

from registration.side_events.models import SideEventSignup
from registration.side_events.services import side_event_signup
from tests.registration.factories import UserFactory
from tests.registration.side_event_factories import side_event

pytestmark = pytest.mark.django_db

S = SideEventSignup.Status


@pytest.fixture
def event(edition):
    return side_event(edition, capacity=1, signup_requires="reviewed")


def _check(client, event, text):
    response = client.post(
        f"/gate/events/{event.pk}/check/", {"payload": text}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    html = response.content.decode()
    return response.context["result"], html


def test_the_list_is_checked_by_qr_code_or_number(client, gate_staff, event, unit, credentials):
    today, later = credentials["today"], credentials["later"]
    side_event_signup(
        event=event, unit=unit, visitor_ids=[today.visitor_id, later.visitor_id], actor=None
    )
    client.force_login(gate_staff)
    assert event.display_name in client.get("/gate/events/").content.decode()

    result, html = _check(client, event, today.qr_payload + "\r\n")
    assert (result.answer, result.name, result.admitted) == ("admitted", "王小明", True)
    assert 'data-admitted="true"' in html and "On the list: admitted" in html and "王小明" in html

    result, html = _check(client, event, later.number)
    assert (result.answer, result.name) == ("waiting", "Anna Schmidt")
    assert 'data-admitted="false"' in html and "on the waiting list" in html

    SideEventSignup.objects.filter(visitor_id=later.visitor_id).update(status=S.DECLINED)
    assert _check(client, event, later.qr_payload)[0].answer == "declined"
    SideEventSignup.objects.filter(visitor_id=later.visitor_id).update(status=S.PENDING)
    assert _check(client, event, later.qr_payload)[0].answer == "pending"
    SideEventSignup.objects.filter(visitor_id=later.visitor_id).update(status=S.CANCELLED)
    assert _check(client, event, later.qr_payload)[0].answer == "not_on_list"


def test_refused_before_the_list_is_read(client, gate_staff, event, unit, credentials):
    side_event_signup(
        event=event, unit=unit, visitor_ids=[credentials["revoked"].visitor_id], actor=None
    )
    client.force_login(gate_staff)
    assert _check(client, event, credentials["revoked"].qr_payload)[0].answer == "revoked"
    forged = credentials["today"].qr_payload[:-4] + "AAAA"
    assert _check(client, event, forged)[0].answer in ("bad_signature", "malformed")
    assert _check(client, event, "hello")[0].answer == "malformed"
    assert _check(client, event, "109999999")[0].answer == "unknown"
    # A genuine credential whose holder was not signed up.
    assert _check(client, event, credentials["today"].number)[0].answer == "not_on_list"


def test_the_door_check_is_for_gate_staff_only(client, event, unit):
    url = f"/gate/events/{event.pk}/check/"
    assert client.get(url)["Location"].startswith("/admin/login/")
    client.force_login(UserFactory(is_staff=True))
    assert client.get(url).status_code == 403
    assert client.post(url, {"payload": "x"}).status_code == 403
    client.force_login(unit.account)
    assert client.get("/gate/events/").status_code == 403
    checker = UserFactory(is_staff=True)
    checker.user_permissions.add(Permission.objects.get(codename="check_credential"))
    client.force_login(checker)
    assert client.get(url).status_code == 200
    # An event of another edition, or one taking no sign-ups, is not found.
    listed_only = side_event(
        event.edition, capacity=None, signup_opens_at=None, signup_closes_at=None
    )
    assert client.get(f"/gate/events/{listed_only.pk}/check/").status_code == 404


def test_the_gate_page_leads_to_the_side_events(client, gate_staff, event):
    client.force_login(gate_staff)
    page = client.get("/gate/").content.decode()
    assert 'id="gate-events-link"' in page and 'href="/gate/events/"' in page
    listing = client.get("/gate/events/").content.decode()
    assert f'href="/gate/events/{event.pk}/check/"' in listing
