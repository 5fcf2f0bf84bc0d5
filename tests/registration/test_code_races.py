"""Verification codes under parallel requests (PostgreSQL, real transactions): requests at the
same moment issue no more codes than the limits allow, and parallel guesses get five tries in
all — through the real views."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client

from ciie_portal.models import Notice
from registration.models import VerificationCode
from tests.conftest import on_postgres
from tests.races import run_at_once
from tests.registration.factories import PASSWORD, UserFactory, make_uscc

CODE = "/accounts/register/code/"
RESET = "/accounts/password-reset/"
NEW_PASSWORD = "Fresh-Lantern-72"

pytestmark = [on_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def client_at(address: str) -> Client:
    client = Client(REMOTE_ADDR=address)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def statuses(outcomes) -> list[int]:
    assert all(outcome.ok for outcome in outcomes), outcomes
    return sorted(outcome.value.status_code for outcome in outcomes)


def test_parallel_requests_for_one_account_issue_one_code_a_minute(db):
    account = UserFactory(username=make_uscc(9100), mobile="13933330000")

    browsers = [client_at(f"10.5.0.{n}") for n in range(1, 9)]
    outcomes = run_at_once(
        *(
            lambda browser=browser: browser.post(
                CODE, {"purpose": "password_reset", "username": account.username}
            )
            for browser in browsers
        )
    )

    assert statuses(outcomes) == [200] + [429] * 7
    assert VerificationCode.objects.filter(account_name=account.username).count() == 1
    assert Notice.objects.filter(recipient=account.mobile).count() == 1


def test_parallel_requests_issue_at_most_the_daily_limit(db, settings):
    settings.VERIFICATION_CODE_INTERVAL = timedelta(0)
    limit = settings.VERIFICATION_CODES_PER_DAY
    account = UserFactory(username=make_uscc(9101), mobile="13933330001")

    browsers = [client_at(f"10.5.1.{n}") for n in range(1, limit + 6)]
    outcomes = run_at_once(
        *(
            lambda browser=browser: browser.post(
                CODE, {"purpose": "password_reset", "username": account.username}
            )
            for browser in browsers
        )
    )

    assert statuses(outcomes) == [200] * limit + [429] * 5
    assert VerificationCode.objects.filter(target=account.mobile).count() == limit


def test_parallel_sign_up_codes_from_one_address_stop_at_its_limit(db, edition):
    limit = settings.VERIFICATION_CODES_PER_DAY
    browsers = []
    for _ in range(limit + 5):
        browser = client_at("10.5.2.1")
        browser.post(
            "/accounts/register/",
            {"region": "mainland", "category": "enterprise", "kind": "unit", "privacy": "on"},
        )
        browsers.append(browser)

    outcomes = run_at_once(
        *(
            lambda browser=browser, n=n: browser.post(
                CODE, {"purpose": "signup", "mobile": f"1393333{n:04d}"}
            )
            for n, browser in enumerate(browsers)
        )
    )

    assert statuses(outcomes) == [200] * limit + [429] * 5
    assert VerificationCode.objects.filter(ip_address="10.5.2.1").count() == limit


def test_parallel_wrong_codes_stop_at_five_attempts(db):
    account = UserFactory(username=make_uscc(9102), mobile="13933330002")
    client_at("10.5.3.1").post(CODE, {"purpose": "password_reset", "username": account.username})
    real = Notice.objects.get(recipient=account.mobile).params["code"]
    wrong = "000000" if real != "000000" else "111111"

    def guess(code):
        return client_at("10.5.3.2").post(
            RESET,
            {"username": account.username, "sms_code": code, "password1": NEW_PASSWORD,
             "password2": NEW_PASSWORD},
        )  # fmt: skip

    outcomes = run_at_once(*(lambda: guess(wrong) for _ in range(12)))

    assert statuses(outcomes) == [200] * 12
    pages = [outcome.value.content.decode() for outcome in outcomes]
    assert sum("The verification code is not correct." in page for page in pages) == 5
    assert sum("Too many wrong attempts." in page for page in pages) == 7
    code = VerificationCode.objects.get(account_name=account.username)
    assert code.attempts == 5
    # The right code is refused now too.
    assert "Too many wrong attempts." in guess(real).content.decode()
    account.refresh_from_db()
    assert account.check_password(PASSWORD)
