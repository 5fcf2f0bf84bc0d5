"""账户管理: the signed-in unit contact changes the password (current one asked, validators,
other sessions signed out), the mobile number and the email address (a code to the NEW one),
the contact person, and signs out every other session. Every change is audited without a
password or a code, and told to the channels as they were before it. Staff are sent to the
admin's password change; another unit's contact changes only their own account."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.test import Client

from ciie_portal.models import AuditEntry, Notice
from ciie_portal.notices.services import render_notice
from registration.account import account_contact_change, account_mobile_change_confirm
from registration.models import User, VerificationCode
from tests.registration.factories import PASSWORD

URL = "/accounts/account/"
NEW_PASSWORD = "Zx!9ciie-portal-new"
NEW_MOBILE = "13700001111"
NEW_EMAIL = "new.contact@example.com"
OLD_EMAIL = "old.contact@example.com"

POSTS = {
    "password/": {
        "password-current_password": PASSWORD,
        "password-new_password1": NEW_PASSWORD,
        "password-new_password2": NEW_PASSWORD,
    },
    "mobile/": {"mobile-mobile": NEW_MOBILE, "send_code": "1"},
    "email/": {"email-email": NEW_EMAIL, "send_code": "1"},
    "contact/": {"contact-contact_name": "冒名者"},
    "sessions/": {},
}


@pytest.fixture
def in_english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def signed_in(client, contact, unit):
    """The contact, with an email address, signed in; the unit's contact fields filled in."""
    contact.email = OLD_EMAIL
    contact.save(update_fields=["email"])
    unit.contact_name = "陈联络"
    unit.contact_title = "ms"
    unit.contact_mobile = contact.mobile
    unit.contact_email = OLD_EMAIL
    unit.contact_department = "采购部"
    unit.save()
    client.force_login(contact)
    return contact


def sign_in(client, user, password=PASSWORD):
    """Through the sign-in page, as a person would (django-axes needs the request)."""
    response = client.post("/accounts/login/", {"username": user.username, "password": password})
    assert response.status_code in (200, 302)
    return response


def actions(user) -> list[str]:
    return list(
        AuditEntry.objects.filter(actor=user).order_by("pk").values_list("action", flat=True)
    )


def last_code(target: str) -> str:
    return (
        Notice.objects.filter(recipient=target, event="verification_code")
        .latest("pk")
        .params["code"]
    )


def notices(event: str) -> dict[str, Notice]:
    return {n.channel: n for n in Notice.objects.filter(event=event)}


# --- Who may see the pages ------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, edition):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    for path, data in POSTS.items():
        response = client.post(URL + path, data)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/login/"), path
    assert not AuditEntry.objects.exists() and not Notice.objects.exists()


@pytest.mark.parametrize("who", ["organiser", "secretary"])
def test_staff_are_sent_to_the_admins_password_change(client, request, edition, unit, who):
    staff = request.getfixturevalue(who)
    password_before = User.objects.get(pk=staff.pk).password
    client.force_login(staff)
    assert client.get(URL)["Location"] == "/admin/password_change/"
    for path, data in POSTS.items():
        response = client.post(URL + path, data)
        assert response["Location"] == "/admin/password_change/", path
    assert User.objects.get(pk=staff.pk).password == password_before
    assert not Notice.objects.exists()
    unit.refresh_from_db()
    assert unit.contact_name == ""


def test_the_page_shows_the_account_and_is_in_the_units_navigation(
    client, in_english, signed_in, unit
):
    page = client.get(URL).content.decode()
    assert signed_in.username in page
    assert f"{signed_in.mobile[:3]}****{signed_in.mobile[-4:]}" in page
    assert "o***@example.com" in page
    assert 'value="陈联络"' in page
    for form in ("password-form", "mobile-form", "email-form", "contact-form", "sessions-form"):
        assert f'id="{form}"' in page
    assert f'href="{URL}"' in client.get("/accounts/").content.decode()


def test_another_units_contact_changes_only_their_own_account(
    client, signed_in, unit, other_contact, other_unit
):
    other = Client()
    other.force_login(other_contact)
    other.post(URL + "contact/", {"contact-contact_name": "别人"})
    other.post(URL + "sessions/")
    unit.refresh_from_db()
    other_unit.refresh_from_db()
    assert unit.contact_name == "陈联络" and other_unit.contact_name == "别人"
    # This account's session was not touched by the other account's "sign out elsewhere".
    assert client.get(URL).status_code == 200
    # And the services refuse a unit that is not the user's.
    with pytest.raises(PermissionDenied):
        account_contact_change(user=other_contact, unit=unit, values={"contact_name": "别人"})
    with pytest.raises(PermissionDenied):
        account_mobile_change_confirm(user=other_contact, unit=unit, mobile=NEW_MOBILE, code="1")


# --- Password -------------------------------------------------------------------------------


def test_the_password_changes_this_session_stays_and_other_sessions_are_signed_out(
    client, in_english, signed_in, monkeypatch
):
    elsewhere = Client()
    elsewhere.force_login(signed_in)
    assert elsewhere.get(URL).status_code == 200
    # 15:30 UTC is 23:30 in Beijing: the notice says the Beijing time.
    fixed = datetime(2027, 10, 15, 15, 30, tzinfo=UTC)
    monkeypatch.setattr("registration.account.timezone", SimpleNamespace(now=lambda: fixed))

    response = client.post(URL + "password/", POSTS["password/"], follow=True)

    assert response.redirect_chain[-1][0] == URL + "#account-password"
    assert "Your password was changed" in response.content.decode()
    signed_in.refresh_from_db()
    assert signed_in.check_password(NEW_PASSWORD)
    assert client.get(URL).status_code == 200
    assert elsewhere.get(URL)["Location"].startswith("/accounts/login/")
    assert sign_in(Client(), signed_in, NEW_PASSWORD)["Location"] != "/accounts/login/"
    assert sign_in(Client(), signed_in, PASSWORD).status_code == 200  # the old one: refused

    entry = AuditEntry.objects.get(action="account.password_changed")
    assert entry.actor == signed_in and entry.object_id == str(signed_in.pk)
    sent = notices("account_password_changed")
    assert sent["sms"].recipient == signed_in.mobile and sent["email"].recipient == OLD_EMAIL
    assert sent["sms"].params == {"account": signed_in.username, "at": "2027-10-15 23:30"}
    assert sent["sms"].language == "en"
    text = render_notice(sent["sms"])["text"]
    assert "2027-10-15 23:30 (Beijing time)" in text and signed_in.username in text
    email = render_notice(sent["email"])
    assert email["subject"] == "Your CIIE account password was changed"
    for stored in (str(entry.data), entry.reason, str(sent["sms"].params)):
        assert NEW_PASSWORD not in stored and PASSWORD not in stored


def test_a_wrong_current_password_is_said_at_its_field_and_changes_nothing(
    client, in_english, signed_in
):
    data = {**POSTS["password/"], "password-current_password": "wrong"}
    response = client.post(URL + "password/", data)
    assert response.status_code == 200
    form = response.context["password_form"]
    assert form.errors == {"current_password": ["The current password is not correct."]}
    assert "The current password is not correct." in response.content.decode()
    signed_in.refresh_from_db()
    assert signed_in.check_password(PASSWORD)
    assert not Notice.objects.exists() and "account.password_changed" not in actions(signed_in)


def test_the_password_validators_and_the_confirmation_apply(client, in_english, signed_in):
    weak = {
        "password-current_password": PASSWORD,
        "password-new_password1": "12345678",
        "password-new_password2": "12345678",
    }
    form = client.post(URL + "password/", weak).context["password_form"]
    assert "This password is too common." in form.errors["new_password1"]
    mismatch = {**POSTS["password/"], "password-new_password2": NEW_PASSWORD + "x"}
    form = client.post(URL + "password/", mismatch).context["password_form"]
    assert form.errors == {"new_password2": ["The two passwords do not match."]}
    signed_in.refresh_from_db()
    assert signed_in.check_password(PASSWORD)


def test_wrong_current_passwords_are_limited_per_account(client, in_english, signed_in, settings):
    settings.ACCOUNT_PASSWORD_FAILURES = 3
    wrong = {**POSTS["password/"], "password-current_password": "wrong"}
    for _ in range(2):
        errors = client.post(URL + "password/", wrong).context["password_form"].errors
        assert errors["current_password"] == ["The current password is not correct."]
    third = client.post(URL + "password/", wrong).context["password_form"].errors
    assert "Too many wrong passwords" in third["current_password"][0]
    # From now on not even the right password is checked, from another session either.
    again = Client()
    again.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    again.force_login(signed_in)
    errors = again.post(URL + "password/", POSTS["password/"]).context["password_form"].errors
    assert errors["current_password"][0].startswith("Too many wrong passwords. Try again in ")
    assert errors["current_password"][0].endswith("15 minutes.")
    signed_in.refresh_from_db()
    assert signed_in.check_password(PASSWORD)


# --- Mobile number --------------------------------------------------------------------------


def test_the_mobile_changes_only_with_the_code_sent_to_the_new_number(
    client, in_english, signed_in, unit
):
    old_mobile = signed_in.mobile
    response = client.post(URL + "mobile/", {"mobile-mobile": "137 0000 1111", "send_code": "1"})
    assert response.status_code == 200
    assert f"A verification code was sent to {NEW_MOBILE}" in response.content.decode()
    assert response.context["mobile_form"].initial == {"mobile": NEW_MOBILE}
    code = VerificationCode.objects.get(target=NEW_MOBILE)
    assert code.purpose == "account_mobile" and code.channel == "sms"
    signed_in.refresh_from_db()
    assert signed_in.mobile == old_mobile  # nothing changes before the code comes back

    wrong = client.post(URL + "mobile/", {"mobile-mobile": NEW_MOBILE, "mobile-code": "000000"})
    form = wrong.context["mobile_form"]
    if last_code(NEW_MOBILE) != "000000":
        assert form.errors == {"code": ["The verification code is not correct."]}
        assert f'value="{NEW_MOBILE}"' in wrong.content.decode()  # what was typed is kept

    plain = last_code(NEW_MOBILE)
    response = client.post(
        URL + "mobile/", {"mobile-mobile": NEW_MOBILE, "mobile-code": plain}, follow=True
    )
    assert "Your mobile number was changed." in response.content.decode()
    signed_in.refresh_from_db()
    unit.refresh_from_db()
    assert signed_in.mobile == NEW_MOBILE and unit.contact_mobile == NEW_MOBILE

    changed = AuditEntry.objects.get(action="account.mobile_changed")
    assert (changed.from_state, changed.to_state) == (
        f"{old_mobile[:3]}****{old_mobile[-4:]}",
        "137****1111",
    )
    assert AuditEntry.objects.filter(action="account.mobile_code_sent").count() == 1
    for entry in AuditEntry.objects.filter(actor=signed_in):
        assert plain not in str(entry.data) + entry.from_state + entry.to_state
    # The OLD number is told by SMS, the email address by email.
    sent = notices("account_mobile_changed")
    assert sent["sms"].recipient == old_mobile and sent["email"].recipient == OLD_EMAIL
    assert sent["sms"].params["new"] == "137****1111"
    assert "changed to 137****1111" in render_notice(sent["sms"])["text"]
    # The code was used once: it cannot change the number again.
    again = client.post(URL + "mobile/", {"mobile-mobile": NEW_MOBILE, "mobile-code": plain})
    assert again.context["mobile_form"].errors["code"]


def test_a_code_for_one_number_does_not_set_another(client, in_english, signed_in):
    client.post(URL + "mobile/", {"mobile-mobile": NEW_MOBILE, "send_code": "1"})
    plain = last_code(NEW_MOBILE)
    response = client.post(URL + "mobile/", {"mobile-mobile": "13700002222", "mobile-code": plain})
    assert response.context["mobile_form"].errors == {
        "code": ["Ask for a verification code first."]
    }
    signed_in.refresh_from_db()
    assert signed_in.mobile != "13700002222"


def test_a_signup_code_for_the_number_does_not_change_the_account(client, in_english, signed_in):
    from registration.verification import code_send

    sent = code_send(purpose="signup", target=NEW_MOBILE, ip_address=None)
    response = client.post(
        URL + "mobile/", {"mobile-mobile": NEW_MOBILE, "mobile-code": sent.plain}
    )
    assert response.context["mobile_form"].errors["code"]
    signed_in.refresh_from_db()
    assert signed_in.mobile != NEW_MOBILE


@pytest.mark.parametrize(
    "mobile, message",
    [
        ("12345", "Enter a valid mainland mobile number (11 digits, starting with 1)."),
        ("+85291234567", "Enter a valid mainland mobile number (11 digits, starting with 1)."),
        ("", "This field is required."),
    ],
)
def test_an_invalid_mobile_is_said_at_its_field(client, in_english, signed_in, mobile, message):
    response = client.post(URL + "mobile/", {"mobile-mobile": mobile, "send_code": "1"})
    assert response.context["mobile_form"].errors == {"mobile": [message]}
    assert not VerificationCode.objects.exists()


def test_the_current_number_is_refused(client, in_english, signed_in):
    response = client.post(URL + "mobile/", {"mobile-mobile": signed_in.mobile, "send_code": "1"})
    assert response.context["mobile_form"].errors == {
        "mobile": ["This is already the account's mobile number."]
    }


def test_codes_keep_to_the_per_number_and_per_account_limits(
    client, in_english, signed_in, settings
):
    client.post(URL + "mobile/", {"mobile-mobile": NEW_MOBILE, "send_code": "1"})
    soon = client.post(URL + "mobile/", {"mobile-mobile": NEW_MOBILE, "send_code": "1"})
    assert "You can ask for another in" in soon.context["mobile_form"].errors["code"][0]
    assert f'value="{NEW_MOBILE}"' in soon.content.decode()
    assert VerificationCode.objects.filter(target=NEW_MOBILE).count() == 1

    # One account asks for at most ACCOUNT_CODES_PER_DAY codes, to any numbers and addresses.
    settings.ACCOUNT_CODES_PER_DAY = 3
    client.post(URL + "mobile/", {"mobile-mobile": "13700002222", "send_code": "1"})
    client.post(URL + "email/", {"email-email": NEW_EMAIL, "send_code": "1"})
    refused = client.post(URL + "email/", {"email-email": "third@example.com", "send_code": "1"})
    message = refused.context["email_form"].errors["code"][0]
    assert message.startswith("This account has asked for too many codes today. Try again in ")
    assert VerificationCode.objects.count() == 3
    assert not VerificationCode.objects.filter(target="third@example.com").exists()


def test_codes_keep_to_the_per_address_limit(client, in_english, signed_in, settings):
    settings.VERIFICATION_CODES_PER_DAY = 2
    for n in range(2):
        client.post(URL + "mobile/", {"mobile-mobile": f"1370000{n:04d}", "send_code": "1"})
    refused = client.post(URL + "mobile/", {"mobile-mobile": "13700009999", "send_code": "1"})
    assert "from your network address" in refused.context["mobile_form"].errors["code"][0]


# --- Email address --------------------------------------------------------------------------


def test_the_email_changes_only_with_the_code_sent_to_the_new_address(
    client, in_english, signed_in, unit
):
    response = client.post(URL + "email/", {"email-email": NEW_EMAIL, "send_code": "1"})
    assert f"A verification code was sent to {NEW_EMAIL}" in response.content.decode()
    code = VerificationCode.objects.get(target=NEW_EMAIL)
    assert code.channel == "email" and code.purpose == "account_email"
    assert Notice.objects.get(event="verification_code").channel == "email"

    wrong = client.post(URL + "email/", {"email-email": NEW_EMAIL, "email-code": ""})
    assert wrong.context["email_form"].errors == {"code": ["Enter the code that was sent."]}
    assert f'value="{NEW_EMAIL}"' in wrong.content.decode()

    plain = last_code(NEW_EMAIL)
    client.post(URL + "email/", {"email-email": NEW_EMAIL, "email-code": plain})
    signed_in.refresh_from_db()
    unit.refresh_from_db()
    assert signed_in.email == NEW_EMAIL and unit.contact_email == NEW_EMAIL
    changed = AuditEntry.objects.get(action="account.email_changed")
    assert (changed.from_state, changed.to_state) == ("o***@example.com", "n***@example.com")
    # The OLD address is told by email, the mobile number by SMS.
    sent = notices("account_email_changed")
    assert sent["email"].recipient == OLD_EMAIL and sent["sms"].recipient == signed_in.mobile
    assert "n***@example.com" in render_notice(sent["email"])["text"]


def test_an_invalid_or_unchanged_email_is_said_at_its_field(client, in_english, signed_in):
    bad = client.post(URL + "email/", {"email-email": "not-an-address", "send_code": "1"})
    assert bad.context["email_form"].errors == {"email": ["Enter a valid email address."]}
    same = client.post(URL + "email/", {"email-email": OLD_EMAIL.upper(), "send_code": "1"})
    assert same.context["email_form"].errors == {
        "email": ["This is already the account's email address."]
    }
    assert not VerificationCode.objects.exists()


# --- Contact person -------------------------------------------------------------------------


def test_the_contact_person_changes_audited_by_field_names_and_told(
    client, in_english, signed_in, unit
):
    data = {
        "contact-contact_name": "王新",
        "contact-contact_title": "mr",
        "contact-contact_department": "采购部",
        "contact-contact_position": "经理",
        "contact-contact_phone": "021-12345678",
    }
    response = client.post(URL + "contact/", data, follow=True)
    assert "The contact person was changed." in response.content.decode()
    unit.refresh_from_db()
    assert (unit.contact_name, unit.contact_title, unit.contact_position) == ("王新", "mr", "经理")
    entry = AuditEntry.objects.get(action="account.contact_changed")
    assert entry.object_id == str(unit.pk)
    assert entry.data == {
        "fields": ["contact_name", "contact_title", "contact_position", "contact_phone"]
    }
    assert "王新" not in str(entry.data)
    sent = notices("account_contact_changed")
    assert sent["sms"].recipient == signed_in.mobile and sent["email"].recipient == OLD_EMAIL

    # The same again changes nothing and tells nobody.
    response = client.post(URL + "contact/", data, follow=True)
    assert "Nothing was changed." in response.content.decode()
    assert AuditEntry.objects.filter(action="account.contact_changed").count() == 1
    assert Notice.objects.filter(event="account_contact_changed").count() == 2


def test_the_contact_name_is_required_and_the_other_input_is_kept(
    client, in_english, signed_in, unit
):
    response = client.post(
        URL + "contact/",
        {"contact-contact_name": "", "contact-contact_position": "总监"},
    )
    assert response.context["contact_form"].errors == {"contact_name": ["This field is required."]}
    assert 'value="总监"' in response.content.decode()
    unit.refresh_from_db()
    assert unit.contact_name == "陈联络" and unit.contact_position == ""


def test_the_contact_person_can_change_after_the_unit_was_submitted(
    client, in_english, signed_in, unit
):
    unit.status = unit.Status.APPROVED
    unit.save(update_fields=["status"])
    client.post(URL + "contact/", {"contact-contact_name": "李接任"})
    unit.refresh_from_db()
    assert unit.contact_name == "李接任"


# --- Other sessions -------------------------------------------------------------------------


def test_signing_out_elsewhere_ends_every_other_session_and_keeps_this_one(
    client, in_english, signed_in, other_contact
):
    phone, laptop, someone_else = Client(), Client(), Client()
    phone.force_login(signed_in)
    sign_in(laptop, signed_in)
    someone_else.force_login(other_contact)
    for other in (phone, laptop, someone_else):
        assert other.get(URL).status_code == 200

    response = client.post(URL + "sessions/", follow=True)

    assert "Every other device signed in to this account was signed out." in (
        response.content.decode()
    )
    assert client.get(URL).status_code == 200
    for other in (phone, laptop):
        assert other.get(URL)["Location"].startswith("/accounts/login/")
    assert someone_else.get(URL).status_code == 200
    assert actions(signed_in)[-1] == "account.sessions_ended"
    # Signing in again works as before, and a second time ends the new sessions too.
    sign_in(laptop, signed_in)
    assert laptop.get(URL).status_code == 200
    client.post(URL + "sessions/")
    assert laptop.get(URL)["Location"].startswith("/accounts/login/")
    assert client.get(URL).status_code == 200


def test_an_account_that_never_ended_its_sessions_keeps_djangos_session_hash(contact):
    from django.contrib.auth.base_user import AbstractBaseUser

    assert contact.session_generation == 0
    assert contact.get_session_auth_hash() == AbstractBaseUser.get_session_auth_hash(contact)


# --- Chinese by default ---------------------------------------------------------------------


def test_the_page_is_chinese_by_default(client, signed_in):
    page = client.get(URL).content.decode()
    assert 'lang="zh-hans"' in page
    assert "发送验证码" in page  # an existing translation: the page speaks Chinese


def test_the_page_keeps_to_the_content_security_policy(client, signed_in):
    from tests.test_csp import _check

    _check(client, URL)
