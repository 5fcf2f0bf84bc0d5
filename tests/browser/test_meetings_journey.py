"""洽谈预约 in a real browser: a unit whose purchase intentions fit a German medical exhibitor
finds it among its recommendations, asks it for a meeting on the first expo day at 10:00; the
exhibitor's contact opens the signed link from the email (no account) and confirms; the unit
sees the meeting confirmed on its dashboard and downloads the calendar file, whose event starts
at 10:00 Beijing time. Chinese on a desktop, English on a 390×844 phone; every page passes
axe-core and fits the phone; no Content-Security-Policy violation on the way."""

import re
from datetime import date, datetime
from pathlib import Path

import icalendar
import pytest
from playwright.sync_api import Page, expect

from ciie_portal.models import Notice
from registration.exhibitors import meetings
from registration.exhibitors.models import MatchingProfile, Meeting
from tests.browser.test_every_page import check
from tests.registration.exhibitors.factories import ExhibitorFactory
from tests.registration.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

LANG = {"zh-CN": "zh-hans", "en-US": "en"}
BEIJING = meetings.BEIJING


@pytest.fixture
def season(unit, edition, monkeypatch):
    """The expo on 5–10 November 2026, two weeks ahead; a unit wanting medical equipment from
    Germany; a German medical exhibitor with a contact, and one that fits nothing."""
    monkeypatch.setattr(meetings, "now", lambda: datetime(2026, 10, 20, 10, 0, tzinfo=BEIJING))
    edition.starts_on, edition.ends_on = date(2026, 11, 5), date(2026, 11, 10)
    edition.save()
    unit.account.username = unit.uscc
    unit.account.save()
    unit.interest_areas = ["medical_healthcare"]
    unit.contact_email = "buyer@example.com"
    unit.save()
    MatchingProfile.objects.create(unit=unit, countries=["DE"])
    fits = ExhibitorFactory(
        edition=edition,
        name="拜耳医药",
        name_en="Bayer Pharma",
        country="DE",
        area="medical_healthcare",
        hall="1.1",
        booth="A001",
        contact_email="sales@bayer.example",
    )
    ExhibitorFactory(
        edition=edition, name="丰田汽车", name_en="Toyota", country="JP", area="automobile"
    )
    return {"unit": unit, "exhibitor": fits}


def _journey(page: Page, browser, live_server, season, language, *, phone: bool):
    unit, exhibitor = season["unit"], season["exhibitor"]
    english = language == "en-US"
    shown = "Bayer Pharma" if english else "拜耳医药"
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_username").fill(unit.uscc)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/$"))
    expect(page.locator("html")).to_have_attribute("lang", LANG[language])

    # The recommendations put the exhibitor first; its page offers a meeting.
    page.goto(live_server.url + "/accounts/matching/")
    expect(page.locator("#matches li").first).to_contain_text(shown)
    page.locator(f"#match-{exhibitor.pk} h2 a").click()
    expect(page.locator("#exhibitor-name")).to_have_text(shown)
    page.locator("#exhibitor-ask-meeting").click()
    expect(page).to_have_url(re.compile(rf"/accounts/exhibitors/{exhibitor.pk}/meeting/$"))

    page.locator("#id_day").select_option("2026-11-05")
    page.get_by_label("10:00–10:30").check()
    page.locator("#id_message").fill("Imaging systems" if english else "想了解医疗影像设备")
    page.locator("#meeting-submit").click()
    expect(page).to_have_url(re.compile(r"/accounts/meetings/$"))
    meeting = Meeting.objects.get(unit=unit)
    expect(page.locator(f"#meeting-{meeting.pk}")).to_have_attribute("data-status", "requested")

    # The exhibitor's contact opens the link of the email, without an account, and confirms.
    link = Notice.objects.get(key=f"meeting:{meeting.pk}:requested").params["link"]
    assert link.startswith(live_server.url + "/accounts/exhibitor-meetings/")
    exhibitor_context = browser.new_context(
        locale=language, **({"viewport": {"width": 390, "height": 844}} if phone else {})
    )
    exhibitor_page = exhibitor_context.new_page()
    exhibitor_page.goto(link)
    row = exhibitor_page.locator(f"#meeting-{meeting.pk}")
    expect(row).to_contain_text(unit.name)
    problems: list[str] = []
    check(exhibitor_page, link, problems, phone=phone)
    row.locator(".meeting-confirm").click()
    expect(exhibitor_page.locator(f"#meeting-{meeting.pk}")).to_have_attribute(
        "data-status", "confirmed"
    )
    exhibitor_context.close()
    meeting.refresh_from_db()
    assert meeting.status == Meeting.Status.CONFIRMED

    # The unit sees it confirmed on its dashboard and downloads the calendar file.
    page.goto(live_server.url + "/accounts/")
    confirmed = page.locator(f"#meetings-panel .dashboard-meeting[data-meeting='{meeting.pk}']")
    expect(confirmed).to_have_attribute("data-status", "confirmed")
    expect(confirmed).to_contain_text(shown)
    with page.expect_download() as download:
        confirmed.locator("a[download]").click()
    content = Path(download.value.path()).read_bytes()
    [event] = icalendar.Calendar.from_ical(content).walk("VEVENT")
    assert event.decoded("dtstart") == datetime(2026, 11, 5, 10, 0, tzinfo=BEIJING)
    assert event["dtstart"].params["TZID"] == "Asia/Shanghai"
    assert "1.1" in str(event["location"]) and "A001" in str(event["location"])
    assert shown in str(event["summary"])

    # The recommendations page is the matching part's to check (its favourite button).
    for url in (
        f"/accounts/exhibitors/{exhibitor.pk}/",
        f"/accounts/exhibitors/{exhibitor.pk}/meeting/",
        "/accounts/meetings/",
        "/accounts/",
    ):
        check(page, live_server.url + url, problems, phone=phone)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_a_unit_books_a_meeting_the_exhibitor_confirms_in_chinese(
    page, browser, live_server, season, browser_language
):
    _journey(page, browser, live_server, season, browser_language, phone=False)


@pytest.mark.phone
@pytest.mark.parametrize("browser_language", ["en-US"])
def test_a_unit_books_a_meeting_the_exhibitor_confirms_on_a_phone_in_english(
    page, browser, live_server, season, browser_language
):
    _journey(page, browser, live_server, season, browser_language, phone=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
