"""The one-click registration link (一键注册) works once and expires: a used, replaced or expired
link changes nothing and says what to do instead; an expired one can be sent again, to the
address on file; two uses at the same moment sign in once."""

import time

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client

from ciie_portal.models import AuditEntry, Notice
from registration.models import Unit
from registration.returning import one_click_invite_send, one_click_token
from tests.ciie_portal.factories import EditionFactory
from tests.conftest import on_postgres
from tests.races import run_at_once
from tests.registration.factories import PASSWORD, UnitFactory, UserFactory, make_uscc

NEW_PASSWORD = "Fresh-Lantern-72"
OTHER_PASSWORD = "Other-Lantern-73"
EMAIL = "contact@earlier.example.com"


def browser() -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def path_of(token: str) -> str:
    return f"/accounts/register/returning/link/{token}/"


def set_password(client, path, password=NEW_PASSWORD):
    return client.post(path, {"password1": password, "password2": password})


@pytest.fixture
def old_unit(edition):
    # No delegation: the PostgreSQL test below runs after transactional tests emptied the
    # reference tables.
    previous = EditionFactory(number=edition.number - 1)
    account = UserFactory(username=make_uscc(9301), mobile="13944440000", email="")
    return UnitFactory(
        edition=previous,
        account=account,
        uscc=account.username,
        status=Unit.Status.APPROVED,
        contact_email=EMAIL,
    )


@pytest.fixture
def emailed_path(old_unit, organiser, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        one_click_invite_send(units=[old_unit], actor=organiser, base_url="https://expo.example")
    link = Notice.objects.get(event="one_click_invite").params["link"]
    return link.removeprefix("https://expo.example")


def old_token(unit, days: float) -> str:
    """A link issued ``days`` ago."""
    real_time = time.time
    signing.time.time = lambda: real_time() - days * 24 * 3600
    try:
        return one_click_token(unit)
    finally:
        signing.time.time = real_time


def test_the_link_works_once(edition, old_unit, emailed_path):
    first = browser()
    assert first.get(emailed_path).status_code == 200
    assert "This link works once" in first.get(emailed_path).content.decode()

    assert set_password(first, emailed_path).status_code == 302
    assert first.session["_auth_user_id"] == str(old_unit.account_id)
    assert Unit.objects.filter(edition=edition, account=old_unit.account).count() == 1

    second = browser()
    page = second.get(emailed_path)
    assert page.status_code == 410
    content = page.content.decode()
    assert "This registration link has already been used" in content
    assert 'href="/accounts/login/"' in content
    assert 'href="/accounts/password-reset/"' in content
    assert 'name="password1"' not in content

    again = set_password(second, emailed_path, OTHER_PASSWORD)
    assert again.status_code == 410
    assert "_auth_user_id" not in second.session
    old_unit.account.refresh_from_db()
    assert old_unit.account.check_password(NEW_PASSWORD)
    assert AuditEntry.objects.filter(action="account.password_reset").count() == 1


def test_a_refused_password_does_not_use_the_link(old_unit, emailed_path):
    client = browser()
    response = client.post(emailed_path, {"password1": NEW_PASSWORD, "password2": "Mismatch-1"})
    assert response.status_code == 200
    assert set_password(client, emailed_path).status_code == 302


def test_a_newer_link_replaces_the_older_one(old_unit):
    older, newer = path_of(one_click_token(old_unit)), path_of(one_click_token(old_unit))

    assert browser().get(older).status_code == 410
    assert set_password(browser(), older).status_code == 410
    assert set_password(browser(), newer).status_code == 302


def test_verifying_the_earlier_account_another_way_ends_the_link(edition, old_unit):
    path = path_of(one_click_token(old_unit))
    response = browser().post(
        "/accounts/register/returning/",
        {"method": "password", "username": old_unit.account.username, "password": PASSWORD},
    )
    assert response.status_code == 302

    assert set_password(browser(), path).status_code == 410
    old_unit.account.refresh_from_db()
    assert old_unit.account.check_password(PASSWORD)


def test_an_expired_link_is_refused_and_a_new_one_goes_to_the_address_on_file(
    edition, old_unit, django_capture_on_commit_callbacks
):
    # Good for 14 days (each link issued replaces the one before).
    assert browser().get(path_of(old_token(old_unit, days=13))).status_code == 200
    expired = path_of(old_token(old_unit, days=15))

    client = browser()
    page = client.get(expired)
    assert page.status_code == 410
    content = page.content.decode()
    assert "This registration link has expired." in content
    assert 'name="renew"' in content
    assert set_password(browser(), expired).status_code == 410
    old_unit.account.refresh_from_db()
    assert old_unit.account.check_password(PASSWORD)

    with django_capture_on_commit_callbacks(execute=True):
        renewed = client.post(expired, {"renew": "1"})
    assert "A new registration link was sent to c***@earlier.example.com." in (
        renewed.content.decode()
    )
    notice = Notice.objects.get(event="one_click_invite")
    assert (notice.recipient, notice.status) == (EMAIL, Notice.Status.SENT)
    fresh = notice.params["link"].removeprefix("http://testserver")
    assert set_password(browser(), fresh).status_code == 302
    assert AuditEntry.objects.filter(action="unit.one_click_renew").count() == 1


def test_the_lifetime_is_a_setting(old_unit, settings):
    settings.ONE_CLICK_LINK_DAYS = 1
    assert browser().get(path_of(old_token(old_unit, days=0.5))).status_code == 200
    assert browser().get(path_of(old_token(old_unit, days=1.5))).status_code == 410


def test_new_links_are_sent_at_most_three_times_a_day(old_unit):
    for _ in range(3):
        expired = path_of(old_token(old_unit, days=15))
        assert "A new registration link was sent" in (
            browser().post(expired, {"renew": "1"}).content.decode()
        )
    expired = path_of(old_token(old_unit, days=15))

    refused = browser().post(expired, {"renew": "1"})

    assert refused.status_code == 429
    assert "A new link was already sent several times today. Try again in" in (
        refused.content.decode()
    )
    assert Notice.objects.filter(event="one_click_invite").count() == 3


def test_a_tampered_link_is_not_valid(old_unit):
    token = one_click_token(old_unit)
    pk, nonce, rest = token.split(":", 2)
    for bad in (f"{pk}:{nonce[:-1]}x:{rest}", f"{old_unit.pk + 1}:{nonce}:{rest}", "nonsense"):
        response = browser().get(path_of(bad))
        assert response.status_code == 400
        assert "This registration link is not valid." in response.content.decode()


@on_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_uses_of_one_link_sign_in_once(edition, old_unit):
    path = path_of(one_click_token(old_unit))
    browsers = [browser() for _ in range(5)]
    passwords = [f"Fresh-Lantern-7{n}" for n in range(5)]

    outcomes = run_at_once(
        *(
            lambda client=client, password=password: set_password(client, path, password)
            for client, password in zip(browsers, passwords, strict=True)
        )
    )

    assert all(outcome.ok for outcome in outcomes), outcomes
    codes = [outcome.value.status_code for outcome in outcomes]
    assert sorted(codes) == [302, 410, 410, 410, 410]
    winner = codes.index(302)
    assert [("_auth_user_id" in client.session) for client in browsers] == [
        n == winner for n in range(5)
    ]
    old_unit.account.refresh_from_db()
    assert old_unit.account.check_password(passwords[winner])
    assert Unit.objects.filter(edition=edition, account=old_unit.account).count() == 1
    assert AuditEntry.objects.filter(action="account.password_reset").count() == 1
