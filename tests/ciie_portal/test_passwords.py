"""Passwords are hashed with Argon2id at OWASP's parameters; older hashes are upgraded at the
account's next sign-in (through the admin's sign-in page, as staff sign in)."""

import importlib

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher, make_password

from tests.registration.factories import PASSWORD, UserFactory

PRODUCTION_HASHERS = importlib.import_module("ciie_portal.settings").PASSWORD_HASHERS
OWASP = "argon2$argon2id$v=19$m=7168,t=5,p=1$"


@pytest.fixture(autouse=True)
def _real_hashers(settings):
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS


def test_a_new_password_is_hashed_with_argon2id_at_owasps_parameters(db):
    encoded = make_password("correct horse battery staple")
    assert encoded.startswith(OWASP)
    assert check_password("correct horse battery staple", encoded)
    assert not check_password("Tr0ub4dor&3", encoded)


def _argon2_at(password, *, memory_cost, time_cost):
    from django.contrib.auth.hashers import Argon2PasswordHasher

    hasher = type(
        "Earlier", (Argon2PasswordHasher,), {"memory_cost": memory_cost, "time_cost": time_cost}
    )()
    return hasher.encode(password, hasher.salt())


@pytest.mark.parametrize(
    "old",
    [
        lambda password: make_password(password, hasher="pbkdf2_sha256"),
        # Django's own Argon2 defaults (other memory and time costs) are upgraded too.
        lambda password: make_password(password, hasher="argon2"),
        # OWASP's 19 MiB × 2 setting, used before: upgraded to the cheaper equal one.
        lambda password: _argon2_at(password, memory_cost=19 * 1024, time_cost=2),
    ],
)
def test_an_older_hash_is_upgraded_when_its_owner_signs_in(client, db, old):
    user = UserFactory(is_staff=True)
    user.password = old(PASSWORD)
    user.save(update_fields=["password"])
    if user.password.startswith(OWASP):
        pytest.skip("this Django's Argon2 defaults already are OWASP's")

    response = client.post(
        "/admin/login/", {"username": user.username, "password": PASSWORD, "next": "/admin/"}
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith(OWASP)
    assert identify_hasher(user.password).algorithm == "argon2"


def test_a_wrong_password_upgrades_nothing(client, db):
    user = UserFactory(is_staff=True)
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])

    client.post("/admin/login/", {"username": user.username, "password": "wrong"})

    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")
