"""配套活动 in the admin: organisers publish events with their sign-up settings (audited,
checked next to the field), approve or decline sign-ups in bulk and export the attendee list;
secretaries see their own delegation's sign-ups only; nobody else sees any."""

import io
from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils import timezone
from openpyxl import load_workbook

from ciie_portal.models import AuditEntry, Notice, SideEvent
from registration.side_events.models import SideEventSignup
from registration.side_events.services import side_event_signup
from tests.ciie_portal.test_config_audit import post_admin_form
from tests.registration.side_event_factories import side_event, submitted_visitor

pytestmark = pytest.mark.django_db

S = SideEventSignup.Status
LIST = "/admin/registration/sideeventsignup/"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def event(edition):
    return side_event(edition, capacity=1, needs_approval=True)


@pytest.fixture
def signups(event, unit, other_unit):
    """广州's 甲 holds the place (awaiting approval), 乙 waits; 浙江's 丙 waits after them."""
    mine = side_event_signup(
        event=event,
        unit=unit,
        visitor_ids=[submitted_visitor(unit, name="甲").pk, submitted_visitor(unit, name="乙").pk],
        actor=None,
    )
    theirs = side_event_signup(
        event=event, unit=other_unit, visitor_ids=[submitted_visitor(other_unit, name="丙").pk],
        actor=None,
    )  # fmt: skip
    return {s.visitor.name: s for s in [*mine, *theirs]}


def _statuses(event):
    return dict(SideEventSignup.objects.filter(event=event).values_list("visitor__name", "status"))


def _act(client, action, *signups, **extra):
    return client.post(
        LIST,
        {"action": action, ACTION_CHECKBOX_NAME: [str(s.pk) for s in signups], **extra},
        HTTP_ACCEPT_LANGUAGE="en",
    )


# --- Publishing events ------------------------------------------------------------------------


def _local(moment) -> dict:
    local = timezone.localtime(moment)
    return {"0": local.strftime("%Y-%m-%d"), "1": local.strftime("%H:%M:%S")}


def _times(**moments) -> dict:
    return {
        f"{name}_{part}": value
        for name, moment in moments.items()
        for part, value in _local(moment).items()
    }


def test_an_organiser_publishes_an_event_taking_sign_ups(client, organiser, edition):
    client.force_login(organiser)
    now = timezone.now().replace(second=0, microsecond=0)
    response = post_admin_form(
        client,
        "/admin/ciie_portal/sideevent/add/",
        "sideevent",
        edition=str(edition.pk),
        name="跨境电商论坛",
        name_en="Cross-border e-commerce forum",
        organiser="商务部",
        capacity="80",
        labels=["vip", "visitor"],
        signup_requires="reviewed",
        needs_approval="on",
        **_times(
            starts_at=now + timedelta(days=10),
            ends_at=now + timedelta(days=10, hours=3),
            signup_opens_at=now,
            signup_closes_at=now + timedelta(days=5),
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    event = SideEvent.objects.get(name="跨境电商论坛")
    assert (event.capacity, event.labels, event.signup_requires, event.needs_approval) == (
        80, ["vip", "visitor"], "reviewed", True,
    )  # fmt: skip
    added = AuditEntry.objects.get(action="config.add").data["changes"]
    assert added["capacity"] == [None, 80] and added["labels"] == [None, ["vip", "visitor"]]


def test_places_need_a_window_in_order_said_next_to_the_field(client, organiser, edition):
    client.force_login(organiser)
    now = timezone.now().replace(second=0, microsecond=0)
    response = post_admin_form(
        client,
        "/admin/ciie_portal/sideevent/add/",
        "sideevent",
        edition=str(edition.pk),
        name="没有窗口",
        organiser="商务部",
        capacity="10",
        **_times(starts_at=now + timedelta(days=3), ends_at=now + timedelta(days=2)),
    )
    errors = response.context["adminform"].form.errors
    assert set(errors) >= {"signup_opens_at", "signup_closes_at", "ends_at"}
    assert not SideEvent.objects.filter(name="没有窗口").exists()


def test_places_cannot_drop_below_those_held_and_places_added_move_the_list_up(
    client, organiser, event, signups
):
    client.force_login(organiser)
    url = f"/admin/ciie_portal/sideevent/{event.pk}/change/"
    response = post_admin_form(client, url, "sideevent", capacity="0")
    assert "capacity" in response.context["adminform"].form.errors
    response = post_admin_form(client, url, "sideevent", capacity="")
    assert "capacity" in response.context["adminform"].form.errors
    assert SideEvent.objects.get(pk=event.pk).capacity == 1

    response = post_admin_form(client, url, "sideevent", capacity="2")
    assert response.status_code == 302
    # The first one waiting takes the place added (awaiting approval, as the event says).
    assert _statuses(event) == {"甲": S.PENDING, "乙": S.PENDING, "丙": S.WAITING}
    assert Notice.objects.filter(template="side_event_moved_up", recipient="13912345678").exists()
    change = AuditEntry.objects.get(action="config.change").data["changes"]
    assert change == {"capacity": [1, 2]}


def test_the_event_list_shows_places_held_in_one_query(client, organiser, event, signups):
    client.force_login(organiser)
    page = client.get("/admin/ciie_portal/sideevent/").content.decode()
    assert f'{LIST}?event__id__exact={event.pk}">1 / 1</a>' in page


# --- Approving and declining ----------------------------------------------------------------------


def test_organisers_approve_and_decline_in_bulk(client, organiser, event, signups):
    client.force_login(organiser)
    response = _act(client, "approve", *signups.values())
    assert response.status_code == 302
    # Only the pending one was approved; those waiting wait on.
    assert _statuses(event) == {"甲": S.CONFIRMED, "乙": S.WAITING, "丙": S.WAITING}
    page = client.get(LIST, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "1 sign-up approved." in page
    one = client.get(f"{LIST}{signups['甲'].pk}/change/", HTTP_ACCEPT_LANGUAGE="en")
    assert one.status_code == 200 and "甲" in one.content.decode()
    approved = AuditEntry.objects.get(action="side_event_signup.confirmed")
    assert approved.actor == organiser and approved.from_state == "pending"
    assert Notice.objects.filter(template="side_event_approved").exists()

    _act(client, "decline", signups["甲"])
    # The place given back goes to the first one waiting, who awaits approval in turn.
    assert _statuses(event) == {"甲": S.DECLINED, "乙": S.PENDING, "丙": S.WAITING}
    assert (
        AuditEntry.objects.filter(action="side_event_signup.declined", actor=organiser).count() == 1
    )
    assert Notice.objects.filter(template="side_event_declined").exists()
    assert Notice.objects.filter(template="side_event_moved_up").exists()


def test_secretaries_see_their_delegations_sign_ups_only_and_decide_nothing(
    client, secretary, group_secretary, other_secretary, event, signups
):
    for user, seen in ((secretary, {"甲", "乙"}), (group_secretary, {"甲", "乙"}),
                       (other_secretary, {"丙"})):  # fmt: skip
        client.force_login(user)
        page = client.get(LIST)
        assert page.status_code == 200
        names = {s.visitor.name for s in page.context["cl"].result_list}
        assert names == seen
        assert '<option value="approve"' not in page.content.decode()
        _act(client, "approve", *signups.values())
        _act(client, "decline", *signups.values())
    assert _statuses(event) == {"甲": S.PENDING, "乙": S.WAITING, "丙": S.WAITING}
    # Another delegation's sign-up is not found either.
    client.force_login(other_secretary)
    assert client.get(f"{LIST}{signups['甲'].pk}/change/").status_code == 302


def test_nobody_else_sees_the_sign_ups(client, unit, event, signups):
    assert client.get(LIST)["Location"].startswith("/admin/login/")
    client.force_login(unit.account)
    assert client.get(LIST)["Location"].startswith("/admin/login/")


# --- The attendee list ------------------------------------------------------------------------


def test_the_attendee_list_masks_id_numbers_and_mobiles_and_escapes_formulas(
    client, organiser, unit, edition
):
    event = side_event(edition)
    hostile = submitted_visitor(unit, name='=HYPERLINK("http://x","y")', mobile="13912345678")
    signup = side_event_signup(event=event, unit=unit, visitor_ids=[hostile.pk], actor=None)[0]
    client.force_login(organiser)
    response = _act(client, "export_xlsx", signup)
    assert response["Content-Type"] == XLSX and "no-store" in response["Cache-Control"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("side event", "starts (Beijing)", "full name", "ID number")
    row = rows[1]
    assert row[0] == "Imported food matchmaking"  # in the language of the page
    assert row[2] == "'" + hostile.name  # text, not a live formula
    assert row[3] == hostile.id_number_masked and hostile.id_number not in str(rows)
    assert row[5] == "139****5678"
    assert row[8] == "Signed up"


# --- Cloning an edition -----------------------------------------------------------------------


def test_cloning_an_edition_copies_the_sign_up_settings_and_no_sign_up(organiser, event, signups):
    from ciie_portal.cloning import edition_clone

    event.labels = ["vip"]
    event.save()
    edition_clone(
        source=event.edition, actor=organiser, number=11, name="第11届", name_en="11th", offset=364
    )
    copy = SideEvent.objects.get(edition__number=11)
    shift = timedelta(days=364)
    assert (copy.name_en, copy.capacity, copy.labels, copy.needs_approval) == (
        "Imported food matchmaking", 1, ["vip"], True,
    )  # fmt: skip
    assert copy.ends_at == event.ends_at + shift
    assert (copy.signup_opens_at, copy.signup_closes_at) == (
        event.signup_opens_at + shift,
        event.signup_closes_at + shift,
    )
    assert copy.open_to_visitors is False and not SideEventSignup.objects.filter(event=copy)


def test_approving_costs_the_same_queries_for_3_or_30_sign_ups(organiser, unit, edition):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from registration.side_events.services import side_event_signups_approve

    def approve(n: int) -> int:
        event = side_event(edition, capacity=n, needs_approval=True)
        visitors = [submitted_visitor(unit) for _ in range(n)]
        side_event_signup(event=event, unit=unit, visitor_ids=[v.pk for v in visitors], actor=None)
        with CaptureQueriesContext(connection) as counted:
            approved = side_event_signups_approve(
                signups=SideEventSignup.objects.filter(event=event), actor=organiser
            )
        assert approved == n
        return len(counted.captured_queries)

    assert approve(3) == approve(30)
