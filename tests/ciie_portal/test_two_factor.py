"""Two-factor sign-in for staff, through the real admin pages: the password, then enrolment of an
authenticator app on the first sign-in (QR code, key, a current code, backup codes shown once),
or a code at every later sign-in; nothing of the admin before it."""

import re
from base64 import b32encode
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from ciie_portal.audit import audit_trail
from ciie_portal.models import AuditEntry
from ciie_portal.two_factor import DEMO_STAFF_USERNAMES
from registration.models import Unit, User
from tests.registration.factories import PASSWORD, UserFactory
from tests.two_factor import authenticator, current_code

MIDDLEWARE = "ciie_portal.two_factor.middleware.StaffSecondFactorMiddleware"


def sign_in(client, user, next_path="/admin/", password=PASSWORD):
    """The admin's sign-in page: the password step only."""
    return client.post(
        f"/admin/login/?next={next_path}", {"username": user.username, "password": password}
    )


def submit_code(client, code, url="/admin/two-factor/?next=/admin/"):
    return client.post(url, {"code": code, "next": "/admin/"})


def actions(user, action):
    """The user's audit entries of ``action`` (the user is their object)."""
    return audit_trail(user).filter(action=action)


def enrolled(user):
    """A staff user who set up the app: their authenticator and backup codes."""
    device = authenticator(user)
    backup = StaticDevice.objects.create(user=user, name="backup codes", confirmed=True)
    for token in ("abcdefgh", "ijklmnop", "qrstuv23"):
        backup.token_set.create(token=token)
    return device


@pytest.fixture(autouse=True)
def _in_english(client, settings):
    """The pages' texts are asserted in English (the Chinese is the catalogue's)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def staff_client():
    """A client of its own: no fixture wraps its sign-in."""
    return Client()


@pytest.fixture
def with_middleware(settings):
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[
            : settings.MIDDLEWARE.index("django_otp.middleware.OTPMiddleware") + 1
        ],
        MIDDLEWARE,
        *settings.MIDDLEWARE[
            settings.MIDDLEWARE.index("django_otp.middleware.OTPMiddleware") + 1 :
        ],
    ]


# --- First sign-in: enrolment -------------------------------------------------------------------


def test_the_first_sign_in_enrols_an_app_then_shows_the_backup_codes_once(client, secretary):
    response = sign_in(client, secretary)
    assert response.status_code == 302
    assert response["Location"] == "/admin/two-factor/?next=%2Fadmin%2F"
    assert actions(secretary, "staff.signed_in").count() == 1

    response = client.get(response["Location"])
    assert response["Location"] == "/admin/two-factor/enrol/?next=%2Fadmin%2F"
    page = client.get(response["Location"])
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=secretary, confirmed=False)
    content = page.content.decode()
    assert '<svg width="' in content and 'class="segno"' in content  # the QR code, inline
    secret = b32encode(device.bin_key).decode()
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in content
    assert "otpauth://" not in content  # in the QR code only, not as a link
    assert "no-store" in page["Cache-Control"]
    # The same key until it is confirmed: a reload after scanning still matches the app.
    assert client.get("/admin/two-factor/enrol/").status_code == 200
    assert TOTPDevice.objects.get(user=secretary).pk == device.pk

    wrong = client.post("/admin/two-factor/enrol/", {"code": "000000", "next": "/admin/"})
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert actions(secretary, "staff.second_factor_failed").get().data["step"] == "enrolment"
    assert client.get("/admin/").status_code == 302

    device.throttling_failure_timestamp -= timedelta(seconds=2)  # the second the wrong code cost
    device.save()
    right = client.post(
        "/admin/two-factor/enrol/", {"code": current_code(device), "next": "/admin/"}
    )
    assert right.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", right.content.decode())
    assert len(codes) == 10
    assert sorted(codes) == sorted(
        StaticToken.objects.filter(device__user=secretary).values_list("token", flat=True)
    )
    assert "no-store" in right["Cache-Control"]
    device.refresh_from_db()
    assert device.confirmed
    assert actions(secretary, "staff.second_factor_enrolled").get().data["backup_codes"] == 10

    assert client.get("/admin/").status_code == 200
    # Shown once: the enrolment page now sends to the admin, the codes are not shown again.
    again = client.get("/admin/two-factor/enrol/", follow=True)
    assert again.redirect_chain[-1][0] == "/admin/"
    assert codes[0] not in again.content.decode()


def test_enrolment_pages_carry_no_inline_script_or_style(client, secretary):
    sign_in(client, secretary)
    for url in ("/admin/two-factor/enrol/",):
        content = client.get(url).content.decode()
        assert "style=" not in content
        for tag in re.findall(r"<script\b[^>]*>", content):
            assert "src=" in tag, tag
    enrolled(secretary)
    content = client.get("/admin/two-factor/").content.decode()
    assert "style=" not in content
    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", content))


def test_an_enrolled_account_cannot_enrol_again_with_the_password_alone(client, secretary):
    device = enrolled(secretary)
    sign_in(client, secretary)
    response = client.get("/admin/two-factor/enrol/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/two-factor/?")
    client.post("/admin/two-factor/enrol/", {"code": current_code(device)})
    assert TOTPDevice.objects.filter(user=secretary).count() == 1
    assert client.get("/admin/").status_code == 302


# --- Later sign-ins: the code ------------------------------------------------------------------


def test_an_enrolled_account_gives_the_apps_code_after_the_password(client, organiser):
    device = enrolled(organiser)
    response = sign_in(client, organiser, next_path="/admin/registration/user/")
    assert response["Location"] == "/admin/two-factor/?next=%2Fadmin%2Fregistration%2Fuser%2F"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert 'id="two-factor-verify"' in page.content.decode()

    response = client.post(
        "/admin/two-factor/", {"code": current_code(device), "next": "/admin/registration/user/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/registration/user/"
    assert client.get("/admin/registration/user/").status_code == 200
    passed = actions(organiser, "staff.second_factor_passed").get()
    assert passed.data["method"] == "authenticator"
    assert passed.actor == organiser


def test_a_code_is_taken_once(client, organiser):
    device = enrolled(organiser)
    sign_in(client, organiser)
    code = current_code(device)
    assert submit_code(client, code).status_code == 302
    other = Client()
    sign_in(other, organiser)
    refused = submit_code(other, code)
    assert refused.status_code == 400
    assert other.get("/admin/").status_code == 302


def test_a_backup_code_works_once(client, finance):
    enrolled(finance)
    sign_in(client, finance)
    response = submit_code(client, "ABCD-EFGH")  # as printed or typed: case and dashes ignored
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    entry = actions(finance, "staff.second_factor_passed").get()
    assert entry.data == {"ip": "127.0.0.1", "method": "backup code", "backup_codes_left": 2}
    assert not StaticToken.objects.filter(token="abcdefgh").exists()

    client.post("/admin/logout/")
    sign_in(client, finance)
    StaticDevice.objects.filter(user=finance).update(throttling_failure_count=0)
    refused = submit_code(client, "abcdefgh")
    assert refused.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_wrong_codes_are_throttled_with_a_clear_message(client, finance):
    device = enrolled(finance)
    sign_in(client, finance)
    assert submit_code(client, "000000").status_code == 400
    # At once after a wrong code even the right one is refused: 1, 2, 4, 8… seconds.
    refused = submit_code(client, current_code(device))
    assert refused.status_code == 400
    assert "Too many wrong codes. Wait 1 second, then try again." in refused.content.decode()
    assert client.get("/admin/").status_code == 302
    failures = actions(finance, "staff.second_factor_failed").order_by("pk")
    assert [entry.data["reason"] for entry in failures] == ["wrong code", "throttled"]

    for _ in range(4):  # each wrong code doubles the wait
        TOTPDevice.objects.filter(pk=device.pk).update(
            throttling_failure_timestamp=timezone.now() - timedelta(hours=1)
        )
        submit_code(client, "000000")
    device.refresh_from_db()
    assert device.throttling_failure_count == 5
    response = submit_code(client, current_code(device))
    assert "Wait 16 seconds" in response.content.decode()

    # Once the wait is over the right code passes, and the count starts again.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(seconds=17)
    )
    assert submit_code(client, current_code(device)).status_code == 302
    device.refresh_from_db()
    assert device.throttling_failure_count == 0


def test_a_malformed_code_is_not_a_try(client, finance):
    enrolled(finance)
    sign_in(client, finance)
    response = submit_code(client, "12 34")
    assert response.status_code == 400
    assert "Enter the 6-digit code from your app" in response.content.decode()
    assert not actions(finance, "staff.second_factor_failed").exists()


def test_the_next_page_stays_on_this_site(client, finance):
    device = enrolled(finance)
    sign_in(client, finance)
    response = client.post(
        "/admin/two-factor/?next=https://evil.example/",
        {"code": current_code(device), "next": "https://evil.example/"},
    )
    assert response["Location"] == "/admin/"


# --- Nothing of the admin after the password alone --------------------------------------------


@pytest.fixture
def submitted(unit):
    Unit.objects.filter(pk=unit.pk).update(status=Unit.Status.SUBMITTED)
    return unit


def test_no_admin_page_or_action_after_the_password_alone(client, secretary, submitted):
    enrolled(secretary)
    sign_in(client, secretary)
    for url in (
        "/admin/",
        "/admin/registration/unit/",
        f"/admin/registration/unit/{submitted.pk}/change/",
        "/admin/registration/visitor/",
        "/admin/password_change/",
        "/admin/two-factor/backup-codes/",
        "/admin/ciie_portal/auditentry/",
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/two-factor/?next="), url
    response = client.post(
        "/admin/registration/unit/",
        {"action": "review_approve", "_selected_action": [str(submitted.pk)]},
    )
    assert response.status_code == 302
    assert Unit.objects.get(pk=submitted.pk).status == Unit.Status.SUBMITTED
    # The sign-in page itself sends on to the second factor rather than to a second password.
    assert client.get("/admin/login/?next=/admin/")["Location"].startswith("/admin/two-factor/")


def test_a_superuser_gives_a_second_factor_too(client, db):
    admin = User.objects.create_superuser(username="root", password=PASSWORD)
    sign_in(client, admin)
    assert client.get("/admin/")["Location"].startswith("/admin/two-factor/")
    assert client.get("/admin/two-factor/")["Location"].startswith("/admin/two-factor/enrol/")


def test_signing_out_stays_open_before_the_second_factor(client, finance):
    enrolled(finance)
    sign_in(client, finance)
    assert 'id="two-factor-sign-out"' in client.get("/admin/two-factor/").content.decode()
    client.post("/admin/logout/")
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/two-factor/")["Location"].startswith("/admin/login/")


def test_a_wrong_password_still_locks_the_account(client, finance):
    enrolled(finance)
    for _ in range(5):
        sign_in(client, finance, password="wrong")
    locked = sign_in(client, finance)
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    assert not actions(finance, "staff.signed_in").exists()


def test_staff_pages_outside_the_admin_wait_for_the_second_factor(
    client, secretary, with_middleware, roles
):
    device = enrolled(secretary)
    sign_in(client, secretary, next_path="/staff/overview/")
    for url in ("/staff/overview/", "/staff/bulk/", "/gate/", "/accounts/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/two-factor/?next="), url
    assert client.get("/admin/two-factor/").status_code == 200
    assert client.get("/static/css/two-factor.css").status_code in (200, 404)  # not redirected
    response = client.post(
        "/admin/two-factor/", {"code": current_code(device), "next": "/staff/overview/"}
    )
    assert response["Location"] == "/staff/overview/"
    assert client.get("/staff/overview/").status_code == 200


def test_unit_contacts_sign_in_as_before(client, contact, with_middleware):
    response = client.post("/accounts/login/", {"username": contact.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/accounts/").status_code == 200
    assert not TOTPDevice.objects.filter(user=contact).exists()
    # Not staff: the admin's sign-in refuses them as before.
    client.logout()
    refused = sign_in(client, contact)
    assert refused.status_code == 200
    assert "_auth_user_id" not in client.session


# --- The demo accounts (make run) ---------------------------------------------------------------


def test_the_demo_accounts_are_the_ones_demo_load_makes(db):
    call_command("demo_load", stdout=StringIO())
    assert set(User.objects.filter(is_staff=True).values_list("username", flat=True)) == set(
        DEMO_STAFF_USERNAMES
    )


def test_only_demo_accounts_are_exempt_and_only_when_the_setting_says_so(client, roles, settings):
    demo = UserFactory(username="organiser", is_staff=True)
    other = UserFactory(username="organiser2", is_staff=True)

    settings.TWO_FACTOR_DEMO_EXEMPT = True
    assert sign_in(client, demo)["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    entry = actions(demo, "staff.signed_in").get()
    assert entry.data["second_factor"] == "demo exemption"
    client.post("/admin/logout/")
    sign_in(client, other)
    assert client.get("/admin/")["Location"].startswith("/admin/two-factor/")
    client.post("/admin/logout/")

    settings.TWO_FACTOR_DEMO_EXEMPT = False
    sign_in(client, demo)
    assert client.get("/admin/")["Location"].startswith("/admin/two-factor/")


def test_a_superuser_with_a_demo_name_is_not_exempt(client, db, settings):
    settings.TWO_FACTOR_DEMO_EXEMPT = True
    User.objects.create_superuser(username="organiser", password=PASSWORD)
    client.post("/admin/login/?next=/admin/", {"username": "organiser", "password": PASSWORD})
    assert client.get("/admin/")["Location"].startswith("/admin/two-factor/")


# --- Backup codes and a lost phone ---------------------------------------------------------------


def test_staff_make_new_backup_codes_and_the_old_ones_stop_working(client, finance):
    device = enrolled(finance)
    sign_in(client, finance)
    submit_code(client, current_code(device))
    page = client.get("/admin/two-factor/backup-codes/")
    assert "You have 3 backup codes left (of 10)." in page.content.decode()
    response = client.post("/admin/two-factor/backup-codes/")
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode())
    assert len(codes) == 10
    assert not StaticToken.objects.filter(token="abcdefgh").exists()
    assert actions(finance, "staff.backup_codes_regenerated").exists()

    client.post("/admin/logout/")
    sign_in(client, finance)
    assert submit_code(client, codes[3]).status_code == 302


def test_an_organiser_resets_a_lost_phone_and_the_staff_member_enrols_again(
    client, organiser, secretary
):
    device = enrolled(secretary)
    secretary_client = Client()
    sign_in(secretary_client, secretary)
    submit_code(secretary_client, current_code(device))
    assert secretary_client.get("/admin/").status_code == 200

    client.force_login(organiser)
    response = client.post(
        "/admin/registration/user/",
        {"action": "second_factor_reset", "_selected_action": [str(secretary.pk)]},
        follow=True,
    )
    assert "Two-factor sign-in reset for 1 account" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=secretary).exists()
    assert not StaticDevice.objects.filter(user=secretary).exists()
    entry = actions(secretary, "staff.second_factor_reset").get()
    assert entry.actor == organiser
    assert entry.data["devices_removed"] == 2

    # The secretary's session lost its second factor; the next sign-in enrols a new app.
    assert secretary_client.get("/admin/")["Location"].startswith("/admin/two-factor/")
    assert secretary_client.get("/admin/two-factor/")["Location"].startswith(
        "/admin/two-factor/enrol/"
    )


def test_a_secretary_cannot_reset_anothers_second_factor(client, secretary, finance):
    enrolled(finance)
    client.force_login(secretary)
    response = client.post(
        "/admin/registration/user/",
        {"action": "second_factor_reset", "_selected_action": [str(finance.pk)]},
    )
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=finance).exists()
    assert not AuditEntry.objects.filter(action="staff.second_factor_reset").exists()


def test_an_organiser_does_not_reset_their_own(client, organiser):
    enrolled(organiser)
    client.force_login(organiser)
    response = client.post(
        "/admin/registration/user/",
        {"action": "second_factor_reset", "_selected_action": [str(organiser.pk)]},
        follow=True,
    )
    assert "reset by another organiser" in response.content.decode()
    assert TOTPDevice.objects.filter(user=organiser, name="authenticator").exists()


def test_the_device_admins_are_not_offered(client, db):
    admin = User.objects.create_superuser(username="root", password=PASSWORD)
    client.force_login(admin)
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert client.get("/admin/otp_static/staticdevice/").status_code == 404
