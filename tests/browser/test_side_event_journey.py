"""配套活动报名 in a real browser: the contact goes from the dashboard to the side event with
one place left, signs two visitors up — one takes the place, the other waits — then cancels the
first one's sign-up, and the one waiting moves up, as the page shows. Chinese on a desktop,
English on a 390×844 phone; the pages pass axe-core and fit the phone; no Content-Security-
Policy violation on the way."""

import re

import pytest
from playwright.sync_api import Page, expect

from registration.side_events.models import SideEventSignup
from registration.side_events.services import side_event_signup
from tests.browser.test_every_page import check
from tests.registration.factories import PASSWORD
from tests.registration.side_event_factories import side_event, submitted_visitor

pytestmark = pytest.mark.django_db(transaction=True)

LANG = {"zh-CN": "zh-hans", "en-US": "en"}
S = SideEventSignup.Status


@pytest.fixture
def season(unit, other_unit, edition):
    """An event of two places, one taken by another unit; two visitors of the unit."""
    unit.account.username = unit.uscc
    unit.account.save()
    event = side_event(edition, capacity=2)
    side_event_signup(
        event=event, unit=other_unit, visitor_ids=[submitted_visitor(other_unit).pk], actor=None
    )
    first = submitted_visitor(unit, name="陈一")
    second = submitted_visitor(unit, name="林二")
    return {"unit": unit, "event": event, "first": first, "second": second}


def _row(page: Page, name: str):
    return page.locator("#side-event-signups li", has_text=name)


def _journey(page: Page, live_server, season, language, *, phone: bool):
    unit, event = season["unit"], season["event"]
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_username").fill(unit.uscc)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/$"))
    expect(page.locator("html")).to_have_attribute("lang", LANG[language])
    shown = "Imported food matchmaking" if language == "en-US" else "进口食品对接会"
    expect(page.locator("#dashboard-side-events")).to_contain_text(shown)

    page.locator("#dashboard-side-event-signup").click()
    expect(page).to_have_url(re.compile(r"/accounts/side-events/$"))
    expect(page.locator(f"#side-event-{event.pk} .side-event-places")).to_have_attribute(
        "data-places-left", "1"
    )
    page.locator(f"#side-event-{event.pk} h2 a").click()
    expect(page.locator("#side-event-name")).to_have_text(shown)

    # Both visitors, for the one place left.
    page.get_by_label(re.compile("陈一")).check()
    page.get_by_label(re.compile("林二")).check()
    page.locator("#side-event-submit").click()
    expect(_row(page, "陈一")).to_have_attribute("data-status", S.CONFIRMED)
    expect(_row(page, "林二")).to_have_attribute("data-status", S.WAITING)
    expect(page.locator(".side-event-places")).to_have_attribute("data-places-left", "0")

    # The first one's sign-up cancelled (after the browser's confirmation): the one waiting
    # moves up.
    page.once("dialog", lambda dialog: dialog.accept())
    _row(page, "陈一").locator("button[type=submit]").click()
    expect(_row(page, "陈一")).to_have_attribute("data-status", S.CANCELLED)
    expect(_row(page, "林二")).to_have_attribute("data-status", S.CONFIRMED)
    assert dict(
        SideEventSignup.objects.filter(unit=unit).values_list("visitor__name", "status")
    ) == {"陈一": S.CANCELLED, "林二": S.CONFIRMED}

    # The dashboard says so too.
    page.goto(live_server.url + "/accounts/")
    expect(page.locator(".dashboard-signup[data-status=confirmed]")).to_contain_text("林二")

    problems: list[str] = []
    for url in ("/accounts/side-events/", f"/accounts/side-events/{event.pk}/", "/accounts/"):
        check(page, live_server.url + url, problems, phone=phone)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_signing_up_for_a_full_event_in_chinese(page, live_server, season, browser_language):
    _journey(page, live_server, season, browser_language, phone=False)


@pytest.mark.phone
@pytest.mark.parametrize("browser_language", ["en-US"])
def test_signing_up_for_a_full_event_on_a_phone_in_english(
    page, live_server, season, browser_language
):
    _journey(page, live_server, season, browser_language, phone=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
