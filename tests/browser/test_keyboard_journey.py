"""The registration with the keyboard alone, at a phone's screen and on a desktop: sign in, a
delivery address, a visitor with a photo, the submission — every field reached with Tab,
selects and radios moved with the arrow keys, boxes ticked with Space, forms sent with Enter,
the photo chosen through the file dialog Space opens. No click, no fill(), no focus() by script.
In English (US), whose date field takes MM/DD/YYYY as typed; the Chinese pages are checked for
labels and focus order by axe in test_every_page.py."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from registration.models import Unit, Visitor
from registration.validators import resident_id_sex
from tests.browser.test_visitor_journey import _photo
from tests.ciie_portal.factories import EntryPeriodFactory
from tests.registration.factories import PASSWORD, UnitFactory, make_resident_id

pytestmark = pytest.mark.django_db(transaction=True)

TABS = 250
HOLDS = """(v) => { const e = document.activeElement;
                   return e.type === "radio" ? e.checked && e.value === v : e.value === v; }"""


@pytest.fixture
def ready_unit(edition):
    """A unit with its information saved, nothing else yet."""
    EntryPeriodFactory(edition=edition, name="后三天", first_day=edition.ends_on)
    edition.auto_approve_categories = []
    edition.save()
    unit = UnitFactory(edition=edition, info_saved_at=timezone.now(), contact_email="a@b.cn")
    unit.account.username = unit.uscc
    unit.account.save()
    return unit  # the longest way from the top of a page to a field


def active(page: Page) -> dict:
    return page.evaluate(
        """() => { const e = document.activeElement;
                   return {id: e.id, name: e.name || "", tag: e.tagName.toLowerCase(),
                           value: e.value, type: e.type || ""}; }"""
    )


def tab_to(page: Page, selector: str) -> None:
    """Tab forward (round the page if need be) until ``selector`` has the focus."""
    for _ in range(TABS):
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} cannot be reached with Tab (focus on {active(page)})")


def type_into(page: Page, selector: str, text: str) -> None:
    tab_to(page, selector)
    page.keyboard.type(text)


def choose(page: Page, selector: str, value: str) -> None:
    """A select or a radio group, moved with the arrow keys until it holds ``value``."""
    tab_to(page, selector)
    for _ in range(400):
        if page.evaluate(HOLDS, value):
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"{selector} never took {value!r} with the arrow keys")


def _file_chooser_by_space(page):
    """Space on the focused file input opens the file chooser. On a loaded machine Chromium
    now and then lets the first press pass without one: the key is pressed again (three
    tries), still only from the keyboard."""
    for attempt in range(3):
        try:
            with page.expect_file_chooser(timeout=10_000) as chooser:
                page.keyboard.press("Space")
            return chooser.value
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
            expect(page.locator("#id_photo")).to_be_focused()
    return None


def journey(page: Page, live_server, unit, tmp_path) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(live_server.url + "/accounts/login/")
    type_into(page, "#id_username", unit.uscc)
    type_into(page, "#id_password", PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/accounts/$"))

    # A delivery address.
    page.goto(live_server.url + "/accounts/addresses/")
    type_into(page, "#id_recipient", "陈联络")
    type_into(page, "#id_mobile", "13800138000")
    choose(page, "#id_province", "310000")
    expect(page.locator("#id_city option[value='310100']")).to_have_count(1)
    choose(page, "#id_city", "310100")
    expect(page.locator("#id_district option[value='310118']")).to_have_count(1)
    choose(page, "#id_district", "310118")
    type_into(page, "#id_address", "崧泽大道333号")
    type_into(page, "#id_postcode", "201702")
    page.keyboard.press("Enter")
    expect(page.locator("body")).to_contain_text("崧泽大道333号")

    # A visitor with a photo: the link to the form, then every field.
    page.goto(live_server.url + "/accounts/visitors/")
    tab_to(page, "a[href$='/visitors/add/mainland/']")
    page.keyboard.press("Enter")
    expect(page.locator("#id_name")).to_be_visible()
    number = make_resident_id(31, birth="19850315", region="440106")
    type_into(page, "#id_name", "李明")
    choose(page, "input[name=sex]", resident_id_sex(number))
    # A date field takes its digits segment by segment in the order of the browser's locale;
    # month and day move on after two digits (en-US: MM/DD/YYYY).
    tab_to(page, "#id_birth_date")
    page.keyboard.type("03151985")
    type_into(page, "#id_id_number", number)
    choose(page, "#id_job_category", "purchasing")
    type_into(page, "#id_position", "采购经理")
    type_into(page, "#id_mobile", "13912340000")
    choose(page, "input[name=pickup]", "courier")
    tab_to(page, "#id_address")
    page.keyboard.press("ArrowDown")
    tab_to(page, "#id_photo")
    _file_chooser_by_space(page).set_files(_photo(tmp_path))
    tab_to(page, "#id_pledge, input[name=pledge]")
    page.keyboard.press("Space")
    tab_to(page, "input[name=sensitive_consent]")
    page.keyboard.press("Space")
    tab_to(page, "button[type=submit][name=save]")
    page.keyboard.press("Enter")
    expect(page.locator("#unsubmitted")).to_contain_text("1")

    # The submission.
    page.goto(live_server.url + "/accounts/submit/")
    tab_to(page, "#submit-sensitive-consent")
    page.keyboard.press("Space")
    tab_to(page, "#unit-submit-form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator(".alert-success")).to_be_visible()

    unit.refresh_from_db()
    assert unit.status == Unit.Status.SUBMITTED
    assert list(Visitor.objects.filter(unit=unit).values_list("status", "name")) == [
        (Visitor.Status.SUBMITTED, "李明")
    ]


@pytest.mark.parametrize("browser_language", ["en-US"])
def test_the_registration_with_the_keyboard_alone(
    page, live_server, ready_unit, tmp_path, browser_language
):
    journey(page, live_server, ready_unit, tmp_path)


@pytest.mark.phone
@pytest.mark.parametrize("browser_language", ["en-US"])
def test_the_registration_with_the_keyboard_alone_on_a_phone_in_english(
    page, live_server, ready_unit, tmp_path, browser_language
):
    journey(page, live_server, ready_unit, tmp_path)
