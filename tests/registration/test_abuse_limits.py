"""Ceilings per client address (and per account) that hold across login names and sessions:
failed sign-ins from one address whatever the accounts, licence OCR per address and per
account, code requests per address. They live in the shared cache or the database, so a new
session — or none — starts nothing again."""

import time

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.test import Client

from ciie_portal.models import Notice
from registration import limits
from registration.models import VerificationCode
from tests.conftest import on_postgres
from tests.races import run_at_once
from tests.registration.factories import PASSWORD, UnitFactory, UserFactory, make_uscc

LOGIN = "/accounts/login/"
OCR = "/accounts/register/licence-ocr/"
CODE = "/accounts/register/code/"


def client_at(address: str, **extra) -> Client:
    """A new browser (no session, no cookies) at ``address``, reading English."""
    client = Client(REMOTE_ADDR=address, **extra)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def ceiling(settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 4
    return 4


@pytest.fixture
def accounts(db):
    return [UserFactory(username=make_uscc(8100 + n)) for n in range(6)]


# --- Sign-in: a ceiling per address, whatever the login names --------------------------------


def test_one_address_cannot_try_a_password_on_many_accounts(ceiling, accounts):
    for account in accounts[:ceiling]:  # one wrong password each: django-axes never locks
        response = client_at("10.1.0.1").post(
            LOGIN, {"username": account.username, "password": "Summer2027!"}
        )
        assert response.status_code == 200

    refused = client_at("10.1.0.1").post(
        LOGIN, {"username": accounts[-1].username, "password": PASSWORD}
    )

    assert refused.status_code == 429
    page = refused.content.decode()
    assert "Too many failed sign-ins from your network address." in page
    assert "try again in 15 minutes" in page
    # Not even the right password is checked (so a guess cannot be confirmed either).
    assert not AccessAttempt.objects.filter(username=accounts[-1].username).exists()
    # Another address is not held back.
    other = client_at("10.1.0.2")
    assert (
        other.post(LOGIN, {"username": accounts[-1].username, "password": PASSWORD}).status_code
        == 302
    )
    assert signed_in(other)


def test_the_ceiling_survives_a_new_session_and_lifts_after_its_window(
    ceiling, accounts, monkeypatch
):
    browser = client_at("10.1.1.1")
    for n in range(ceiling):
        browser.post(LOGIN, {"username": make_uscc(8200 + n), "password": "x"})
    browser.cookies.clear()

    for fresh in (browser, client_at("10.1.1.1")):
        response = fresh.post(LOGIN, {"username": accounts[0].username, "password": PASSWORD})
        assert response.status_code == 429
        assert not signed_in(fresh)

    later = time.time() + 15 * 60 + 1
    monkeypatch.setattr(limits, "_now", lambda: later)
    again = client_at("10.1.1.1")
    assert (
        again.post(LOGIN, {"username": accounts[0].username, "password": PASSWORD}).status_code
        == 302
    )


def test_right_passwords_do_not_count(ceiling, accounts):
    for account in accounts[: ceiling + 1]:
        browser = client_at("10.1.2.1")
        assert (
            browser.post(LOGIN, {"username": account.username, "password": PASSWORD}).status_code
            == 302
        )
    for n in range(ceiling - 1):
        client_at("10.1.2.1").post(LOGIN, {"username": accounts[n].username, "password": "x"})
    last = client_at("10.1.2.1")
    assert (
        last.post(LOGIN, {"username": accounts[-1].username, "password": PASSWORD}).status_code
        == 302
    )


def test_behind_a_proxy_the_ceiling_counts_the_forwarded_address(ceiling, accounts, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(ceiling):
        client_at("10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4").post(
            LOGIN, {"username": make_uscc(8300 + n), "password": "x"}
        )
    blocked = client_at("10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4")
    neighbour = client_at("10.0.0.1", HTTP_X_FORWARDED_FOR="5.6.7.8")
    assert (
        blocked.post(LOGIN, {"username": accounts[0].username, "password": PASSWORD}).status_code
        == 429
    )
    assert (
        neighbour.post(LOGIN, {"username": accounts[0].username, "password": PASSWORD}).status_code
        == 302
    )


def test_the_returning_page_shares_the_sign_in_ceiling(ceiling, accounts, edition):
    from tests.ciie_portal.factories import EditionFactory

    old = UnitFactory(edition=EditionFactory(number=edition.number - 1))
    for n in range(ceiling):
        client_at("10.1.3.1").post(LOGIN, {"username": make_uscc(8400 + n), "password": "x"})

    response = client_at("10.1.3.1").post(
        "/accounts/register/returning/",
        {"method": "password", "username": old.account.username, "password": PASSWORD},
    )

    assert response.status_code == 429
    assert "Too many failed sign-ins from your network address." in response.content.decode()
    assert not AccessAttempt.objects.filter(username=old.account.username).exists()


@on_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_from_one_address_stop_at_the_ceiling(settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    names = [make_uscc(8500 + n) for n in range(10)]
    for name in names:
        UserFactory(username=name)
    checked = []

    def count(sender, credentials, **kwargs):
        checked.append(credentials.get("username"))

    user_login_failed.connect(count)
    try:
        outcomes = run_at_once(
            *(
                lambda name=name: (
                    client_at("10.1.4.1")
                    .post(LOGIN, {"username": name, "password": "Wrong-Guess-1"})
                    .status_code
                )
                for name in names
            )
        )
    finally:
        user_login_failed.disconnect(count)

    assert all(outcome.ok for outcome in outcomes), outcomes
    statuses = sorted(outcome.value for outcome in outcomes)
    assert statuses == [200] * 3 + [429] * 7
    assert len(checked) == 3


# --- Licence OCR: per address and per account, not per session -------------------------------


@pytest.fixture
def ocr_limits(settings):
    settings.OCR_CALLS_PER_ACCOUNT_PER_DAY = 3
    settings.OCR_CALLS_PER_ADDRESS_PER_HOUR = 5


def test_an_account_gets_its_readings_per_day_whatever_the_session_or_address(ocr_limits, unit):
    first = client_at("10.2.0.1")
    first.force_login(unit.account)
    for _ in range(3):
        # No image: refused after it was counted, as a reading is.
        assert first.post(OCR).status_code == 400

    for address in ("10.2.0.1", "10.2.0.9"):  # a new session, then also another address
        browser = client_at(address)
        browser.force_login(unit.account)
        refused = browser.post(OCR)
        assert refused.status_code == 429
        assert "This account has had too many licences read today." in refused.json()["error"]
        assert "type the unit name and code by hand" in refused.json()["error"]
        assert refused.json()["wait_seconds"] > 0


def test_an_address_gets_its_readings_per_hour_whatever_the_sessions(ocr_limits, edition):
    def new_visitor(address):
        browser = client_at(address)
        browser.post(
            "/accounts/register/",
            {"region": "mainland", "category": "enterprise", "kind": "unit", "privacy": "on"},
        )
        return browser

    for _ in range(5):
        assert new_visitor("10.2.1.1").post(OCR).status_code == 400

    refused = new_visitor("10.2.1.1").post(OCR)
    assert refused.status_code == 429
    assert "Too many licences were read from your network address." in refused.json()["error"]
    assert "Try again in" in refused.json()["error"]
    assert new_visitor("10.2.1.2").post(OCR).status_code == 400


# --- Codes: per address, whatever the names and sessions -------------------------------------


def test_code_requests_per_address_count_every_name_and_session(db, settings):
    known = UserFactory(username=make_uscc(8600), mobile="13922220000")
    limit = settings.VERIFICATION_CODES_PER_DAY
    names = [known.username] + [make_uscc(8601 + n) for n in range(limit - 1)]
    for name in names:
        response = client_at("10.3.0.1").post(CODE, {"purpose": "password_reset", "username": name})
        assert response.status_code == 200

    refused = client_at("10.3.0.1").post(
        CODE, {"purpose": "password_reset", "username": make_uscc(8699)}
    )

    assert refused.status_code == 429
    assert (
        "Too many codes were asked for from your network address today."
        in (refused.json()["error"])
    )
    assert refused.json()["wait_seconds"] > 0
    assert Notice.objects.count() == 1
    other = client_at("10.3.0.2").post(
        CODE, {"purpose": "password_reset", "username": make_uscc(8699)}
    )
    assert other.status_code == 200


def test_a_name_waits_its_minute_in_a_new_session_too(db):
    name = make_uscc(8700)
    client_at("10.3.1.1").post(CODE, {"purpose": "password_reset", "username": name})

    again = client_at("10.3.1.2").post(CODE, {"purpose": "password_reset", "username": name})

    assert again.status_code == 429
    assert 55 <= again.json()["wait_seconds"] <= 61
    assert VerificationCode.objects.filter(account_name=name).count() == 1


def test_the_staff_sign_in_is_under_the_same_ceiling_per_address(ceiling, db):
    staff = [UserFactory(is_staff=True) for _n in range(ceiling + 1)]
    for member in staff[:ceiling]:
        response = client_at("10.1.9.1").post(
            "/admin/login/", {"username": member.username, "password": "Summer2027!"}
        )
        assert response.status_code == 200

    browser = client_at("10.1.9.1")
    refused = browser.post("/admin/login/", {"username": staff[-1].username, "password": PASSWORD})

    assert "Too many failed sign-ins from your network address." in refused.content.decode()
    assert not signed_in(browser)  # not even the right password was checked
    other = client_at("10.1.9.2")
    assert (
        other.post(
            "/admin/login/", {"username": staff[-1].username, "password": PASSWORD}
        ).status_code
        == 302
    )
