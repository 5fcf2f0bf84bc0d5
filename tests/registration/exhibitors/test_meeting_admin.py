"""The organiser's meetings admin: the list filtered by edition, status and day; confirm,
decline and mark held in bulk through the services (audited, the unit told, refusals
reported); secretaries refused, or limited to their own delegation's units."""
# ruff: noqa: F811 (the shared fixtures are imported by name and asked for by name)

from datetime import datetime

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from ciie_portal.models import AuditEntry, Notice
from registration.exhibitors.meetings import meeting_answer, meeting_request
from registration.exhibitors.models import Meeting
from registration.exhibitors.signals import meeting_held

from .test_meeting_support import (  # noqa: F401 (fixtures)
    BEIJING,
    FIRST_DAY,
    buyer,
    clock,
    exhibitor,
    expo,
)

pytestmark = pytest.mark.django_db

M = Meeting.Status
CHANGELIST = reverse("admin:registration_meeting_changelist")


def grant(user, *codenames):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="registration", codename__in=codenames)
    )
    return type(user).objects.get(pk=user.pk)  # permissions read anew


@pytest.fixture
def organiser_client(client, organiser):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the texts asserted are the msgids
    client.force_login(grant(organiser, "view_meeting", "change_meeting"))
    return client


@pytest.fixture
def two(buyer, other_unit, exhibitor, clock):
    other_unit.contact_email = "other@example.com"
    other_unit.save()
    return [
        meeting_request(
            unit=unit, exhibitor=exhibitor, day=FIRST_DAY, slot=slot, actor=unit.account
        )
        for unit, slot in ((buyer, "10:00"), (other_unit, "10:30"))
    ]


def _act(client, action, meetings):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [m.pk for m in meetings]},
        follow=True,
    )


def test_the_organiser_sees_every_meeting_and_filters_them(organiser_client, two, buyer):
    page = organiser_client.get(CHANGELIST)
    assert page.status_code == 200
    text = page.content.decode()
    assert buyer.name in text and two[1].unit.name in text and "1.1 A001" in text
    filtered = organiser_client.get(CHANGELIST, {"status__exact": "requested", "day": "2026-11-05"})
    assert filtered.status_code == 200
    assert len(filtered.context["cl"].result_list) == 2
    assert (
        organiser_client.get(CHANGELIST, {"status__exact": "held"}).context["cl"].result_count == 0
    )


def test_the_organiser_confirms_and_declines_in_bulk(organiser_client, organiser, two):
    first, second = two
    response = _act(organiser_client, "confirm", [first])
    assert "1 meeting confirmed." in response.content.decode()
    first.refresh_from_db()
    assert first.status == M.CONFIRMED and first.decided_by == organiser.username
    entry = AuditEntry.objects.get(action="meeting.confirmed")
    assert entry.actor_id == organiser.pk and entry.object_id == str(first.pk)
    assert Notice.objects.filter(key=f"meeting:{first.pk}:confirmed").count() == 1

    # Both selected: the confirmed one cannot be declined (reported), the other is.
    response = _act(organiser_client, "decline", [first, second])
    text = response.content.decode()
    assert "1 meeting declined." in text and "Cannot change from" in text
    assert dict(Meeting.objects.values_list("pk", "status")) == {
        first.pk: M.CONFIRMED,
        second.pk: M.DECLINED,
    }
    assert Notice.objects.filter(key=f"meeting:{second.pk}:declined").count() == 1


def test_the_organiser_marks_held_once_the_meeting_has_begun(organiser_client, two, clock):
    first, _second = two
    meeting_answer(meeting=first, accept=True, actor=None)
    heard = []
    meeting_held.connect(
        lambda sender, meeting, **kwargs: heard.append(meeting.pk),
        weak=False,
        dispatch_uid="admin-held",
    )
    try:
        response = _act(organiser_client, "mark_held", [first])
        assert "0 meetings marked as held." in response.content.decode()
        assert "not begun" in response.content.decode()
        clock.at = datetime(2026, 11, 5, 10, 40, tzinfo=BEIJING)
        _act(organiser_client, "mark_held", [first])
    finally:
        meeting_held.disconnect(dispatch_uid="admin-held")
    first.refresh_from_db()
    assert first.status == M.HELD and heard == [first.pk]
    assert AuditEntry.objects.filter(action="meeting.held", object_id=str(first.pk)).count() == 1


def test_a_secretary_without_the_permission_is_refused(client, secretary, two):
    client.force_login(secretary)
    assert client.get(CHANGELIST).status_code == 403
    response = client.post(CHANGELIST, {"action": "confirm", "_selected_action": [two[0].pk]})
    assert response.status_code == 403
    assert not Meeting.objects.exclude(status=M.REQUESTED).exists()


def test_a_secretary_with_the_view_permission_sees_only_their_delegations_units(
    client, secretary, two, buyer
):
    """The buyer is of the secretary's delegation (广州), the other unit of another one."""
    client.force_login(grant(secretary, "view_meeting"))
    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert [m.unit_id for m in page.context["cl"].result_list] == [buyer.pk]
    # Read-only: no action to run.
    response = client.post(CHANGELIST, {"action": "confirm", "_selected_action": [two[0].pk]})
    assert not Meeting.objects.exclude(status=M.REQUESTED).exists()
    assert response.status_code in (200, 302)
    other = reverse("admin:registration_meeting_change", args=[two[1].pk])
    assert client.get(other).status_code == 302  # "does not exist" → back to the list
