"""入场: recording scans under the entry rules, gate devices and their offline bundle.

Every scan goes through :func:`scan_check` (online: staff's page or a device's API call) or
:func:`scans_upload` (an offline device reconnecting) and is recorded, admitted or not. The
decision itself is ``credentials.entry.rules``; here the holder's credential row is locked
first, so two gates scanning one card at the same moment are decided one after the other and
admit it once.
"""

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import ValidationError
from django.core.signing import BadSignature, SignatureExpired, TimestampSigner
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record
from credentials.production.models import Credential
from credentials.production.signing import Claims, verification_keys, verification_keys_hex

from .models import Direction, GateDevice, Reason, Scan, SecurityHold
from .rules import REASONS, Verdict, judge, read
from .selectors import (
    earlier_scans,
    entry_rules,
    held_numbers,
    rule_as_json,
)

ENROLMENT_VALID = timedelta(hours=24)
PHOTO_LINK_SECONDS = 300
# An offline bundle's cursor reaches back this far: a credential made in a transaction that
# started before the last sync but committed after it still reaches the device.
SYNC_OVERLAP = timedelta(minutes=2)
# A device's "last seen" is written at most this often, not on every scan.
SEEN_EVERY = timedelta(minutes=1)
BUNDLE_FORMAT = "ciie-gate-bundle/2"
MAX_UPLOAD = 500


# --- Scans ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanResult:
    scan: Scan
    verdict: Verdict
    credential: Credential | None


def _verdict_of(scan: Scan) -> Verdict:
    """The verdict a recorded scan gave (for a retried request with the same nonce)."""
    credential = scan.credential
    return Verdict(
        admitted=scan.admitted,
        reason=scan.reason,
        number=credential.number if credential else None,
        label=credential.label if credential else None,
    )


def _decide_locked(
    claims: Claims | str, *, edition, at: datetime | None, direction: str
) -> tuple[Verdict, Credential | None, datetime]:
    """The verdict at ``at`` (None: now), the holder's credential locked until the transaction
    ends. "Now" is read once the lock is held: a scan that waited for another gate's scan of
    the same card comes after it, and sees it."""
    credential = None
    open_holds = SecurityHold.objects.filter(released_at__isnull=True)
    if not isinstance(claims, str) and claims.edition == edition.number:
        # One query: the row locked (only it, not the visitor's), whether its holder is on
        # hold, and the visitor for the photo.
        credential = (
            Credential.objects.select_for_update(of=("self",))
            .select_related("visitor")
            .annotate(held=Exists(open_holds.filter(visitor_id=OuterRef("visitor_id"))))
            .filter(edition=edition, number=claims.number)
            .first()
        )
    if at is None:
        at = timezone.now()
    verdict = judge(
        claims,
        edition=edition.number,
        label_of=lambda number: credential.label if credential else None,
        revoked={credential.number}
        if credential and credential.status == Credential.Status.REVOKED
        else (),
        held={credential.number} if credential and credential.held else (),
        rules=entry_rules(edition.pk),
        earlier=earlier_scans(credential, before=at) if credential else (),
        at=at,
        direction=direction,
    )
    return verdict, credential, at


def _direction(value: str) -> str:
    if value not in Direction.values:
        raise ValidationError(_("The direction is entry or exit."))
    return value


def scan_check(
    *,
    edition,
    payload: str,
    direction: str = Direction.IN,
    gate: str,
    device: GateDevice | None = None,
    staff=None,
    nonce: str = "",
    at: datetime | None = None,
) -> ScanResult:
    """Check one scan now and record it, admitted or refused.

    A device's request carries a nonce: sent again (a retry after a lost answer), it gets the
    first verdict back and nothing new is recorded. ``at`` replaces "now" for replaying a day
    (the whole-season test); no view passes it.
    """
    direction = _direction(direction)
    nonce = (nonce or "")[:64]
    if device is not None and nonce:
        earlier = Scan.objects.filter(device=device, nonce=nonce).select_related("credential")
        if scan := earlier.first():
            return ScanResult(scan=scan, verdict=_verdict_of(scan), credential=scan.credential)
    claims = read(payload, verification_keys())
    try:
        with transaction.atomic():
            verdict, credential, now = _decide_locked(
                claims, edition=edition, at=at, direction=direction
            )
            scan = Scan.objects.create(
                edition=edition,
                credential=credential,
                payload="" if credential else str(payload)[:256],
                direction=direction,
                admitted=verdict.admitted,
                reason=verdict.reason,
                scanned_at=now,
                gate=gate[:40],
                device=device,
                staff=staff,
                nonce=nonce if device is not None else "",
            )
    except IntegrityError:
        # The same nonce recorded by a request running at the same time.
        scan = Scan.objects.select_related("credential").get(device=device, nonce=nonce)
        return ScanResult(scan=scan, verdict=_verdict_of(scan), credential=scan.credential)
    return ScanResult(scan=scan, verdict=verdict, credential=credential)


def scan_force(*, scan: Scan, actor, reason: str) -> Scan:
    """Let in a holder the check refused (staff with ``credentials.force_entry``): recorded as
    a forced admission beside the refusal, with the reason, and audited."""
    if not actor.has_perm("credentials.force_entry"):
        raise ValidationError(_("You may not let anyone in against the check."))
    if scan.admitted:
        raise ValidationError(_("This scan admitted its holder already."))
    if not reason.strip():
        raise ValidationError(_("Say why you let the holder in."))
    if scan.reason in (Reason.MALFORMED, Reason.BAD_SIGNATURE) or scan.credential is None:
        raise ValidationError(_("Only a genuine credential of this expo can be let in."))
    forced = Scan.objects.create(
        edition=scan.edition,
        credential=scan.credential,
        direction=scan.direction,
        admitted=True,
        reason=scan.reason,
        forced=True,
        scanned_at=timezone.now(),
        gate=scan.gate,
        device=scan.device,
        staff=actor,
    )
    audit_record(
        actor=actor,
        obj=forced,
        action="scan.forced",
        from_state=scan.reason,
        to_state="admitted",
        reason=reason.strip(),
        data={"refused_scan": scan.pk, "credential": scan.credential.number, "gate": scan.gate},
    )
    return forced


@dataclass(frozen=True)
class Upload:
    nonce: str
    status: str  # created | duplicate | invalid
    flagged: bool = False
    error: str = ""

    def as_json(self) -> dict:
        answer = {"nonce": self.nonce, "status": self.status, "flagged": self.flagged}
        if self.error:
            answer["error"] = self.error
        return answer


def _upload_one(*, device: GateDevice, item) -> Upload:
    if not isinstance(item, dict):
        return Upload(nonce="", status="invalid", error="not an object")
    nonce = str(item.get("nonce") or "")[:64]
    if not nonce:
        return Upload(nonce="", status="invalid", error="no nonce")
    if Scan.objects.filter(device=device, nonce=nonce).exists():
        return Upload(nonce=nonce, status="duplicate")
    scanned_at = parse_datetime(str(item.get("scanned_at") or ""))
    direction = item.get("direction", Direction.IN)
    reason = item.get("reason")
    if scanned_at is None or scanned_at.tzinfo is None:
        return Upload(nonce=nonce, status="invalid", error="scanned_at: ISO 8601 with offset")
    if direction not in Direction.values or reason not in REASONS:
        return Upload(nonce=nonce, status="invalid", error="direction or reason unknown")
    now = timezone.now()
    # A device clock ahead of ours cannot put a scan in the future.
    scanned_at = min(scanned_at, now)
    admitted = bool(item.get("admitted"))
    forced = admitted and bool(item.get("forced"))
    payload = str(item.get("payload") or "")
    claims = read(payload, verification_keys())
    try:
        with transaction.atomic():
            verdict, credential, _at = _decide_locked(
                claims, edition=device.edition, at=scanned_at, direction=direction
            )
            flagged = admitted and not verdict.admitted
            Scan.objects.create(
                edition=device.edition,
                credential=credential,
                payload="" if credential else payload[:256],
                direction=direction,
                # As it happened at the gate: the device's verdict.
                admitted=admitted,
                # A forced admission keeps the reason it was refused for.
                reason=reason if not admitted or forced else "ok",
                forced=forced,
                offline=True,
                flagged=flagged,
                server_reason=verdict.reason,
                scanned_at=scanned_at,
                gate=device.gate,
                device=device,
                nonce=nonce,
            )
    except IntegrityError:
        return Upload(nonce=nonce, status="duplicate")
    return Upload(nonce=nonce, status="created", flagged=flagged)


def scans_upload(*, device: GateDevice, scans: list) -> list[Upload]:
    """Record an offline device's scans, each once by its nonce (sent again: "duplicate").

    Each is recorded as the device decided it; an admission the server would have refused
    (judged as of the scan's time, with every scan recorded before it) is flagged, never
    dropped. Oldest first, so that the device's own scans count for each other.
    """
    if not isinstance(scans, list) or len(scans) > MAX_UPLOAD:
        raise ValidationError(_("Send at most %(n)s scans at a time.") % {"n": MAX_UPLOAD})

    oldest = datetime.min.replace(tzinfo=UTC)

    def when(item):
        moment = (
            parse_datetime(str(item.get("scanned_at") or "")) if isinstance(item, dict) else None
        )
        return moment if moment is not None and moment.tzinfo is not None else oldest

    return [_upload_one(device=device, item=item) for item in sorted(scans, key=when)]


# --- The registered photo, for the gate screen ----------------------------------------------

_PHOTO_SIGNER = TimestampSigner(salt="credentials.entry.photo")


def photo_token(credential: Credential) -> str:
    return _PHOTO_SIGNER.sign(str(credential.pk))


def photo_credential(token: str) -> Credential | None:
    """The credential a photo link was made for, within five minutes of the verdict."""
    try:
        pk = _PHOTO_SIGNER.unsign(token, max_age=PHOTO_LINK_SECONDS)
    except (BadSignature, SignatureExpired):
        return None
    return Credential.objects.select_related("visitor").filter(pk=pk).first()


# --- Devices --------------------------------------------------------------------------------


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def device_enrolment_token(*, device: GateDevice, actor) -> str:
    """A new one-time enrolment token for ``device``, valid for a day; shown once. Enrolling
    again with it gives the device a new key (the old one stops working)."""
    if device.revoked_at is not None:
        raise ValidationError(_("This device was revoked; register a new one."))
    token = secrets.token_urlsafe(24)
    device.enrolment_digest = _digest(token)
    device.enrolment_expires_at = timezone.now() + ENROLMENT_VALID
    device.save(update_fields=["enrolment_digest", "enrolment_expires_at"])
    audit_record(actor=actor, obj=device, action="gate_device.enrolment_issued")
    return token


def device_create(*, edition, name: str, gate: str, actor) -> tuple[GateDevice, str]:
    """A new gate device and its one-time enrolment token."""
    with transaction.atomic():
        device = GateDevice.objects.create(
            edition=edition, name=name.strip(), gate=gate.strip(), created_by=actor
        )
        audit_record(actor=actor, obj=device, action="gate_device.created")
        return device, device_enrolment_token(device=device, actor=actor)


def device_enrol(*, token: str) -> tuple[GateDevice, str]:
    """Exchange a valid enrolment token (once) for the device's own key."""
    with transaction.atomic():
        device = (
            GateDevice.objects.select_for_update()
            .filter(enrolment_digest=_digest(str(token)), revoked_at__isnull=True)
            .exclude(enrolment_digest="")
            .first()
        )
        if device is None or device.enrolment_expires_at < timezone.now():
            raise ValidationError(
                _("This registration code is not valid: it was used, has expired or was revoked.")
            )
        key = f"{device.pk}.{secrets.token_urlsafe(32)}"
        device.key_digest = _digest(key)
        device.enrolment_digest = ""
        device.enrolment_expires_at = None
        device.enrolled_at = timezone.now()
        device.save(
            update_fields=["key_digest", "enrolment_digest", "enrolment_expires_at", "enrolled_at"]
        )
        audit_record(actor="gate device", obj=device, action="gate_device.enrolled")
    return device, key


def device_authenticate(key: str) -> GateDevice | None:
    """The active device holding ``key``, or None (unknown, revoked, or never enrolled)."""
    if not key or len(key) > 100:
        return None
    device = (
        GateDevice.objects.select_related("edition")
        .filter(key_digest=_digest(key), revoked_at__isnull=True, enrolled_at__isnull=False)
        .first()
    )
    if device is None:
        return None
    now = timezone.now()
    if device.last_seen_at is None or now - device.last_seen_at > SEEN_EVERY:
        GateDevice.objects.filter(pk=device.pk).update(last_seen_at=now)
    return device


def device_revoke(*, device: GateDevice, actor) -> GateDevice:
    """Cut a device off (lost, stolen, retired): its key and any enrolment token stop working."""
    with transaction.atomic():
        device = GateDevice.objects.select_for_update().get(pk=device.pk)
        if device.revoked_at is not None:
            return device
        device.revoked_at = timezone.now()
        device.enrolment_digest = ""
        device.save(update_fields=["revoked_at", "enrolment_digest"])
        audit_record(actor=actor, obj=device, action="gate_device.revoked")
    return device


# --- The offline bundle ---------------------------------------------------------------------


def name_key(payload: str) -> bytes:
    """The AES-256 key a credential's name is sealed with: only a device holding the card (its
    QR text) can open it (docs/gate.md)."""
    text = "".join(payload.split()).upper()
    return hashlib.sha256(b"ciie-gate-name\0" + text.encode()).digest()


def seal_name(name: str, payload: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(name_key(payload)).encrypt(nonce, name.encode(), None)
    return base64.b64encode(nonce + sealed).decode()


def open_name(sealed: str, payload: str) -> str:
    raw = base64.b64decode(sealed)
    return AESGCM(name_key(payload)).decrypt(raw[:12], raw[12:], None).decode()


def _cursor(value: str | None) -> datetime | None:
    moment = parse_datetime(value) if value else None
    return moment if moment is not None and moment.tzinfo is not None else None


def device_bundle(*, device: GateDevice, since: str | None = None) -> dict:
    """What ``device`` needs to check offline, or only what changed since ``since`` (the
    ``cursor`` of its last bundle). Names are sealed per credential; no photo, no ID number."""
    edition = device.edition
    now = timezone.now()
    cursor = _cursor(since)
    credentials = Credential.objects.filter(edition=edition, status=Credential.Status.ACTIVE)
    revoked = Credential.objects.filter(edition=edition, status=Credential.Status.REVOKED)
    released = SecurityHold.objects.filter(edition=edition, released_at__isnull=False)
    if cursor is not None:
        credentials = credentials.filter(created_at__gte=cursor)
        revoked = revoked.filter(revoked_at__gte=cursor)
        released = released.filter(released_at__gte=cursor)
    else:
        released = released.none()
    bundle = {
        "format": BUNDLE_FORMAT,
        "full": cursor is None,
        "cursor": (now - SYNC_OVERLAP).isoformat(),
        "generated_at": now.isoformat(),
        "edition": edition.number,
        "edition_name": edition.name,
        "timezone": "Asia/Shanghai",
        "device": {"id": device.pk, "name": device.name, "gate": device.gate},
        "keys": verification_keys_hex(),
        "rules": {label: rule_as_json(rule) for label, rule in entry_rules(edition.pk).items()},
        "credentials": [
            {
                "number": number,
                "label": label,
                "first_day": first_day.isoformat(),
                "last_day": last_day.isoformat(),
                "name": seal_name(name, payload),
            }
            for number, label, first_day, last_day, name, payload in credentials.order_by(
                "sequence"
            ).values_list("number", "label", "first_day", "last_day", "name", "qr_payload")
        ],
        "revoked": sorted(revoked.values_list("number", flat=True)),
        # Few: always the whole list, which replaces the device's.
        "held": held_numbers(edition.pk),
        "released": sorted(
            set(
                Credential.objects.filter(
                    edition=edition, visitor__security_holds__in=released
                ).values_list("number", flat=True)
            )
        ),
    }
    GateDevice.objects.filter(pk=device.pk).update(last_sync_at=now, last_seen_at=now)
    return bundle
