from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone, translation

from ciie_portal.models import Notice
from registration.models import User
from registration.views import reset_code_sent_message
from tests.registration.factories import PASSWORD

with translation.override("zh-hans"):
    # The pages answer in Chinese by default (English until the catalogue has this text).
    RESET_SENT = reset_code_sent_message()


@pytest.fixture
def account(unit):
    return unit.account


def test_a_unit_contact_signs_in_with_the_uscc_in_any_case(client, unit, account):
    account.username = unit.uscc
    account.save()
    response = client.post(
        "/accounts/login/", {"username": f" {unit.uscc.lower()} ", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert unit.name in client.get("/accounts/").content.decode()


def test_a_wrong_password_says_so_and_signs_nobody_in(client, account):
    response = client.post("/accounts/login/", {"username": account.username, "password": "x"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_sign_in_locks_after_five_failures(client, unit, account):
    account.username = unit.uscc
    account.save()
    for _ in range(5):
        client.post("/accounts/login/", {"username": unit.uscc, "password": "wrong"})
    locked = client.post("/accounts/login/", {"username": unit.uscc, "password": PASSWORD})
    assert locked.status_code == 429
    content = locked.content.decode()
    assert "登录已锁定" in content
    assert "15" in content
    assert "_auth_user_id" not in client.session
    # Another account from the same address is not locked.
    other = User.objects.create_user(username="W123456789", password=PASSWORD)
    assert (
        client.post(
            "/accounts/login/", {"username": other.username, "password": PASSWORD}
        ).status_code
        == 302
    )


def test_a_sign_in_clears_its_failures_and_expired_ones_in_one_statement_each(
    client, unit, account, django_assert_max_num_queries
):
    for _ in range(2):
        client.post("/accounts/login/", {"username": account.username, "password": "wrong"})
    other = Client()
    other.post("/accounts/login/", {"username": "W000000001", "password": "wrong"})
    other.post("/accounts/login/", {"username": "W000000002", "password": "wrong"})
    AccessAttempt.objects.filter(username="W000000001").update(
        attempt_time=timezone.now() - timedelta(hours=1)
    )
    with django_assert_max_num_queries(30) as signing_in:
        response = client.post(
            "/accounts/login/", {"username": account.username, "password": PASSWORD}
        )
    assert response.status_code == 302
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["W000000002"]
    on_attempts = [
        q["sql"] for q in signing_in.captured_queries if "axes_accessattempt" in q["sql"]
    ]
    assert [sql.split(" ", 1)[0] for sql in on_attempts] == ["SELECT", "DELETE", "DELETE"]
    # Five failures lock again afterwards: the count starts anew.
    client.post("/accounts/logout/")
    for _ in range(5):
        client.post("/accounts/login/", {"username": account.username, "password": "wrong"})
    locked = client.post("/accounts/login/", {"username": account.username, "password": PASSWORD})
    assert locked.status_code == 429


def test_a_forgotten_password_is_reset_by_sms_code(
    client, account, django_capture_on_commit_callbacks
):
    account.mobile = "13911112222"
    account.save()
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(
            "/accounts/register/code/", {"purpose": "password_reset", "username": account.username}
        )
    assert sent.json()["message"] == RESET_SENT
    code = Notice.objects.filter(recipient="13911112222").latest("pk").params["code"]
    new = "Ciie#Reset-2027"
    response = client.post(
        "/accounts/password-reset/",
        {"username": account.username, "sms_code": code, "password1": new, "password2": new},
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.check_password(new)
    assert (
        Client()
        .post("/accounts/login/", {"username": account.username, "password": new})
        .status_code
        == 302
    )


def test_a_reset_with_a_wrong_code_changes_nothing(client, account):
    account.mobile = "13911112222"
    account.save()
    client.post(
        "/accounts/register/code/", {"purpose": "password_reset", "username": account.username}
    )
    response = client.post(
        "/accounts/password-reset/",
        {"username": account.username, "sms_code": "000000", "password1": "Ciie#Reset-2027",
         "password2": "Ciie#Reset-2027"},
    )  # fmt: skip
    assert response.status_code == 200
    account.refresh_from_db()
    assert account.check_password(PASSWORD)


def test_a_reset_for_an_unknown_account_answers_as_for_any_account_and_sends_nothing(client, db):
    response = client.post(
        "/accounts/register/code/", {"purpose": "password_reset", "username": "W000000000"}
    )
    assert response.status_code == 200
    assert response.json()["message"] == RESET_SENT
    assert not Notice.objects.exists()
