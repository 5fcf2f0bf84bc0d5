"""账户管理 in a real browser: the contact opens the account page from the unit's navigation,
changes the mobile number with the code sent to the new one, changes the password — a second
browser signed in before is signed out, this one stays — and signs out every other device.
Chinese and English, desktop and phone; no Content-Security-Policy violation on the way."""

import re

import pytest
from playwright.sync_api import Page, expect

from ciie_portal.models import AuditEntry, Notice
from registration.models import User
from tests.registration.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

NEW_MOBILE = "13700004321"
NEW_PASSWORD = "Zx!9ciie-account-new"
LANG = {"zh-CN": "zh-hans", "en-US": "en"}


@pytest.fixture
def contact_unit(unit):
    unit.account.username = unit.uscc
    unit.account.email = "old@example.com"
    unit.account.save()
    unit.contact_name = "陈联络"
    unit.contact_email = "old@example.com"
    unit.save()
    return unit


def _sign_in(page: Page, live_server, unit, password=PASSWORD):
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_username").fill(unit.uscc)
    page.locator("#id_password").fill(password)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/$"))


def _open_account_page(page: Page):
    # On a phone the unit's navigation may fold into a menu behind a button.
    toggle = page.locator("#unit-nav-toggle")
    if toggle.count() and toggle.is_visible():
        toggle.click()
        # Bootstrap adds "show" once the menu has finished unfolding.
        expect(page.locator("#unit-nav")).to_have_class(re.compile(r"\bshow\b"))
    page.locator("a[href='/accounts/account/']").first.click()
    expect(page).to_have_url(re.compile(r"/accounts/account/$"))


def _journey(browser, page: Page, live_server, unit, language):
    elsewhere = browser.new_context()
    other_page = elsewhere.new_page()
    _sign_in(other_page, live_server, unit)

    _sign_in(page, live_server, unit)
    _open_account_page(page)
    expect(page.locator("#account-login-name")).to_have_text(unit.uscc)
    expect(page.locator("html")).to_have_attribute("lang", LANG[language])

    # A wrong mobile number is said at its field; nothing is sent.
    page.locator("#id_mobile-mobile").fill("12345")
    page.locator("#mobile-send-code").click()
    expect(page.locator("#id_mobile-mobile")).to_have_class(re.compile("is-invalid"))
    expect(page.locator("#id_mobile-mobile")).to_have_value("12345")

    # The code goes to the NEW number; the number is kept while the code is typed.
    page.locator("#id_mobile-mobile").fill(NEW_MOBILE)
    page.locator("#mobile-send-code").click()
    expect(page.locator("#id_mobile-mobile")).to_have_value(NEW_MOBILE)
    code = Notice.objects.filter(recipient=NEW_MOBILE).latest("pk").params["code"]
    page.locator("#id_mobile-code").fill(code)
    page.locator("#mobile-submit").click()
    expect(page).to_have_url(re.compile(r"/accounts/account/#account-mobile$"))
    expect(page.locator("#account-mobile-now")).to_have_text("137****4321")
    assert User.objects.get(pk=unit.account_id).mobile == NEW_MOBILE

    # The password: the current one first; the other browser is signed out, this one stays.
    page.locator("#id_password-current_password").fill(PASSWORD)
    page.locator("#id_password-new_password1").fill(NEW_PASSWORD)
    page.locator("#id_password-new_password2").fill(NEW_PASSWORD)
    page.locator("#password-submit").click()
    expect(page).to_have_url(re.compile(r"/accounts/account/#account-password$"))
    other_page.goto(live_server.url + "/accounts/account/")
    expect(other_page).to_have_url(re.compile(r"/accounts/login/"))

    # Signed in again elsewhere with the new password, then signed out from here.
    _sign_in(other_page, live_server, unit, NEW_PASSWORD)
    page.locator("#sessions-submit").click()
    expect(page).to_have_url(re.compile(r"/accounts/account/#account-sessions$"))
    other_page.goto(live_server.url + "/accounts/account/")
    expect(other_page).to_have_url(re.compile(r"/accounts/login/"))
    page.reload()
    expect(page.locator("#account-login-name")).to_have_text(unit.uscc)

    actions = set(
        AuditEntry.objects.filter(actor_id=unit.account_id).values_list("action", flat=True)
    )
    assert {
        "account.mobile_changed",
        "account.password_changed",
        "account.sessions_ended",
    } <= actions
    elsewhere.close()


@pytest.mark.parametrize("browser_language", ["zh-CN", "en-US"])
def test_account_changes(browser, page, live_server, contact_unit, browser_language):
    _journey(browser, page, live_server, contact_unit, browser_language)


@pytest.mark.phone
@pytest.mark.parametrize("browser_language", ["zh-CN", "en-US"])
def test_account_changes_on_a_phone(browser, page, live_server, contact_unit, browser_language):
    _journey(browser, page, live_server, contact_unit, browser_language)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
