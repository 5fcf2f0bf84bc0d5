"""No account enumeration: every page that takes a login name answers an unknown name exactly as
an account — the same body, the same status and the same work (the same SQL statements, and a
time that does not tell them apart) — and sends nothing for it."""

import re
import statistics
import time

import pytest
from django.conf import settings
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ciie_portal.models import Notice
from registration.models import Unit, VerificationCode
from registration.returning import PURPOSE
from tests.registration.factories import PASSWORD, UnitFactory, UserFactory, make_uscc

CODE_URL = "/accounts/register/code/"
RESET_URL = "/accounts/password-reset/"
RETURNING_URL = "/accounts/register/returning/"
NEW_PASSWORD = "Fresh-Lantern-72"


@pytest.fixture
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def account(db):
    return UserFactory(username=make_uscc(5101), mobile="13911110001")


@pytest.fixture
def earlier(edition, guangzhou):
    """An account of an earlier expo, with a mobile number and an email address on file."""
    from tests.ciie_portal.factories import EditionFactory

    previous = EditionFactory(number=edition.number - 1)
    account = UserFactory(username=make_uscc(5201), mobile="13911110002")
    return UnitFactory(
        edition=previous,
        account=account,
        delegation=guangzhou,
        uscc=account.username,
        status=Unit.Status.APPROVED,
        contact_email="earlier@example.com",
    )


def page_text(response, *names) -> str:
    """The page without what differs by design: the CSRF token and the name typed back."""
    text = response.content.decode()
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)
    for name in names:
        text = text.replace(name, "NAME")
    return text


def statements(callable_) -> list[str]:
    """The SQL statements ``callable_`` runs, with their values (names, hashes, times) left
    out."""
    with CaptureQueriesContext(connection) as queries:
        callable_()
    return [
        re.sub(r"\b\d+\b", "N", re.sub(r"'(?:[^']|'')*'|\"s\d+_x\d+\"", "V", query["sql"]))
        for query in queries.captured_queries
    ]


# --- Password reset -------------------------------------------------------------------------


def test_a_reset_code_request_answers_alike_and_sends_to_accounts_only(english, account):
    without_mobile = UserFactory(username=make_uscc(5102), mobile="")

    answers = {
        name: english.post(CODE_URL, {"purpose": "password_reset", "username": name})
        for name in (account.username, make_uscc(5199), without_mobile.username, "nobody")
    }

    first = answers[account.username]
    assert first.status_code == 200
    assert "If an account with this login name has a mobile number" in first.json()["message"]
    for answer in answers.values():
        assert (answer.status_code, answer.json()) == (first.status_code, first.json())
    assert list(Notice.objects.values_list("recipient", flat=True)) == [account.mobile]
    # Each name was recorded alike, so each counts towards the limits alike.
    assert VerificationCode.objects.filter(purpose="password_reset").count() == 4


def test_a_second_request_within_a_minute_is_refused_alike(english, account):
    refusals = []
    for name in (account.username, make_uscc(5199)):
        english.post(CODE_URL, {"purpose": "password_reset", "username": name})
        refusals.append(english.post(CODE_URL, {"purpose": "password_reset", "username": name}))

    assert {answer.status_code for answer in refusals} == {429}
    assert refusals[0].json()["error"] == refusals[1].json()["error"]
    assert "You can ask for another in" in refusals[0].json()["error"]


def test_the_reset_page_answers_alike_without_javascript(english, account):
    unknown = make_uscc(5199)

    pages = [
        english.post(RESET_URL, {"username": name, "send_code": "1"})
        for name in (account.username, unknown)
    ]

    assert [page.status_code for page in pages] == [200, 200]
    assert page_text(pages[0], account.username) == page_text(pages[1], unknown)
    assert "If an account with this login name has a mobile number" in pages[0].content.decode()
    assert Notice.objects.count() == 1


def test_a_wrong_reset_code_is_answered_alike_up_to_the_fifth_try(english, account):
    unknown = make_uscc(5199)

    def attempt(name, code="000000"):
        return english.post(
            RESET_URL,
            {"username": name, "sms_code": code, "password1": NEW_PASSWORD,
             "password2": NEW_PASSWORD},
        )  # fmt: skip

    # No code asked for yet: the same answer.
    before = [attempt(name) for name in (account.username, unknown)]
    assert page_text(before[0], account.username) == page_text(before[1], unknown)
    assert "Ask for a verification code first." in before[0].content.decode()

    for name in (account.username, unknown):
        english.post(CODE_URL, {"purpose": "password_reset", "username": name})
    real = Notice.objects.get().params["code"]
    wrong = "000000" if real != "000000" else "111111"
    for n in range(5):
        pages = [attempt(name, wrong) for name in (account.username, unknown)]
        assert page_text(pages[0], account.username) == page_text(pages[1], unknown), n
        assert "The verification code is not correct." in pages[0].content.decode()
    sixth = [attempt(name, wrong) for name in (account.username, unknown)]
    assert page_text(sixth[0], account.username) == page_text(sixth[1], unknown)
    assert "Too many wrong attempts." in sixth[0].content.decode()
    account.refresh_from_db()
    assert account.check_password(PASSWORD)


def test_a_password_like_the_name_is_refused_alike(english, account):
    unknown = make_uscc(5199)
    pages = [
        english.post(
            RESET_URL,
            {
                "username": name,
                "sms_code": "123456",
                "password1": name.lower(),
                "password2": name.lower(),
            },
        )  # fmt: skip
        for name in (account.username, unknown)
    ]
    assert page_text(pages[0], account.username, account.username.lower()) == page_text(
        pages[1], unknown, unknown.lower()
    )


def test_the_reset_code_request_runs_the_same_statements_for_any_name(account):
    unknown = make_uscc(5199)
    no_mobile = UserFactory(username=make_uscc(5102), mobile="")
    runs = {
        name: statements(
            lambda name=name: Client(REMOTE_ADDR=f"10.9.0.{len(name) % 7 + 1}").post(
                CODE_URL, {"purpose": "password_reset", "username": name}
            )
        )
        for name in (account.username, unknown, no_mobile.username)
    }
    # The delivery of the real code runs after the answer went out (when the response is
    # closed): before that, every name takes the very same statements.
    known, answer = runs[account.username], runs[unknown]
    assert runs[no_mobile.username] == answer
    assert known[: len(answer)] == answer
    delivery = known[len(answer) :]
    assert any("ciie_portal_notice" in sql for sql in delivery)
    assert all(
        "ciie_portal_notice" in sql or "outbox" in sql or sql.startswith(("SAVEPOINT", "RELEASE"))
        for sql in delivery
    ), delivery


def test_the_reset_code_answer_takes_as_long_for_any_name(rf, settings, db):
    """Timed up to the answer (the delivery of a real code comes after it). Medians of many
    alternating requests, each from its own address and name so no limit is reached. The
    tolerance is generous so that a loaded machine does not fail it: this is a coarse guard,
    the exact proof is the test above (the very same statements for every name)."""
    from registration.views import code_request

    rounds = 15
    accounts = [UserFactory(username=make_uscc(6000 + n), mobile=f"1390000{n:04d}") for n in
                range(rounds)]  # fmt: skip
    timings = {"known": [], "unknown": []}
    for n in range(rounds):
        for kind, name in (("known", accounts[n].username), ("unknown", make_uscc(7000 + n))):
            request = rf.post(
                CODE_URL,
                {"purpose": "password_reset", "username": name},
                REMOTE_ADDR=f"10.8.{n}.{1 if kind == 'known' else 2}",
            )
            started = time.perf_counter()
            response = code_request(request)
            timings[kind].append(time.perf_counter() - started)
            assert response.status_code == 200
            # The delivery, after the answer; as the test client does, without closing the
            # test's database connection at the end of the "request".
            request_finished.disconnect(close_old_connections)
            try:
                response.close()
            finally:
                request_finished.connect(close_old_connections)
    known, unknown = (statistics.median(timings[kind]) for kind in ("known", "unknown"))
    assert Notice.objects.count() == rounds
    assert abs(known - unknown) <= max(0.5 * max(known, unknown), 0.005), (known, unknown)


# --- Returning visitors ---------------------------------------------------------------------


def test_a_wrong_password_and_an_unknown_name_get_one_answer(english, edition, earlier):
    unknown = make_uscc(5299)
    no_earlier = UnitFactory(edition=edition)  # an account, but of this expo only

    pages = {
        name: english.post(
            RETURNING_URL, {"method": "password", "username": name, "password": "Wrong-Guess-1"}
        )
        for name in (earlier.account.username, unknown, no_earlier.account.username)
    }

    reference = page_text(pages[earlier.account.username], earlier.account.username)
    for name, page in pages.items():
        assert page.status_code == 200
        assert page_text(page, name) == reference, name
    assert "The account or the password is not correct." in reference


def test_the_password_check_runs_the_same_statements_for_any_name(earlier):
    def attempt(name):
        return lambda: Client(REMOTE_ADDR="10.7.0.1").post(
            RETURNING_URL, {"method": "password", "username": name, "password": "Wrong-Guess-1"}
        )

    attempt(make_uscc(5298))()  # the current edition read into the shared cache first
    known = statements(attempt(earlier.account.username))
    unknown = statements(attempt(make_uscc(5299)))
    assert known == unknown


@pytest.mark.parametrize(("method", "message"), [
    ("sms", "with a mobile number on file, a verification code was sent"),
    ("email", "with an email address on file, a verification code was sent"),
])  # fmt: skip
def test_a_returning_code_request_answers_alike(english, earlier, method, message):
    no_email = UnitFactory(
        edition=earlier.edition, account=UserFactory(mobile="", email=""), contact_email=""
    )
    names = [earlier.account.username, make_uscc(5299), no_email.account.username]

    pages = {
        name: english.post(
            f"{RETURNING_URL}?method={method}",
            {"method": method, "username": name, "send_code": "1"},
        )
        for name in names
    }
    answers = {
        name: english.post(CODE_URL, {"purpose": "returning", "channel": method, "username": name})
        for name in names
    }

    reference = page_text(pages[names[0]], names[0])
    assert message in reference
    assert "@example.com" not in reference and "1391111" not in reference
    for name in names:
        assert page_text(pages[name], name) == reference
        # The second request within the minute: refused alike.
        assert answers[name].status_code == 429
        assert answers[name].json() == answers[names[0]].json()
    assert Notice.objects.count() == 1


def test_a_returning_code_guess_is_answered_alike(english, earlier):
    unknown = make_uscc(5299)
    for name in (earlier.account.username, unknown):
        english.post(CODE_URL, {"purpose": PURPOSE, "channel": "sms", "username": name})
    real = Notice.objects.get().params["code"]
    wrong = "000000" if real != "000000" else "111111"

    pages = [
        english.post(
            f"{RETURNING_URL}?method=sms",
            {
                "method": "sms",
                "username": name,
                "code": wrong,
                "password1": NEW_PASSWORD,
                "password2": NEW_PASSWORD,
            },
        )  # fmt: skip
        for name in (earlier.account.username, unknown)
    ]

    assert page_text(pages[0], earlier.account.username) == page_text(pages[1], unknown)
    assert "The verification code is not correct." in pages[0].content.decode()


# --- New account ----------------------------------------------------------------------------


def test_a_taken_code_is_told_only_after_the_mobile_number_was_proven(english, edition, guangzhou):
    taken = UnitFactory(edition=edition)
    english.post(
        "/accounts/register/",
        {"region": "mainland", "category": "enterprise", "kind": "unit", "privacy": "on"},
    )
    data = {
        "delegation": guangzhou.pk, "name": "广州测试贸易有限公司", "uscc": taken.uscc,
        "mobile": "13912345670", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD,
    }  # fmt: skip

    without_code = english.post("/accounts/register/account/", {**data, "sms_code": "123456"})
    assert "already registered for this expo" not in without_code.content.decode()

    english.post(CODE_URL, {"purpose": "signup", "mobile": "13912345670"})
    code = Notice.objects.get().params["code"]
    with_code = english.post("/accounts/register/account/", {**data, "sms_code": code})
    assert "This code is already registered for this expo. Sign in instead." in (
        with_code.content.decode()
    )
    assert Unit.objects.filter(uscc=taken.uscc).count() == 1
