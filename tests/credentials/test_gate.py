"""入场核验: every scan checked under the entry rules and recorded; staff's page and JSON twin,
letting a refused holder in, the registered photo, and the keys that sign the codes.

The rules themselves are tested case by case by the shared vectors (test_gate_vectors.py);
the gate devices and their offline bundle in test_gate_devices.py.
"""

import json
from datetime import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.auth.models import Permission
from django.db import DatabaseError, transaction

from ciie_portal.models import AuditEntry
from credentials.entry.models import EntryRule, Scan, SecurityHold
from credentials.entry.rules import SHANGHAI, today_in_shanghai
from credentials.entry.selectors import admissions
from credentials.entry.services import scan_check
from credentials.models import Credential
from credentials.production.services import (
    credentials_revoke,
)
from credentials.production.signing import public_key_hex, sign_payload, verification_keys
from registration.models import Label
from tests.ciie_portal.factories import EntryPeriodFactory
from tests.conftest import on_postgres
from tests.registration.factories import UserFactory, VisitorFactory

# --- The page and the JSON endpoint -------------------------------------------------------


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


def test_the_json_endpoint_gives_the_verdict_and_the_reason(
    client, gate_staff, credentials, edition
):
    # The answers, not the rules: the same card may pass again.
    EntryRule.objects.create(edition=edition, anti_passback=False)
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
    garbage = ask("garbage")
    assert {k: garbage[k] for k in ("valid", "reason", "credential", "name", "label")} == {
        "valid": False,
        "reason": "malformed",
        "credential": None,
        "name": None,
        "label": None,
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
    client.post("/gate/check/", {"payload": credentials["today"].qr_payload})
    # The session, the user, the second factor the session passed with (django-otp), the
    # permissions (2), the edition; then in one transaction (2) the credential locked with its
    # hold and visitor, the entry rules, the holder's scans today, and the scan written.
    for _ in range(3):
        with django_assert_max_num_queries(12):
            client.post("/gate/check/", {"payload": credentials["today"].qr_payload})


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


# --- Every scan on record, under the entry rules ------------------------------------------


def scan_page(client, code, *, gate="2号门", direction="in", language="zh-hans"):
    return client.post(
        "/gate/",
        {"payload": code, "gate": gate, "direction": direction},
        HTTP_ACCEPT_LANGUAGE=language,
    ).content.decode()


def test_every_scan_is_recorded_with_its_reason_gate_staff_and_direction(
    client, gate_staff, credentials
):
    client.force_login(gate_staff)
    scan_page(client, credentials["today"].qr_payload, gate="2号门")
    scan_page(client, credentials["revoked"].qr_payload, gate="2号门")
    scan_page(client, "=cmd|' /C calc'!A0", gate="3号门")
    scans = list(Scan.objects.order_by("pk"))
    assert [(s.admitted, s.reason, s.gate, s.direction) for s in scans] == [
        (True, "ok", "2号门", "in"),
        (False, "revoked", "2号门", "in"),
        (False, "malformed", "3号门", "in"),
    ]
    assert [s.credential for s in scans] == [credentials["today"], credentials["revoked"], None]
    # The raw code only where it names no credential of ours.
    assert [s.payload for s in scans] == ["", "", "=cmd|' /C calc'!A0"]
    assert {s.staff for s in scans} == {gate_staff}
    assert not any(s.offline or s.forced or s.flagged for s in scans)
    assert all(s.received_at >= s.scanned_at for s in scans)


@on_postgres
def test_scans_are_never_changed_or_deleted(client, gate_staff, credentials):
    from django.db import connection

    from ciie_portal.records import ImmutableRecord

    client.force_login(gate_staff)
    scan_page(client, credentials["today"].qr_payload)
    scan = Scan.objects.get()
    # The model refuses, and beneath it the database (ciie_portal.records).
    with pytest.raises(ImmutableRecord):
        Scan.objects.filter(pk=scan.pk).update(admitted=False)
    for sql in (
        "UPDATE credentials_scan SET admitted = false WHERE id = %s",
        "DELETE FROM credentials_scan WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="never"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [scan.pk])
    assert Scan.objects.get().admitted is True


def test_a_copied_code_admits_once_a_day_and_the_refusal_says_when_and_where(
    client, gate_staff, credentials
):
    client.force_login(gate_staff)
    code = credentials["today"].qr_payload
    first = scan_page(client, code, gate="2号门")
    assert 'data-valid="true"' in first
    second = scan_page(client, code, gate="5号门")
    entered = Scan.objects.filter(admitted=True).get().scanned_at.astimezone(SHANGHAI)
    assert 'data-reason="already_inside"' in second
    assert f"今日已入场 {entered:%H:%M} · 2号门" in second
    english = scan_page(client, code, gate="Gate 5", language="en")
    assert f"Already entered today at {entered:%H:%M} · 2号门" in english
    assert Scan.objects.filter(credential=credentials["today"], admitted=True).count() == 1


def test_with_exit_scans_a_holder_scanned_out_may_enter_again(
    client, gate_staff, credentials, edition
):
    client.force_login(gate_staff)
    code = credentials["today"].qr_payload
    assert 'data-reason="no_exit_scans"' in scan_page(client, code, direction="out")
    EntryRule.objects.create(edition=edition, label="", exit_scans=True)
    assert 'data-valid="true"' in scan_page(client, code)
    assert 'data-reason="already_inside"' in scan_page(client, code)
    assert 'data-valid="true"' in scan_page(client, code, direction="out", gate="3号门")
    assert 'data-valid="true"' in scan_page(client, code)
    assert list(
        Scan.objects.filter(admitted=True).order_by("pk").values_list("direction", flat=True)
    ) == ["in", "out", "in"]


def test_a_label_without_anti_passback_enters_any_number_of_times(
    client, gate_staff, credentials, edition
):
    EntryRule.objects.create(edition=edition, label=Label.VIP, anti_passback=False)
    client.force_login(gate_staff)
    for _ in range(3):
        assert 'data-valid="true"' in scan_page(client, credentials["today"].qr_payload)


def test_a_holder_on_security_hold_is_sent_to_the_security_desk(
    client, gate_staff, credentials, edition
):
    visitor = credentials["today"].visitor
    hold = SecurityHold.objects.create(
        edition=edition, visitor=visitor, reason="check", placed_by=gate_staff
    )
    client.force_login(gate_staff)
    page = scan_page(client, credentials["today"].qr_payload)
    assert 'data-reason="held"' in page and "请至安检服务台" in page
    # The card itself stays valid: lifting the hold admits it again.
    assert Credential.objects.get(pk=credentials["today"].pk).status == "active"
    SecurityHold.objects.filter(pk=hold.pk).update(
        released_at=datetime.now(tz=SHANGHAI), released_by=gate_staff
    )
    assert 'data-valid="true"' in scan_page(client, credentials["today"].qr_payload)


def test_staff_who_may_let_a_refused_holder_in_anyway_and_it_is_audited(
    client, gate_staff, credentials
):
    client.force_login(gate_staff)
    code = credentials["today"].qr_payload
    scan_page(client, code)
    refused_page = scan_page(client, code)
    refused = Scan.objects.get(admitted=False)
    # Without the permission: no button, and the endpoint refuses.
    assert 'id="gate-force"' not in refused_page
    assert client.post(f"/gate/scans/{refused.pk}/force/", {"reason": "x"}).status_code == 403

    gate_staff.user_permissions.add(Permission.objects.get(codename="force_entry"))
    client.force_login(gate_staff)
    assert 'id="gate-force"' in scan_page(client, code)
    # No reason: nothing recorded.
    client.post(f"/gate/scans/{refused.pk}/force/", {"reason": " "})
    assert not Scan.objects.filter(forced=True).exists()
    response = client.post(
        f"/gate/scans/{refused.pk}/force/", {"reason": "陪同VIP"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 302
    forced = Scan.objects.get(forced=True)
    assert (forced.admitted, forced.reason, forced.credential, forced.staff) == (
        True,
        "already_inside",
        credentials["today"],
        gate_staff,
    )
    entry = AuditEntry.objects.get(action="scan.forced")
    assert (entry.actor, entry.reason, entry.object_id) == (gate_staff, "陪同VIP", str(forced.pk))
    # A forged code cannot be let in.
    scan_page(client, "garbage")
    garbage = Scan.objects.filter(reason="malformed").get()
    client.post(f"/gate/scans/{garbage.pk}/force/", {"reason": "trust me"})
    assert Scan.objects.filter(forced=True).count() == 1


def test_the_registered_photo_is_shown_to_gate_staff_only(client, gate_staff, credentials):
    client.force_login(gate_staff)
    answer = client.post("/gate/check/", {"payload": credentials["today"].qr_payload}).json()
    photo_url = answer["photo_url"]
    assert photo_url.startswith("/gate/photo/")
    page = scan_page(client, credentials["later"].qr_payload)
    assert 'id="gate-photo"' not in page  # refused: no photo
    response = client.get(photo_url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    client.force_login(UserFactory(is_staff=True))
    assert client.get(photo_url).status_code == 403
    client.logout()
    assert client.get(photo_url).status_code == 403
    client.force_login(gate_staff)
    assert client.get("/gate/photo/forged:token/").status_code == 404


def test_admissions_are_counted_per_day_gate_and_hour(client, gate_staff, credentials, edition):
    client.force_login(gate_staff)
    scan_page(client, credentials["today"].qr_payload, gate="2号门")
    scan_page(client, credentials["today"].qr_payload, gate="2号门")  # refused
    scan_page(client, credentials["later"].qr_payload, gate="1号门")  # refused
    counts = admissions(edition.pk)
    today = today_in_shanghai()
    hour = Scan.objects.get(admitted=True).scanned_at.astimezone(SHANGHAI).hour
    assert counts["by_day"] == {today: 1}
    assert counts["by_gate"] == [{"day": today, "gate": "2号门", "n": 1, "forced": 0}]
    assert counts["by_hour"] == {hour: 1}
    assert counts["refused"] == {"already_inside": 1, "not_an_entry_day": 1}


# --- Key rotation -------------------------------------------------------------------------


def test_a_new_signing_key_leaves_cards_of_the_old_one_valid(
    client, gate_staff, credentials, settings, edition
):
    client.force_login(gate_staff)
    old_card = credentials["today"]
    old_public = public_key_hex()
    assert old_card.qr_payload.startswith("C2")
    new_key = Ed25519PrivateKey.generate()
    settings.CREDENTIAL_SIGNING_KEY = new_key.private_bytes_raw().hex()
    settings.CREDENTIAL_SIGNING_KEY_ID = 2
    settings.CREDENTIAL_VERIFY_KEYS = {1: old_public}
    assert set(verification_keys()) == {1, 2}

    # A card made now is signed with the new key, under its id.
    today = today_in_shanghai()
    new_code = sign_payload(edition_number=10, sequence=999, first_day=today, last_day=today)
    assert new_code != sign_payload(
        edition_number=10, sequence=999, first_day=today, last_day=today,
        key=Ed25519PrivateKey.from_private_bytes(bytes(32)), key_id=2,
    )  # fmt: skip
    assert 'data-valid="true"' in scan_page(client, old_card.qr_payload)

    # Once the old key is dropped from the list, its cards fail the signature.
    settings.CREDENTIAL_VERIFY_KEYS = {}
    assert 'data-reason="bad_signature"' in scan_page(client, credentials["later"].qr_payload)


def test_production_signs_with_the_current_key_id(credentials, settings):
    from credentials.production.signing import verify_payload

    claims = verify_payload(credentials["today"].qr_payload, verification_keys())
    assert claims.key_id == settings.CREDENTIAL_SIGNING_KEY_ID == 1


# --- Two gates at once --------------------------------------------------------------------


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_one_card_at_two_gates_at_once_is_admitted_once():
    from credentials.production.models import ProductionJob
    from tests.ciie_portal.factories import EditionFactory
    from tests.races import run_at_once
    from tests.registration.factories import ApprovedUnitFactory

    edition = EditionFactory(number=10, is_current=True)
    today = today_in_shanghai()
    period = EntryPeriodFactory(edition=edition, first_day=today, last_day=today)
    unit = ApprovedUnitFactory(edition=edition)
    job = ProductionJob.objects.create(edition=edition)
    for sequence in (1, 2, 3):
        visitor = VisitorFactory(unit=unit, entry_period=period, label=Label.VISITOR)
        code = sign_payload(edition_number=10, sequence=sequence, first_day=today, last_day=today)
        card = Credential.objects.create(
            edition=edition, visitor=visitor, sequence=sequence, number=f"10000000{sequence}",
            label=Label.VISITOR, first_day=today, last_day=today, name=visitor.name,
            unit_name=unit.name, card_data_hash="x", qr_payload=code, job=job,
        )  # fmt: skip

        def at_gate(gate, code=code):
            return lambda: scan_check(edition=edition, payload=code, gate=gate).verdict

        outcomes = run_at_once(at_gate("1号门"), at_gate("2号门"))
        assert all(outcome.ok for outcome in outcomes), outcomes
        reasons = sorted(outcome.value.reason for outcome in outcomes)
        assert reasons == ["already_inside", "ok"]
        assert Scan.objects.filter(credential=card, admitted=True).count() == 1


def test_the_delegation_overview_counts_its_own_admissions(
    client, gate_staff, credentials, secretary, other_unit
):
    client.force_login(gate_staff)
    scan_page(client, credentials["today"].qr_payload, gate="2号门")
    client.force_login(secretary)
    page = client.get("/staff/overview/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.context["credentials"]["entered"] == 1
    admitted = page.context["admissions"]
    assert admitted["by_day"] == {today_in_shanghai(): 1}
    assert [row["gate"] for row in admitted["by_gate"]] == ["2号门"]
    assert 'id="admissions"' in page.content.decode()
    # Another delegation's secretary sees none of it.
    from delegations.models import Secretary

    Secretary.objects.filter(user=secretary).update(delegation=other_unit.delegation)
    page = client.get("/staff/overview/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.context["credentials"]["entered"] == 0
    assert page.context["admissions"]["by_day"] == {}
