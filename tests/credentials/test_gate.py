"""入场核验: a scanned credential is valid today, or refused with the reason."""

import json
from datetime import date, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from credentials.models import Credential
from credentials.production.gate import check, today_in_shanghai
from credentials.production.services import (
    credentials_revoke,
    production_job_run,
    production_job_start,
)
from credentials.production.signing import load_public_key, public_key, sign_payload
from registration.models import Label, Pickup, Visitor
from tests.ciie_portal.factories import EntryPeriodFactory
from tests.credentials.test_production import jpeg
from tests.registration.factories import UserFactory, VisitorFactory

FIRST, LAST = date(2027, 11, 6), date(2027, 11, 10)


@pytest.fixture(scope="module")
def key():
    return Ed25519PrivateKey.generate()


def payload(key, *, edition=10, sequence=42, first=FIRST, last=LAST) -> str:
    return sign_payload(
        edition_number=edition, sequence=sequence, first_day=first, last_day=last, key=key
    )


# --- The check itself: no database --------------------------------------------------------


def test_a_genuine_credential_is_valid_on_each_of_its_entry_days(key):
    code = payload(key)
    for day in (FIRST, date(2027, 11, 8), LAST):
        answer = check(code, key.public_key(), set(), day, edition=10)
        assert (answer.valid, answer.reason, answer.number) == (True, "ok", "100000042")
        assert (answer.first_day, answer.last_day) == (FIRST, LAST)


def test_it_is_not_valid_before_or_after_its_entry_days(key):
    code = payload(key)
    for day in (FIRST - timedelta(days=1), LAST + timedelta(days=1)):
        answer = check(code, key.public_key(), set(), day)
        assert (answer.valid, answer.reason, answer.number) == (
            False,
            "not_an_entry_day",
            "100000042",
        )


def test_a_revoked_credential_is_refused(key):
    answer = check(payload(key), key.public_key(), {"100000042"}, FIRST)
    assert (answer.valid, answer.reason) == (False, "revoked")
    # Another credential is not affected by it.
    assert check(payload(key, sequence=43), key.public_key(), {"100000042"}, FIRST).valid


def test_a_tampered_or_forged_code_fails_the_signature(key):
    code = payload(key)
    # Change one character of the body (the sequence): the signature no longer matches.
    tampered = code[:8] + ("A" if code[8] != "A" else "B") + code[9:]
    assert check(tampered, key.public_key(), set(), FIRST).reason == "bad_signature"
    forged = payload(Ed25519PrivateKey.generate())
    answer = check(forged, key.public_key(), set(), FIRST)
    assert (answer.valid, answer.reason, answer.number) == (False, "bad_signature", None)


def test_garbage_is_malformed(key):
    code = payload(key)
    for text in (
        "",
        "hello",
        "C1",
        "C1!!!!",
        code[:-10],
        code + "AAAAAAAA",
        "X" + code,
        "9" * 5000,
    ):
        answer = check(text, key.public_key(), set(), FIRST)
        assert (answer.valid, answer.reason) == (False, "malformed"), text


def test_another_editions_credential_is_unknown(key):
    answer = check(payload(key, edition=9), key.public_key(), set(), FIRST, edition=10)
    assert (answer.valid, answer.reason, answer.number) == (False, "unknown", "090000042")


def test_what_a_scanner_adds_is_forgiven(key):
    code = payload(key)
    assert check(f" {code.lower()}\r\n", key.public_key(), set(), FIRST).valid


def test_today_is_the_date_in_shanghai():
    from datetime import UTC, datetime

    # 20:00 UTC on 5 November is already 6 November in Shanghai.
    assert today_in_shanghai(datetime(2027, 11, 5, 20, 0, tzinfo=UTC)) == date(2027, 11, 6)


# --- The page and the JSON endpoint -------------------------------------------------------


@pytest.fixture(autouse=True)
def private_storage(private_media):
    cache.clear()


@pytest.fixture
def gate_staff(db):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="check_credential"))
    return user


@pytest.fixture
def credentials(edition, unit):
    """Credentials of the current edition: one valid today, one for later days."""
    today = today_in_shanghai()
    around_today = EntryPeriodFactory(
        edition=edition, name="今天", first_day=today - timedelta(days=1), last_day=today
    )
    later = EntryPeriodFactory(
        edition=edition,
        name="以后",
        first_day=today + timedelta(days=3),
        last_day=today + timedelta(days=5),
    )
    photo = default_storage.save("visitor-photos/photo.jpg", ContentFile(jpeg()))
    made = {}
    for key, name, period, label in (
        ("today", "王小明", around_today, Label.VIP),
        ("later", "Anna Schmidt", later, Label.VISITOR),
        ("revoked", "李雷", around_today, Label.STAFF),
    ):
        made[key] = VisitorFactory(
            unit=unit,
            name=name,
            status=Visitor.Status.REVIEW_PASSED,
            label=label,
            entry_period=period,
            pickup=Pickup.COURIER,
            photo=photo,
        )
    job = production_job_start(edition=edition, actor=None)
    assert production_job_run(job_id=job.pk) == "done"
    result = {key: visitor.credentials.get() for key, visitor in made.items()}
    credentials_revoke(
        credentials=Credential.objects.filter(pk=result["revoked"].pk), reason="lost", actor=None
    )
    return result


def test_the_gate_is_for_gate_staff_only(client, db, unit):
    assert client.get("/gate/")["Location"].startswith("/admin/login/?next=/gate/")
    client.force_login(UserFactory(is_staff=True))
    assert client.get("/gate/").status_code == 403
    assert client.post("/gate/check/", {"payload": "x"}).status_code == 403
    client.force_login(unit.account)
    assert client.post("/gate/check/", {"payload": "x"}).status_code == 403


def test_the_page_answers_in_big_green_or_red(client, gate_staff, credentials):
    client.force_login(gate_staff)
    page = client.get("/gate/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="payload"' in page and "autofocus" in page

    valid = client.post(
        "/gate/", {"payload": credentials["today"].qr_payload + "\r\n"}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert 'data-valid="true"' in valid and "bg-success" in valid
    assert "王小明" in valid and credentials["today"].number in valid and "VIP" in valid

    refused = client.post(
        "/gate/", {"payload": credentials["revoked"].qr_payload}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert 'data-reason="revoked"' in refused and "bg-danger" in refused
    assert "Revoked" in refused


def test_the_json_endpoint_gives_the_verdict_and_the_reason(client, gate_staff, credentials):
    client.force_login(gate_staff)

    def ask(code, **kwargs):
        return client.post("/gate/check/", {"payload": code}, **kwargs).json()

    today = ask(credentials["today"].qr_payload)
    assert {k: today[k] for k in ("valid", "reason", "credential", "name", "label")} == {
        "valid": True,
        "reason": "ok",
        "credential": credentials["today"].number,
        "name": "王小明",
        "label": "vip",
    }
    later = ask(credentials["later"].qr_payload)
    assert (later["valid"], later["reason"], later["name"]) == (
        False,
        "not_an_entry_day",
        "Anna Schmidt",
    )
    revoked = ask(credentials["revoked"].qr_payload)
    assert (revoked["valid"], revoked["reason"], revoked["credential"]) == (
        False,
        "revoked",
        credentials["revoked"].number,
    )
    code = credentials["today"].qr_payload
    tampered = code[:8] + ("A" if code[8] != "A" else "B") + code[9:]
    assert ask(tampered)["reason"] == "bad_signature"
    assert ask("garbage") == {
        "valid": False,
        "reason": "malformed",
        "credential": None,
        "name": None,
        "label": None,
        "message": ask("garbage")["message"],
        "label_display": None,
    }
    # Signed with our key, but never issued: unknown.
    today_date = today_in_shanghai()
    never_issued = sign_payload(
        edition_number=10, sequence=999, first_day=today_date, last_day=today_date
    )
    unknown = ask(never_issued)
    assert (unknown["valid"], unknown["reason"], unknown["name"]) == (False, "unknown", None)
    # The payload may also come as JSON, or as the bare text the scanner typed.
    as_json = client.post(
        "/gate/check/", json.dumps({"payload": code}), content_type="application/json"
    ).json()
    assert as_json["valid"] is True
    as_text = client.post("/gate/check/", code, content_type="text/plain").json()
    assert as_text["valid"] is True


def test_a_revocation_reaches_the_gate_at_once(client, gate_staff, credentials):
    client.force_login(gate_staff)
    code = credentials["today"].qr_payload
    assert client.post("/gate/check/", {"payload": code}).json()["valid"] is True
    credentials_revoke(
        credentials=Credential.objects.filter(pk=credentials["today"].pk),
        reason="withdrawn",
        actor=gate_staff,
    )
    assert client.post("/gate/check/", {"payload": code}).json()["reason"] == "revoked"


def test_a_check_costs_a_fixed_number_of_queries(
    client, gate_staff, credentials, django_assert_max_num_queries
):
    client.force_login(gate_staff)
    client.post("/gate/check/", {"payload": credentials["today"].qr_payload})  # warms the cache
    # One of them loads the second factor the staff session passed with (django-otp).
    with django_assert_max_num_queries(7):
        client.post("/gate/check/", {"payload": credentials["today"].qr_payload})


def test_the_gate_bundle_lets_an_offline_device_check(tmp_path, credentials):
    target = tmp_path / "bundle.json"
    call_command("export_gate_bundle", str(target))
    bundle = json.loads(target.read_text())
    assert bundle["edition"] == 10
    assert bundle["revoked"] == [credentials["revoked"].number]
    offline_key = load_public_key(bundle["public_key"])
    assert load_public_key(bundle["public_key_pem"]).public_bytes_raw() == (
        public_key().public_bytes_raw()
    )
    today = today_in_shanghai()
    revoked = set(bundle["revoked"])
    assert check(credentials["today"].qr_payload, offline_key, revoked, today).valid
    assert check(credentials["revoked"].qr_payload, offline_key, revoked, today).reason == "revoked"


def test_a_signing_key_that_is_not_an_ed25519_key_stops_the_start(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")},
        "DJANGO_SETTINGS_MODULE": "ciie_portal.settings",
        "CIIE_VAR_DIR": str(tmp_path),
    }
    probe = "import django; django.setup()"
    root = Path(__file__).resolve().parents[2]
    for value, ok in (("ab" * 32, True), ("not-hex" * 9, False), ("ab" * 16, False)):
        result = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=root,
            env={**env, "CREDENTIAL_SIGNING_KEY": value},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (result.returncode == 0) == ok, result.stderr
        if not ok:
            assert "CREDENTIAL_SIGNING_KEY" in result.stderr
