"""Staff sign in through the admin's pages: the password, then the current code of their
authenticator app (computed from the device's key, as the app does)."""

from playwright.sync_api import Page, expect

from tests.registration.factories import PASSWORD
from tests.two_factor import authenticator, current_code


def admin_sign_in(page: Page, live_server, user, *, password: str = PASSWORD, next_path=""):
    device = authenticator(user)
    query = f"?next={next_path}" if next_path else ""
    page.goto(live_server.url + "/admin/login/" + query)
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(password)
    page.locator("input[type=submit]").click()
    expect(page.locator("#two-factor-verify")).to_be_visible()
    page.locator("#two-factor-verify input[name=code]").fill(current_code(device))
    page.locator("#two-factor-verify input[type=submit]").click()
    expect(page.locator("#two-factor-verify")).to_have_count(0)
