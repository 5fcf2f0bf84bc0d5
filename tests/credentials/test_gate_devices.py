"""Gate devices: registered by a one-time code, their own key, revoked; the offline bundle in
full and by increments; online checks and offline uploads, each recorded exactly once."""

import json
from datetime import datetime

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from ciie_portal.models import AuditEntry
from credentials.entry.models import GateDevice, Scan, SecurityHold
from credentials.entry.rules import SHANGHAI
from credentials.entry.services import device_create, device_enrol, open_name
from credentials.models import Credential
from credentials.production.services import credentials_revoke
from credentials.production.signing import verification_keys_hex
from tests.registration.factories import UserFactory


@pytest.fixture
def organiser(db):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_gatedevice", "add_gatedevice", "change_gatedevice", "view_scan"]
        )
    )
    return user


@pytest.fixture
def device(edition, organiser):
    device, token = device_create(edition=edition, name="平板 A", gate="2号门", actor=organiser)
    device, key = device_enrol(token=token)
    device.key = key
    return device


def api(client, method, path, device=None, body=None, **params):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {device.key}"} if device else {}
    if method == "get":
        return client.get(path, params, **headers)
    return client.post(path, json.dumps(body), content_type="application/json", **headers)


def test_an_organiser_registers_a_device_with_a_one_time_code(client, organiser, edition):
    client.force_login(organiser)
    page = client.post(
        "/admin/credentials/gatedevice/add/", {"name": "平板 A", "gate": "2号门"}
    ).content.decode()
    device = GateDevice.objects.get()
    assert 'id="enrolment-qr"' in page and "data:image/png;base64," in page
    url = page.split('id="enrolment-url" value="')[1].split('"')[0]
    assert url.startswith("http://testserver/gate/app/#enrol=")
    token = url.split("#enrol=")[1]
    assert token not in device.enrolment_digest  # only its digest is kept
    assert AuditEntry.objects.filter(action="gate_device.created", object_id=str(device.pk))

    client.logout()
    answer = client.post(
        "/gate/api/enrol/", json.dumps({"token": token}), content_type="application/json"
    )
    assert answer.status_code == 200
    key = answer.json()["device_key"]
    assert answer.json()["device"] == {"id": device.pk, "name": "平板 A", "gate": "2号门"}
    # Once only.
    again = client.post(
        "/gate/api/enrol/", json.dumps({"token": token}), content_type="application/json"
    )
    assert again.status_code == 400 and "该注册码无效" in again.json()["error"]
    bundle = client.get("/gate/api/bundle/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert bundle.status_code == 200


def test_others_cannot_register_devices(client, unit, edition):
    client.force_login(UserFactory(is_staff=True))
    assert client.get("/admin/credentials/gatedevice/add/").status_code == 403
    client.force_login(unit.account)
    assert client.get("/admin/credentials/gatedevice/add/").status_code == 302


def test_an_expired_code_registers_nothing(client, edition, organiser):
    device, token = device_create(edition=edition, name="A", gate="1号门", actor=organiser)
    GateDevice.objects.filter(pk=device.pk).update(enrolment_expires_at=timezone.now())
    answer = client.post(
        "/gate/api/enrol/", json.dumps({"token": token}), content_type="application/json"
    )
    assert answer.status_code == 400
    assert GateDevice.objects.get().enrolled_at is None


def test_a_revoked_device_is_cut_off(client, device, organiser):
    assert api(client, "get", "/gate/api/bundle/", device).status_code == 200
    client.force_login(organiser)
    client.post(
        "/admin/credentials/gatedevice/",
        {"action": "revoke_devices", "_selected_action": [device.pk]},
    )
    client.logout()
    assert GateDevice.objects.get().revoked_at is not None
    for method, path in (
        ("get", "/gate/api/bundle/"),
        ("post", "/gate/api/scan/"),
        ("post", "/gate/api/scans/"),
    ):
        assert api(client, method, path, device, body={}).status_code == 401
    assert AuditEntry.objects.filter(action="gate_device.revoked").count() == 1


def test_the_bundle_has_what_an_offline_check_needs_and_names_only_sealed(
    client, device, credentials
):
    bundle = api(client, "get", "/gate/api/bundle/", device).json()
    assert bundle["full"] is True and bundle["edition"] == 10
    assert bundle["keys"] == verification_keys_hex()
    assert bundle["revoked"] == [credentials["revoked"].number]
    by_number = {c["number"]: c for c in bundle["credentials"]}
    assert set(by_number) == {credentials["today"].number, credentials["later"].number}
    today = by_number[credentials["today"].number]
    assert set(today) == {"number", "label", "first_day", "last_day", "name"}
    assert "王小明" not in json.dumps(bundle, ensure_ascii=False)
    assert open_name(today["name"], credentials["today"].qr_payload) == "王小明"
    with pytest.raises(Exception):  # noqa: B017 — another card's code does not open it
        open_name(today["name"], credentials["later"].qr_payload)


def test_the_bundle_refreshes_by_increments(client, device, credentials, gate_staff):
    first = api(client, "get", "/gate/api/bundle/", device).json()
    # The cursor reaches back a little, so a credential committed late is not missed.
    assert first["cursor"] < first["generated_at"]
    # A device that synced after the credentials were made gets none of them again.
    since = timezone.now().isoformat()
    nothing = api(client, "get", "/gate/api/bundle/", device, since=since).json()
    assert nothing["full"] is False
    assert (nothing["credentials"], nothing["revoked"], nothing["held"]) == ([], [], [])

    credentials_revoke(
        credentials=Credential.objects.filter(pk=credentials["later"].pk),
        reason="lost",
        actor=gate_staff,
    )
    hold = SecurityHold.objects.create(
        edition=credentials["today"].edition,
        visitor=credentials["today"].visitor,
        reason="check",
        placed_by=gate_staff,
    )
    changed = api(client, "get", "/gate/api/bundle/", device, since=since).json()
    assert changed["revoked"] == [credentials["later"].number]
    assert changed["held"] == [credentials["today"].number]
    SecurityHold.objects.filter(pk=hold.pk).update(
        released_at=timezone.now(), released_by=gate_staff
    )
    lifted = api(client, "get", "/gate/api/bundle/", device, since=since).json()
    assert (lifted["held"], lifted["released"]) == ([], [credentials["today"].number])
    assert GateDevice.objects.get().last_sync_at is not None


def test_an_online_check_is_recorded_once_per_nonce(client, device, credentials):
    body = {"payload": credentials["today"].qr_payload, "direction": "in", "nonce": "n-1"}
    first = api(client, "post", "/gate/api/scan/", device, body=body).json()
    assert (first["admitted"], first["name"], first["label"]) == (True, "王小明", "vip")
    # The answer was lost; the device asks again with the same nonce: the same verdict.
    retry = api(client, "post", "/gate/api/scan/", device, body=body).json()
    assert (retry["admitted"], retry["scan_id"]) == (True, first["scan_id"])
    assert Scan.objects.count() == 1
    scan = Scan.objects.get()
    assert (scan.device, scan.gate, scan.nonce, scan.offline, scan.staff) == (
        device, "2号门", "n-1", False, None,
    )  # fmt: skip
    # The photo, for the device that holds the key.
    assert client.get(first["photo_url"]).status_code == 403
    photo = client.get(first["photo_url"], HTTP_AUTHORIZATION=f"Bearer {device.key}")
    assert photo.status_code == 200
    again = api(client, "post", "/gate/api/scan/", device, body={**body, "nonce": "n-2"}).json()
    assert (again["admitted"], again["reason"]) == (False, "already_inside")
    entered = datetime.fromisoformat(again["since"]).astimezone(SHANGHAI)
    assert again["message"] == f"今日已入场 {entered:%H:%M} · 2号门"


def test_offline_scans_arrive_exactly_once_and_a_wrong_admission_is_flagged(
    client, device, credentials
):
    from credentials.entry.rules import today_in_shanghai

    day = today_in_shanghai().isoformat()

    def at(clock):
        return f"{day}T{clock}:00+08:00"

    today, revoked = credentials["today"], credentials["revoked"]
    scans = [
        {"nonce": "a", "payload": today.qr_payload, "direction": "in", "scanned_at": at("00:01"),
         "admitted": True, "reason": "ok"},
        # The device had not heard of the revocation yet: it admitted.
        {"nonce": "b", "payload": revoked.qr_payload, "direction": "in", "scanned_at": at("00:02"),
         "admitted": True, "reason": "ok"},
        # A second device-side admission of the same card the same day.
        {"nonce": "c", "payload": today.qr_payload, "direction": "in", "scanned_at": at("00:03"),
         "admitted": True, "reason": "ok"},
        {"nonce": "d", "payload": "garbage", "direction": "in", "scanned_at": at("00:04"),
         "admitted": False, "reason": "malformed"},
        {"nonce": "e", "payload": today.qr_payload, "scanned_at": "yesterday"},
    ]  # fmt: skip
    answer = api(client, "post", "/gate/api/scans/", device, body={"scans": scans}).json()
    results = {r["nonce"]: (r["status"], r["flagged"]) for r in answer["results"]}
    assert results == {
        "a": ("created", False),
        "b": ("created", True),
        "c": ("created", True),
        "d": ("created", False),
        "e": ("invalid", False),
    }
    recorded = {s.nonce: s for s in Scan.objects.all()}
    assert set(recorded) == {"a", "b", "c", "d"}
    assert all(s.offline and s.device == device and s.gate == "2号门" for s in recorded.values())
    assert (recorded["b"].admitted, recorded["b"].server_reason) == (True, "revoked")
    assert (recorded["c"].admitted, recorded["c"].server_reason) == (True, "already_inside")
    assert recorded["d"].payload == "garbage"

    # The device did not get the answer and sends everything again: nothing new.
    again = api(client, "post", "/gate/api/scans/", device, body={"scans": scans}).json()
    assert {r["nonce"]: r["status"] for r in again["results"]} == {
        "a": "duplicate", "b": "duplicate", "c": "duplicate", "d": "duplicate", "e": "invalid",
    }  # fmt: skip
    assert Scan.objects.count() == 4
    # Flagged admissions are there for security to see.
    assert Scan.objects.filter(flagged=True).count() == 2


def test_an_upload_is_bounded_and_must_be_json(client, device):
    too_many = [{"nonce": str(n)} for n in range(501)]
    assert (
        api(client, "post", "/gate/api/scans/", device, body={"scans": too_many}).status_code == 400
    )
    garbled = client.post(
        "/gate/api/scans/", "{", content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {device.key}",
    )  # fmt: skip
    assert garbled.status_code == 400


def test_the_scans_list_counts_admissions_for_the_organiser(client, organiser, device, credentials):
    body = {"payload": credentials["today"].qr_payload, "nonce": "x"}
    api(client, "post", "/gate/api/scan/", device, body=body)
    client.force_login(organiser)
    page = client.get("/admin/credentials/scan/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="admissions-by-gate"' in page and "2号门" in page
    assert credentials["today"].number in page
    client.force_login(UserFactory(is_staff=True))
    assert client.get("/admin/credentials/scan/").status_code == 403
