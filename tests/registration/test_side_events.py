"""配套活动报名 through the unit's pages and the services: signing visitors up within the
window (only eligible ones of one's own unit, refusals next to the field), places and the
waiting list, cancelling and moving up, the notices (each once, after the commit), the
dashboard's states at one query at most."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ciie_portal.models import AuditEntry, Notice, OutboxMessage, SideEvent
from registration.models import Label, Visitor
from registration.side_events.models import SideEventSignup
from registration.side_events.notices import signup_notices_send
from registration.side_events.services import (
    side_event_signup,
    side_event_signup_cancel,
)
from tests.registration.factories import VisitorFactory
from tests.registration.side_event_factories import side_event, submitted_visitor

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    """These tests read the English texts (the Chinese ones where a request asks for them):
    what a request does not ask for is English, and so are the messages made after it."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


S = SideEventSignup.Status


@pytest.fixture
def unit(unit):
    unit.contact_mobile = "13800138000"
    unit.contact_email = "contact@example.com"
    unit.save()
    return unit


@pytest.fixture
def signed_in(client, unit):
    client.force_login(unit.account)
    return client


@pytest.fixture
def event(edition):
    return side_event(edition)


def _statuses(event) -> dict[str, str]:
    return {
        signup.visitor.name: signup.status
        for signup in SideEventSignup.objects.filter(event=event).select_related("visitor")
        if signup.status != S.CANCELLED
    }


def _sign_up(client, event, *visitors):
    return client.post(
        f"/accounts/side-events/{event.pk}/", {"visitors": [str(v.pk) for v in visitors]}
    )


def _field_errors(html: str) -> list[str]:
    """The messages shown under the visitors field (crispy: ``error_<n>_id_visitors``)."""
    return [
        re.sub(r"<[^>]+>", "", message).strip()
        for message in re.findall(
            r'id="error_\d+_id_visitors"[^>]*>(.*?)</(?:p|span|div)>', html, re.S
        )
    ]


# --- The pages ----------------------------------------------------------------------------------


def test_the_list_shows_the_events_taking_sign_ups_with_the_places_left(
    signed_in, unit, event, edition, other_unit
):
    side_event(
        edition, name="只列出的活动", capacity=None, signup_opens_at=None, signup_closes_at=None
    )
    side_event(edition, name="未发布的活动", open_to_visitors=False)
    side_event_signup(
        event=event, unit=other_unit, visitor_ids=[submitted_visitor(other_unit).pk], actor=None
    )
    page = signed_in.get("/accounts/side-events/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Imported food matchmaking" in page
    assert 'data-places-left="1"' in page and "1 of 2" in page
    assert "只列出的活动" not in page and "未发布的活动" not in page
    # Beijing time, whatever the server's clock.
    assert timezone.localtime(event.starts_at).strftime("%Y-%m-%d %H:%M") in page


def test_two_visitors_for_one_place_left_one_signed_up_one_waiting(signed_in, unit, event, edition):
    side_event_signup(
        event=event, unit=unit, visitor_ids=[submitted_visitor(unit, name="先来").pk], actor=None
    )
    first, second = submitted_visitor(unit, name="张一"), submitted_visitor(unit, name="李二")
    response = _sign_up(signed_in, event, second, first)
    assert response.status_code == 302
    # In the order of the list (their primary keys): the first takes the last place.
    assert _statuses(event) == {"先来": S.CONFIRMED, "张一": S.CONFIRMED, "李二": S.WAITING}
    page = signed_in.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "1 visitor signed up." in page and "1 visitor is on the waiting list." in page
    assert re.search(
        r'data-status="waiting">\s*<span><span class="fw-semibold signup-name">李二', page
    )
    assert 'data-places-left="0"' in page
    # Signed up (or waiting) already: greyed out, with the reason.
    assert re.search(rf'value="{second.pk}"[^>]*disabled', page)
    assert "李二 is signed up already." in page
    assert AuditEntry.objects.filter(action="side_event_signup.waiting").count() == 1
    assert AuditEntry.objects.filter(action="side_event_signup.confirmed").count() == 2


def test_a_cancellation_moves_the_first_waiting_one_up(signed_in, unit, edition):
    event = side_event(edition, capacity=1)
    names = ["甲", "乙", "丙"]
    visitors = [submitted_visitor(unit, name=name) for name in names]
    side_event_signup(event=event, unit=unit, visitor_ids=[v.pk for v in visitors], actor=None)
    assert _statuses(event) == {"甲": S.CONFIRMED, "乙": S.WAITING, "丙": S.WAITING}
    taken = SideEventSignup.objects.get(visitor=visitors[0])
    response = signed_in.post(
        f"/accounts/side-events/signups/{taken.pk}/cancel/", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response["Location"] == f"/accounts/side-events/{event.pk}/"
    assert _statuses(event) == {"乙": S.CONFIRMED, "丙": S.WAITING}
    moved = AuditEntry.objects.get(action="side_event_signup.confirmed", from_state="waiting")
    assert moved.object_id == str(SideEventSignup.objects.get(visitor=visitors[1]).pk)
    assert AuditEntry.objects.filter(action="side_event_signup.cancelled").count() == 1
    # A waiting one cancelled gives back no place: nobody moves.
    waiting = SideEventSignup.objects.get(visitor=visitors[2])
    signed_in.post(f"/accounts/side-events/signups/{waiting.pk}/cancel/")
    assert _statuses(event) == {"乙": S.CONFIRMED}
    # Cancelled, the visitor may be signed up again (and waits: the place is taken).
    _sign_up(signed_in, event, visitors[0])
    assert _statuses(event) == {"乙": S.CONFIRMED, "甲": S.WAITING}


def test_no_cancellation_once_the_event_started(unit, edition):
    event = side_event(edition)
    signup = side_event_signup(
        event=event, unit=unit, visitor_ids=[submitted_visitor(unit).pk], actor=None
    )[0]
    with pytest.raises(ValidationError, match="has started"):
        side_event_signup_cancel(
            signup=signup, unit=unit, actor=None, now=event.starts_at + timedelta(minutes=1)
        )
    assert SideEventSignup.objects.get().status == S.CONFIRMED


# --- The wrong user ---------------------------------------------------------------------------


def test_another_units_visitor_is_refused(signed_in, unit, other_unit, event):
    stranger = submitted_visitor(other_unit, name="别家的人")
    submitted_visitor(unit, name="自家的人")
    response = _sign_up(signed_in, event, stranger)
    assert response.status_code == 200
    assert _field_errors(response.content.decode())
    assert not SideEventSignup.objects.exists()
    # The service refuses it too, without saying whose visitor it is.
    with pytest.raises(ValidationError) as refused:
        side_event_signup(event=event, unit=unit, visitor_ids=[stranger.pk], actor=unit.account)
    assert refused.value.message_dict == {"visitors": ["Choose visitors of your own unit."]}


def test_another_units_sign_up_cannot_be_seen_or_cancelled(signed_in, other_unit, event):
    theirs = side_event_signup(
        event=event, unit=other_unit, visitor_ids=[submitted_visitor(other_unit, name="别家").pk],
        actor=None,
    )[0]  # fmt: skip
    assert "别家" not in signed_in.get(f"/accounts/side-events/{event.pk}/").content.decode()
    assert signed_in.post(f"/accounts/side-events/signups/{theirs.pk}/cancel/").status_code == 404
    assert SideEventSignup.objects.get().status == S.CONFIRMED


def test_anonymous_visitors_are_sent_to_sign_in(client, event):
    for url in ("/accounts/side-events/", f"/accounts/side-events/{event.pk}/"):
        assert client.get(url)["Location"].startswith("/accounts/login/")
    assert client.post("/accounts/side-events/signups/1/cancel/")["Location"].startswith(
        "/accounts/login/"
    )


def test_an_unpublished_or_other_editions_event_is_not_found(signed_in, edition):
    hidden = side_event(edition, open_to_visitors=False)
    from tests.ciie_portal.factories import EditionFactory

    elsewhere = side_event(EditionFactory(number=9))
    for event in (hidden, elsewhere):
        assert signed_in.get(f"/accounts/side-events/{event.pk}/").status_code == 404


# --- Window and eligibility: said next to the field ----------------------------------------------


def test_outside_the_window_the_form_says_when(signed_in, unit, edition):
    now = timezone.now()
    later = side_event(
        edition, signup_opens_at=now + timedelta(days=1), signup_closes_at=now + timedelta(days=2)
    )
    over = side_event(
        edition, signup_opens_at=now - timedelta(days=3), signup_closes_at=now - timedelta(days=1)
    )
    visitor = submitted_visitor(unit)
    page = signed_in.get(f"/accounts/side-events/{later.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert 'id="side-event-closed"' in page.content.decode()
    for event, said, at in ((later, "opens at", later.signup_opens_at),
                            (over, "closed at", over.signup_closes_at)):  # fmt: skip
        response = signed_in.post(
            f"/accounts/side-events/{event.pk}/",
            {"visitors": [str(visitor.pk)]},
            HTTP_ACCEPT_LANGUAGE="en",
        )
        html = response.content.decode()
        [message] = _field_errors(html)
        assert said in message
        assert timezone.localtime(at).strftime("%Y-%m-%d %H:%M") in message
        assert "(Beijing time)" in message
        # The choice is kept.
        assert re.search(rf'value="{visitor.pk}"[^>]*checked', html)
    assert not SideEventSignup.objects.exists()


def test_only_eligible_visitors_and_each_refusal_is_named(signed_in, unit, edition):
    event = side_event(edition, labels=[Label.VIP], signup_requires=SideEvent.Requires.SUBMITTED)
    vip = submitted_visitor(unit, name="贵宾", label=Label.VIP)
    plain = submitted_visitor(unit, name="普通", label=Label.VISITOR)
    saved = VisitorFactory(unit=unit, name="未提交", status=Visitor.Status.SAVED, label=Label.VIP)
    cancelled = submitted_visitor(unit, name="已注销", status=Visitor.Status.CANCELLED, label="vip")
    page = signed_in.get(f"/accounts/side-events/{event.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    # Those who cannot go are greyed out, with the reason.
    assert re.search(rf'value="{plain.pk}"[^>]*disabled', html)
    assert re.search(rf'value="{saved.pk}"[^>]*disabled', html)
    assert not re.search(rf'value="{vip.pk}"[^>]*disabled', html)
    response = signed_in.post(
        f"/accounts/side-events/{event.pk}/",
        {"visitors": [str(v.pk) for v in (vip, plain, saved, cancelled)]},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    messages = _field_errors(response.content.decode())
    assert messages == [
        "普通 cannot attend: the event is open to VIP only.",
        "未提交 has not been submitted yet.",
        "已注销 was cancelled.",
    ]
    # All or nothing.
    assert not SideEventSignup.objects.exists()


def test_an_event_for_reviewed_visitors_takes_only_those_who_passed(unit, edition):
    event = side_event(edition, signup_requires=SideEvent.Requires.REVIEWED)
    passed = submitted_visitor(unit, name="已通过", status=Visitor.Status.REVIEW_PASSED)
    waiting = submitted_visitor(unit, name="待审核", status=Visitor.Status.PENDING_REVIEW)
    with pytest.raises(ValidationError) as refused:
        side_event_signup(event=event, unit=unit, visitor_ids=[passed.pk, waiting.pk], actor=None)
    assert refused.value.messages == ["待审核 has not passed the visitor review yet."]
    side_event_signup(event=event, unit=unit, visitor_ids=[passed.pk], actor=None)
    assert _statuses(event) == {"已通过": S.CONFIRMED}


def test_a_visitor_is_signed_up_once_and_a_declined_one_not_again(unit, event):
    visitor = submitted_visitor(unit, name="重复")
    side_event_signup(event=event, unit=unit, visitor_ids=[visitor.pk], actor=None)
    with pytest.raises(ValidationError, match="signed up already"):
        side_event_signup(event=event, unit=unit, visitor_ids=[visitor.pk], actor=None)
    SideEventSignup.objects.update(status=S.DECLINED)
    with pytest.raises(ValidationError, match="declined for this event"):
        side_event_signup(event=event, unit=unit, visitor_ids=[visitor.pk], actor=None)


# --- Notices --------------------------------------------------------------------------------------


def test_visitors_and_the_contact_are_told_once_each(unit, edition):
    event = side_event(edition, capacity=1)
    one = submitted_visitor(unit, name="一号", mobile="13900000001", email="one@example.com")
    two = submitted_visitor(unit, name="二号", mobile="13900000002", email="")
    signups = side_event_signup(event=event, unit=unit, visitor_ids=[one.pk, two.pk], actor=None)
    notices = {(n.template, n.channel, n.recipient): n for n in Notice.objects.all()}
    assert set(notices) == {
        ("side_event_signed_up", "sms", "13900000001"),
        ("side_event_signed_up", "email", "one@example.com"),
        ("side_event_waiting", "sms", "13900000002"),
        # The contact: one notice per kind for the unit's visitors of one action.
        ("side_event_signed_up", "sms", "13800138000"),
        ("side_event_signed_up", "email", "contact@example.com"),
        ("side_event_waiting", "sms", "13800138000"),
        ("side_event_waiting", "email", "contact@example.com"),
    }
    contact = notices[("side_event_waiting", "email", "contact@example.com")]
    assert contact.params["names"] == "二号" and contact.params["unit"] == unit.name
    assert contact.params["starts"] == timezone.localtime(event.starts_at).strftime(
        "%Y-%m-%d %H:%M"
    )
    # Each delivery queued through the outbox, published after the commit.
    queued = {tuple(m.args) for m in OutboxMessage.objects.filter(task__endswith="notice_deliver")}
    assert {(n.pk,) for n in notices.values()} <= queued
    # The same change told again sends nothing more.
    before = Notice.objects.count()
    signup_notices_send([("signed_up", signups[:1]), ("waiting", signups[1:])])
    assert Notice.objects.count() == before
    # The cancellation and the move up: new notices, once.
    side_event_signup_cancel(signup=signups[0], unit=unit, actor=None)
    assert (
        Notice.objects.filter(template="side_event_cancelled", recipient="13900000001").count() == 1
    )
    assert (
        Notice.objects.filter(template="side_event_moved_up", recipient="13900000002").count() == 1
    )


def test_nothing_is_told_of_a_sign_up_rolled_back(unit, event):
    visitor = submitted_visitor(unit)
    with pytest.raises(RuntimeError), transaction.atomic():
        side_event_signup(event=event, unit=unit, visitor_ids=[visitor.pk], actor=None)
        raise RuntimeError("rolled back")
    assert not Notice.objects.exists() and not SideEventSignup.objects.exists()


def test_notices_are_delivered_after_the_commit(
    unit, event, django_capture_on_commit_callbacks, _outbox
):
    visitor = submitted_visitor(unit, name="王五", email="")
    with django_capture_on_commit_callbacks(execute=True):
        side_event_signup(event=event, unit=unit, visitor_ids=[visitor.pk], actor=None)
    sms = Notice.objects.get(recipient="13912345678")
    assert sms.status == Notice.Status.SENT
    from ciie_portal.notices.services import render_notice

    text = render_notice(sms)["text"]
    assert "王五" in text and "进口食品对接会" in text


# --- The dashboard ------------------------------------------------------------------------------


def test_the_dashboard_shows_each_sign_ups_state_at_one_query_at_most(
    signed_in, unit, other_unit, edition
):
    def queries() -> tuple[int, str]:
        signed_in.get("/accounts/", HTTP_ACCEPT_LANGUAGE="zh-hans")  # the shared cache warmed
        with CaptureQueriesContext(connection) as counted:
            page = signed_in.get("/accounts/", HTTP_ACCEPT_LANGUAGE="zh-hans")
        return len(counted.captured_queries), page.content.decode()

    without_events, _page = queries()
    event = side_event(edition, capacity=1)
    with_events, page = queries()
    # Published events come from the shared cache; nobody signed up yet: no query for them.
    assert with_events == without_events
    assert "进口食品对接会" in page and 'id="dashboard-side-event-signup"' in page
    side_event_signup(
        event=event, unit=other_unit, visitor_ids=[submitted_visitor(other_unit).pk], actor=None
    )
    with_signups, _page = queries()
    assert with_signups == without_events + 1
    mine = submitted_visitor(unit, name="排队者")
    side_event_signup(event=event, unit=unit, visitor_ids=[mine.pk], actor=None)
    mine_too, page = queries()
    assert mine_too == without_events + 1
    assert re.search(r'dashboard-signup" data-status="waiting">排队者', page)
