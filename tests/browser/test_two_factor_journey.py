"""A staff member's first sign-in in a browser: the password, the QR code and key of a new
authenticator, a code computed from the key the page shows (as the app does), the backup codes;
then a later sign-in with a code. No page may break the Content-Security-Policy."""

from base64 import b32decode

import pytest
from django.contrib.auth.models import Group
from django_otp.oath import totp
from playwright.sync_api import Page, expect

from ciie_portal.roles import FINANCE, roles_sync
from tests.registration.factories import PASSWORD, UserFactory


def _finance():
    roles_sync()
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=FINANCE))
    return user


def _password(page: Page, live_server, user):
    page.goto(live_server.url + "/admin/login/?next=/admin/")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()


@pytest.mark.phone
@pytest.mark.parametrize("browser_language", ["zh-CN", "en-US"])
def test_a_staff_member_enrols_an_app_and_signs_in_with_it(page, live_server, browser_language):
    user = _finance()
    _password(page, live_server, user)

    expect(page).to_have_url(live_server.url + "/admin/two-factor/enrol/?next=%2Fadmin%2F")
    expect(page.locator("#two-factor-qr svg")).to_be_visible()
    key = b32decode(page.locator("#two-factor-secret").inner_text().replace(" ", ""))
    page.locator("#two-factor-enrol input[name=code]").fill(f"{totp(key):06d}")
    page.locator("#two-factor-enrol input[type=submit]").click()

    codes = page.locator("#two-factor-backup-codes li")
    expect(codes).to_have_count(10)
    backup = codes.first.inner_text().strip()
    page.locator("#two-factor-continue").click()
    expect(page).to_have_url(live_server.url + "/admin/")
    expect(page.locator("#user-tools")).to_be_visible()

    # A later sign-in asks for the app's code (the next one: this step's was used).
    page.context.clear_cookies()
    _password(page, live_server, user)
    expect(page.locator("#two-factor-verify")).to_be_visible()
    page.locator("#two-factor-verify input[name=code]").fill(f"{totp(key, t0=-30):06d}")
    page.locator("#two-factor-verify input[type=submit]").click()
    expect(page).to_have_url(live_server.url + "/admin/")

    # And a backup code, once.
    page.context.clear_cookies()
    _password(page, live_server, user)
    page.locator("#two-factor-verify input[name=code]").fill(backup)
    page.locator("#two-factor-verify input[type=submit]").click()
    expect(page).to_have_url(live_server.url + "/admin/")
