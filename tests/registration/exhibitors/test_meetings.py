"""洽谈预约: a unit asks an exhibitor for a meeting, the exhibitor answers by its signed link
(no account), the unit sees it confirmed and downloads the calendar file; declines,
cancellations, the expo days and the clock, who may see what, the notices (once each) and the
dashboard panel's cost."""
# ruff: noqa: F811 (the shared fixtures are imported by name and asked for by name)

from datetime import date, datetime, timedelta

import icalendar
import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from ciie_portal import read_cache
from ciie_portal.models import AuditEntry, Notice
from registration.exhibitors import meetings, views_meetings
from registration.exhibitors.meeting_links import exhibitor_of_token
from registration.exhibitors.meetings import (
    dashboard_panel,
    meeting_answer,
    meeting_cancel,
    meeting_mark_held,
    meeting_request,
)
from registration.exhibitors.models import Meeting
from registration.exhibitors.signals import meeting_held
from registration.limits import Counter
from tests.ciie_portal.factories import EditionFactory

from .test_meeting_support import (  # noqa: F401 (fixtures)
    BEIJING,
    FIRST_DAY,
    buyer,
    clock,
    exhibitor,
    expo,
    link,
    make_exhibitor,
)

pytestmark = pytest.mark.django_db

M = Meeting.Status
MEETINGS = reverse("registration:meetings")


@pytest.fixture(autouse=True)
def _fresh_cache():
    read_cache.forget_all()


@pytest.fixture(autouse=True)
def _pages_in_english(client):
    """The pages here are read in English (the texts asserted are the msgids)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def ask_page(exhibitor) -> str:
    return reverse("registration:meeting_request", args=[exhibitor.pk])


def ask(unit, exhibitor, day=FIRST_DAY, slot="10:00", **kwargs) -> Meeting:
    return meeting_request(
        unit=unit, exhibitor=exhibitor, day=day, slot=slot, actor=unit.account, **kwargs
    )


@pytest.fixture
def contact_client(client, buyer):
    client.force_login(buyer.account)
    return client


# --- The whole flow ---------------------------------------------------------------------------


def test_a_unit_asks_the_exhibitor_confirms_by_link_and_the_unit_downloads_the_ics(
    contact_client, buyer, exhibitor, clock, django_capture_on_commit_callbacks
):
    page = contact_client.get(ask_page(exhibitor), {"day": "2026-11-05"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Bayer Pharma" in text and 'value="10:00"' in text and 'value="2026-11-05"' in text
    assert 'value="2026-11-11"' not in text  # the day after the expo is not offered

    with django_capture_on_commit_callbacks(execute=True):
        response = contact_client.post(
            ask_page(exhibitor),
            {"day": "2026-11-05", "slot": "10:00", "message": "想了解贵司的医疗影像设备"},
        )
    assert response.status_code == 302 and response["Location"] == MEETINGS
    meeting = Meeting.objects.get()
    assert (meeting.unit, meeting.exhibitor, meeting.day, meeting.slot, meeting.status) == (
        buyer,
        exhibitor,
        FIRST_DAY,
        "10:00",
        M.REQUESTED,
    )
    assert meeting.message == "想了解贵司的医疗影像设备"
    assert meeting.requested_by == buyer.account

    # The exhibitor's contact is told, in English (a German exhibitor), with its link.
    told = Notice.objects.get(key=f"meeting:{meeting.pk}:requested")
    assert (told.channel, told.recipient, told.language) == ("email", "sales@bayer.example", "en")
    prefix = "http://testserver" + link(exhibitor).rsplit("/", 2)[0] + "/"
    assert told.params["link"].startswith(prefix)  # its signature holds the second it was made
    token = told.params["link"].removeprefix(prefix).rstrip("/")
    assert exhibitor_of_token(token, at=clock()) == exhibitor
    assert told.params["exhibitor"] == "Bayer Pharma" and told.params["slot"] == "10:00"

    # The exhibitor opens its link without an account and confirms.
    anonymous = Client()
    page = anonymous.get(link(exhibitor))
    assert page.status_code == 200
    assert (
        buyer.name in page.content.decode() and "想了解贵司的医疗影像设备" in page.content.decode()
    )
    assert page["Referrer-Policy"] == "same-origin"
    with django_capture_on_commit_callbacks(execute=True):
        answered = anonymous.post(link(exhibitor), {"meeting": meeting.pk, "action": "confirm"})
    assert answered.status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == M.CONFIRMED and meeting.decided_by == "exhibitor"
    assert meeting.decided_at == meetings.now()
    confirmed = Notice.objects.get(key=f"meeting:{meeting.pk}:confirmed")
    assert (confirmed.recipient, confirmed.template) == ("buyer@example.com", "meeting_confirmed")
    assert list(
        AuditEntry.objects.filter(object_id=str(meeting.pk), action__startswith="meeting.")
        .order_by("pk")
        .values_list("action", "actor_repr")
    ) == [
        ("meeting.requested", buyer.account.username),
        ("meeting.confirmed", f"exhibitor:{exhibitor.code}"),
    ]

    # The unit sees it confirmed, with its calendar file and the one of every meeting.
    listing = contact_client.get(MEETINGS).content.decode()
    ics_url = reverse("registration:meeting_calendar", args=[meeting.pk])
    assert 'data-status="confirmed"' in listing and ics_url in listing
    assert reverse("registration:meetings_calendar") in listing
    dashboard = contact_client.get(reverse("registration:home")).content.decode()
    assert 'id="meetings-panel"' in dashboard and ics_url in dashboard

    download = contact_client.get(ics_url)
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/calendar")
    assert "attachment" in download["Content-Disposition"]
    calendar = icalendar.Calendar.from_ical(download.content)
    [event] = calendar.walk("VEVENT")
    start = event.decoded("dtstart")
    assert start == datetime(2026, 11, 5, 10, 0, tzinfo=BEIJING)
    assert str(start.tzinfo) == "Asia/Shanghai"
    assert event["dtstart"].params["TZID"] == "Asia/Shanghai"
    assert event.decoded("dtend") == datetime(2026, 11, 5, 10, 30, tzinfo=BEIJING)
    assert str(event["location"]) == "Hall 1.1, booth A001"
    assert "Bayer Pharma" in str(event["summary"])  # the English page, the English name
    assert [str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    # The same UID in every file: a calendar importing it again updates the event.
    again = icalendar.Calendar.from_ical(contact_client.get(ics_url).content)
    [all_of_them] = icalendar.Calendar.from_ical(
        contact_client.get(reverse("registration:meetings_calendar")).content
    ).walk("VEVENT")
    assert again.walk("VEVENT")[0]["uid"] == event["uid"] == all_of_them["uid"]
    assert str(event["uid"]) == f"meeting-{meeting.pk}@meetings.ciie-portal"


def test_the_calendar_file_speaks_english_on_an_english_request(
    contact_client, buyer, exhibitor, clock
):
    meeting = ask(buyer, exhibitor)
    meeting_answer(meeting=meeting, accept=True, actor="exhibitor", by_exhibitor=True)
    contact_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    content = contact_client.get(reverse("registration:meeting_calendar", args=[meeting.pk]))
    [event] = icalendar.Calendar.from_ical(content.content).walk("VEVENT")
    assert str(event["summary"]) == "Meeting: Bayer Pharma"


# --- Declined, cancelled ----------------------------------------------------------------------


def test_a_declined_request_gives_the_slot_back(
    client, buyer, other_unit, exhibitor, clock, django_capture_on_commit_callbacks
):
    meeting = ask(buyer, exhibitor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(link(exhibitor), {"meeting": meeting.pk, "action": "decline"})
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == M.DECLINED
    assert Notice.objects.get(key=f"meeting:{meeting.pk}:declined").recipient == (
        "buyer@example.com"
    )
    # Another unit may now take the slot.
    assert ask(other_unit, exhibitor).status == M.REQUESTED
    # A declined meeting is not answered again.
    with pytest.raises(ValidationError):
        meeting_answer(meeting=meeting, accept=True, actor="exhibitor", by_exhibitor=True)


def test_the_unit_cancels_before_the_meeting_and_the_exhibitor_is_told(
    contact_client, buyer, exhibitor, clock, django_capture_on_commit_callbacks
):
    meeting = ask(buyer, exhibitor)
    meeting_answer(meeting=meeting, accept=True, actor="exhibitor", by_exhibitor=True)
    listing = contact_client.get(MEETINGS).content.decode()
    cancel = reverse("registration:meeting_cancel", args=[meeting.pk])
    assert cancel in listing
    with django_capture_on_commit_callbacks(execute=True):
        response = contact_client.post(cancel)
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == M.CANCELLED
    told = Notice.objects.get(key=f"meeting:{meeting.pk}:cancelled")
    assert told.recipient == "sales@bayer.example"
    assert AuditEntry.objects.filter(action="meeting.cancelled", object_id=str(meeting.pk)).exists()
    # The calendar file of a cancelled meeting is gone.
    assert (
        contact_client.get(reverse("registration:meeting_calendar", args=[meeting.pk])).status_code
        == 404
    )


def test_a_meeting_that_has_begun_cannot_be_cancelled(buyer, exhibitor, clock):
    meeting = ask(buyer, exhibitor)
    clock.at = datetime(2026, 11, 5, 10, 0, tzinfo=BEIJING)
    with pytest.raises(ValidationError, match="has begun"):
        meeting_cancel(meeting=meeting, unit=buyer, actor=buyer.account)
    assert Meeting.objects.get().status == M.REQUESTED


# --- Days, slots and the clock -----------------------------------------------------------------


@pytest.mark.parametrize("day", [date(2026, 11, 4), date(2026, 11, 11), date(2027, 11, 5)])
def test_days_outside_the_expo_are_refused(buyer, exhibitor, clock, day):
    with pytest.raises(ValidationError) as refused:
        ask(buyer, exhibitor, day=day)
    assert "expo days" in refused.value.message_dict["day"][0]
    assert not Meeting.objects.exists()


def test_a_slot_not_offered_is_refused(buyer, exhibitor, clock):
    with pytest.raises(ValidationError) as refused:
        ask(buyer, exhibitor, slot="17:00")
    assert "slot" in refused.value.message_dict


def test_a_day_outside_the_expo_posted_on_the_form_is_refused_next_to_the_field(
    contact_client, exhibitor, clock
):
    response = contact_client.post(
        ask_page(exhibitor), {"day": "2026-11-11", "slot": "10:00", "message": "你好"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["day"]
    assert "你好" in response.content.decode()
    assert not Meeting.objects.exists()


def test_past_slots_are_refused_and_shown_disabled(contact_client, buyer, exhibitor, clock):
    clock.at = datetime(2026, 11, 5, 12, 10, tzinfo=BEIJING)
    with pytest.raises(ValidationError, match="passed"):
        ask(buyer, exhibitor, slot="10:00")
    page = contact_client.get(ask_page(exhibitor), {"day": "2026-11-05"})
    widget = page.context["form"].fields["slot"].widget
    assert {"09:00", "10:00", "12:00"} <= widget.unavailable and "12:30" not in widget.unavailable
    response = contact_client.post(ask_page(exhibitor), {"day": "2026-11-05", "slot": "11:30"})
    assert "This time has passed" in str(response.context["form"].errors["slot"])
    # The last day's last slot begun: the expo is over for meetings.
    clock.at = datetime(2026, 11, 10, 16, 30, tzinfo=BEIJING)
    page = contact_client.get(ask_page(exhibitor))
    assert 'id="meeting-closed"' in page.content.decode()


def test_a_taken_slot_is_shown_taken_and_refused_with_the_message_kept(
    contact_client, buyer, other_unit, exhibitor, clock
):
    ask(other_unit, exhibitor, slot="10:00")
    page = contact_client.get(ask_page(exhibitor), {"day": "2026-11-05"})
    assert "10:00" in page.context["form"].fields["slot"].widget.unavailable
    response = contact_client.post(
        ask_page(exhibitor), {"day": "2026-11-05", "slot": "10:00", "message": "保留这段话"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["slot"] == ["This time is taken: choose another."]
    assert "保留这段话" in response.content.decode()
    assert Meeting.objects.filter(unit=buyer).count() == 0


def test_a_race_lost_after_the_form_checked_is_refused_next_to_the_field(
    contact_client, buyer, other_unit, exhibitor, clock, monkeypatch
):
    """The form saw the slot free; another unit took it before the service wrote: the
    database refuses the INSERT and the page says so next to the field, the message kept."""
    real = meetings.slots_taken
    calls = []

    def free_then_taken(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:  # the service's own read: another unit's request lands meanwhile
            Meeting.objects.create(
                unit=other_unit, exhibitor=exhibitor, day=FIRST_DAY, slot="10:00"
            )
            return {}
        return real(**kwargs)

    monkeypatch.setattr(meetings, "slots_taken", free_then_taken)
    monkeypatch.setattr(views_meetings.service, "slots_taken", free_then_taken)
    response = contact_client.post(
        ask_page(exhibitor), {"day": "2026-11-05", "slot": "10:00", "message": "竞争"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["slot"] == ["This time is taken: choose another."]
    assert "竞争" in response.content.decode()
    assert list(Meeting.objects.values_list("unit_id", flat=True)) == [other_unit.pk]


def test_the_unit_cannot_hold_two_meetings_at_once(buyer, exhibitor, expo, clock):
    other = make_exhibitor(expo, name="赛诺菲", contact_email="")
    ask(buyer, exhibitor)
    with pytest.raises(ValidationError) as refused:
        ask(buyer, other)
    assert refused.value.message_dict["slot"] == [
        "Your unit has another meeting at this time: choose another."
    ]


def test_show_the_free_times_redraws_the_day_without_booking(
    contact_client, other_unit, exhibitor, expo, clock
):
    ask(other_unit, exhibitor, day=date(2026, 11, 6), slot="14:00")
    response = contact_client.post(
        ask_page(exhibitor), {"day": "2026-11-06", "message": "留言", "show_day": "1"}
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert not form.is_bound and form.initial == {"day": "2026-11-06", "message": "留言"}
    assert form.fields["slot"].widget.unavailable == {"14:00"}
    assert Meeting.objects.count() == 1


# --- Held -----------------------------------------------------------------------------------


def test_a_confirmed_meeting_is_marked_held_by_the_exhibitor_once_it_has_begun(
    client, buyer, exhibitor, clock
):
    meeting = ask(buyer, exhibitor)
    meeting_answer(meeting=meeting, accept=True, actor="exhibitor", by_exhibitor=True)
    heard = []

    def receiver(sender, meeting, **kwargs):
        heard.append(meeting.pk)

    meeting_held.connect(receiver, dispatch_uid="test-meeting-held")
    try:
        page = client.get(link(exhibitor)).content.decode()
        assert "meeting-held" not in page  # not before its time
        client.post(link(exhibitor), {"meeting": meeting.pk, "action": "held"})
        assert Meeting.objects.get().status == M.CONFIRMED and heard == []

        clock.at = datetime(2026, 11, 5, 10, 5, tzinfo=BEIJING)
        page = client.get(link(exhibitor)).content.decode()
        assert "meeting-held" in page
        client.post(link(exhibitor), {"meeting": meeting.pk, "action": "held"})
        meeting.refresh_from_db()
        assert meeting.status == M.HELD and meeting.held_at == clock.at
        assert heard == [meeting.pk]
        # Once only.
        with pytest.raises(ValidationError):
            meeting_mark_held(meeting=meeting, actor="exhibitor", by_exhibitor=True)
        assert heard == [meeting.pk]
    finally:
        meeting_held.disconnect(dispatch_uid="test-meeting-held")


def test_a_requested_meeting_cannot_be_marked_held_nor_confirmed_after_its_time(
    buyer, exhibitor, clock
):
    meeting = ask(buyer, exhibitor)
    clock.at = datetime(2026, 11, 5, 11, 0, tzinfo=BEIJING)
    with pytest.raises(ValidationError):
        meeting_mark_held(meeting=meeting, actor=None)
    with pytest.raises(ValidationError, match="only be declined"):
        meeting_answer(meeting=meeting, accept=True, actor=None)
    meeting_answer(meeting=meeting, accept=False, actor=None)
    assert Meeting.objects.get().status == M.DECLINED


# --- Who may see what ---------------------------------------------------------------------------


def test_another_units_meeting_is_not_found(client, buyer, other_unit, exhibitor, clock):
    meeting = ask(buyer, exhibitor)
    meeting_answer(meeting=meeting, accept=True, actor=None)
    client.force_login(other_unit.account)
    assert (
        client.get(reverse("registration:meeting_calendar", args=[meeting.pk])).status_code == 404
    )
    assert client.post(reverse("registration:meeting_cancel", args=[meeting.pk])).status_code == 404
    assert "拜耳医药" not in client.get(MEETINGS).content.decode()
    assert Meeting.objects.get().status == M.CONFIRMED
    # A requested meeting has no calendar file, even for its own unit.
    client.force_login(buyer.account)
    second = ask(buyer, exhibitor, slot="11:00")
    assert client.get(reverse("registration:meeting_calendar", args=[second.pk])).status_code == 404


def test_anonymous_visitors_go_to_the_sign_in_page(client, exhibitor):
    for url in (
        MEETINGS,
        ask_page(exhibitor),
        reverse("registration:meetings_calendar"),
        reverse("registration:meeting_calendar", args=[1]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_an_exhibitor_of_another_edition_or_unlisted_is_not_found(contact_client, exhibitor, clock):
    earlier = make_exhibitor(EditionFactory(number=9), contact_email="")
    unlisted = make_exhibitor(exhibitor.edition, is_listed=False)
    assert contact_client.get(ask_page(earlier)).status_code == 404
    assert contact_client.get(ask_page(unlisted)).status_code == 404
    with pytest.raises(ValidationError):
        ask(exhibitor.edition.units.first(), unlisted)


def test_staff_without_a_unit_get_404(client, secretary, exhibitor):
    client.force_login(secretary)
    assert client.get(MEETINGS).status_code == 404


def test_a_bad_or_expired_token_finds_nothing(client, buyer, exhibitor, expo, clock):
    meeting = ask(buyer, exhibitor)
    good = link(exhibitor)
    token = good.rstrip("/").rsplit("/", 1)[1]
    for bad in ("nonsense", token[:-2] + "xx", token.replace(":", "")):
        response = client.get(reverse("registration:exhibitor_meetings", args=[bad]))
        assert response.status_code == 404
        assert "拜耳医药" not in response.content.decode()
    # Another exhibitor's link cannot answer this one's meetings.
    other = make_exhibitor(expo, name="赛诺菲", contact_email="x@sanofi.example")
    assert client.post(link(other), {"meeting": meeting.pk, "action": "confirm"}).status_code == 404
    assert Meeting.objects.get().status == M.REQUESTED
    # A new contact in the directory: the old link stops working.
    exhibitor.contact_email = "new@bayer.example"
    exhibitor.save()
    assert client.get(good).status_code == 404
    good = link(exhibitor)
    assert client.get(good).status_code == 200
    # A week after the expo's last day, the link is over.
    clock.at = datetime(2026, 11, 17, 23, 59, tzinfo=BEIJING)
    assert client.get(good).status_code == 200
    clock.at = datetime(2026, 11, 18, 0, 0, tzinfo=BEIJING)
    assert client.get(good).status_code == 404


def test_the_link_page_is_rate_limited(client, exhibitor, clock, monkeypatch):
    monkeypatch.setattr(
        views_meetings,
        "LINK_PAGES_PER_ADDRESS",
        Counter(scope="test-exhibitor-meeting-link", limit=3, window=600),
    )
    from django.core.cache import cache

    cache.clear()
    statuses = [client.get(link(exhibitor)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_the_link_page_needs_a_csrf_token(buyer, exhibitor, clock):
    meeting = ask(buyer, exhibitor)
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(link(exhibitor), {"meeting": meeting.pk, "action": "confirm"})
    assert response.status_code == 403
    assert Meeting.objects.get().status == M.REQUESTED


# --- Notices ------------------------------------------------------------------------------------


def test_each_notice_is_sent_once(buyer, exhibitor, clock):
    meeting = ask(buyer, exhibitor)
    meeting_answer(meeting=meeting, accept=True, actor=None)
    with pytest.raises(ValidationError):
        meeting_answer(meeting=meeting, accept=True, actor=None)
    meeting_cancel(meeting=meeting, unit=buyer, actor=buyer.account)
    assert sorted(Notice.objects.values_list("template", "recipient")) == [
        ("meeting_cancelled", "sales@bayer.example"),
        ("meeting_confirmed", "buyer@example.com"),
        ("meeting_requested", "sales@bayer.example"),
    ]


def test_an_exhibitor_without_an_email_is_asked_through_the_organiser(buyer, expo, clock):
    quiet = make_exhibitor(expo, contact_email="")
    ask(buyer, quiet)
    assert not Notice.objects.exists()


def test_a_chinese_exhibitor_is_written_to_in_chinese(buyer, expo, clock):
    local = make_exhibitor(expo, country="CN", contact_email="sales@local.example")
    ask(buyer, local)
    notice = Notice.objects.get()
    assert notice.language == "zh-hans" and notice.params["exhibitor"] == "拜耳医药"


# --- The dashboard panel ------------------------------------------------------------------------


def test_the_panel_asks_nothing_without_exhibitors(unit, expo, clock, django_assert_num_queries):
    dashboard_panel(unit)  # the directory's fact, kept in the shared cache
    with django_assert_num_queries(0):
        assert dashboard_panel(unit) is None


def test_the_panel_lists_the_meetings_to_come_in_one_query(
    buyer, exhibitor, expo, clock, django_assert_num_queries
):
    for slot in ("10:00", "10:30", "11:00"):
        ask(buyer, make_exhibitor(expo, contact_email=""), slot=slot)
    first = ask(buyer, exhibitor, slot="14:00")
    meeting_answer(meeting=first, accept=True, actor=None)
    dashboard_panel(buyer)
    with django_assert_num_queries(1):
        panel = dashboard_panel(buyer)
        names = [meeting.exhibitor_name for meeting in panel["meetings"]]
    assert len(names) == 4 and panel["any_confirmed"]


def test_the_meetings_page_costs_the_same_for_one_or_many(
    contact_client, buyer, exhibitor, expo, clock, django_assert_max_num_queries
):
    ask(buyer, exhibitor)
    with django_assert_max_num_queries(20) as one:
        contact_client.get(MEETINGS)
    for index in range(8):
        other = make_exhibitor(expo, contact_email="")
        ask(buyer, other, slot=f"{11 + index}:00" if index < 6 else f"{index + 5}:30")
    with django_assert_max_num_queries(len(one.captured_queries)):
        contact_client.get(MEETINGS)


def test_the_exhibitors_page_costs_the_same_for_one_or_many(
    client, unit, other_unit, exhibitor, expo, clock, django_assert_max_num_queries
):
    ask(unit, exhibitor)
    with django_assert_max_num_queries(20) as one:
        client.get(link(exhibitor))
    ask(other_unit, exhibitor, slot="15:00")
    ask(other_unit, exhibitor, day=FIRST_DAY + timedelta(days=1))
    with django_assert_max_num_queries(len(one.captured_queries)):
        client.get(link(exhibitor))


def test_the_notices_read_well(buyer, exhibitor, other_unit, clock):
    from ciie_portal.notices.services import render_notice

    other_unit.contact_email = "other@example.com"
    other_unit.save()
    first = ask(buyer, exhibitor, message="想了解影像设备")
    meeting_answer(meeting=first, accept=True, actor=None)
    second = ask(other_unit, exhibitor, slot="11:00")
    meeting_answer(meeting=second, accept=False, actor=None)
    meeting_cancel(meeting=first, unit=buyer, actor=buyer.account)
    rendered = {
        notice.key.rsplit(":", 1)[1] + ":" + str(notice.pk): render_notice(notice)
        for notice in Notice.objects.order_by("pk")
    }
    texts = list(rendered.values())
    requested = texts[0]
    assert "想了解影像设备" in requested["text"]
    # The exhibitor's own link (its signature holds the second it was made: compared by what
    # it opens, not by its text).
    prefix = link(exhibitor).rsplit("/", 2)[0] + "/"
    token = requested["text"].split(prefix, 1)[1].split("/", 1)[0]
    assert exhibitor_of_token(token, at=clock()) == exhibitor
    assert "Dear Bayer Pharma," in requested["text"] and "2026-11-05" in requested["subject"]
    confirmed = next(t for k, t in rendered.items() if k.startswith("confirmed"))
    assert "拜耳医药" in confirmed["subject"] and "1.1" in confirmed["text"]
    declined = next(t for k, t in rendered.items() if k.startswith("declined"))
    assert other_unit.name in declined["text"]
    cancelled = next(t for k, t in rendered.items() if k.startswith("cancelled"))
    assert buyer.name in cancelled["text"] and "10:00" in cancelled["subject"]
