"""Every write of the second factor, audited (``ciie_portal.audit``) with the user as object.

Actions in the audit log: ``staff.signed_in`` (password step), ``staff.second_factor_enrolled``,
``staff.second_factor_passed``, ``staff.second_factor_failed`` (a wrong or throttled code),
``staff.backup_codes_regenerated`` and ``staff.second_factor_reset`` (by an organiser).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import django_otp
from axes.helpers import get_client_ip_address
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from ciie_portal.audit import audit_record

from . import is_staff_account

BACKUP_CODE_COUNT = 10
TOTP_DEVICE_NAME = "authenticator"
BACKUP_DEVICE_NAME = "backup codes"
# The permissions that let an organiser reset another's second factor (ciie_portal/roles.py).
RESET_PERMISSIONS = ("otp_totp.delete_totpdevice", "otp_static.delete_staticdevice")

_TOTP_CODE = re.compile(r"\d{6}")
_BACKUP_CODE = re.compile(r"[a-z2-7]{8}")  # StaticToken.random_token(): 5 random bytes, base32


def _ip(request) -> str | None:
    return get_client_ip_address(request) if request is not None else None


def has_authenticator(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def backup_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def pending_authenticator(user) -> TOTPDevice:
    """The authenticator being enrolled: the same key until it is confirmed, so that a page
    reloaded after scanning still shows the code the app holds."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def staff_signed_in(*, request, user, exempt: bool) -> None:
    """The password step succeeded (the admin's sign-in page)."""
    data = {"ip": _ip(request)}
    if exempt:
        data["second_factor"] = "demo exemption"
    audit_record(actor=user, obj=user, action="staff.signed_in", data=data)


def _new_backup_codes(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@dataclass(frozen=True)
class Outcome:
    """What a submitted code did: ``device`` when accepted; otherwise ``locked_until`` when
    too many wrong codes came before (nothing was tried)."""

    device: object | None = None
    locked_until: datetime | None = None
    codes: list[str] | None = None

    @property
    def accepted(self) -> bool:
        return self.device is not None

    def wait_seconds(self) -> int:
        if self.locked_until is None:
            return 0
        return max(1, int((self.locked_until - timezone.now()).total_seconds() + 0.999))


def _failed(request, user, *, reason: str, device=None, step: str) -> None:
    data = {"ip": _ip(request), "reason": reason, "step": step}
    if device is not None:
        data["failures"] = device.throttling_failure_count
    audit_record(actor=user, obj=user, action="staff.second_factor_failed", data=data)


def _throttled(device) -> datetime | None:
    allowed, info = device.verify_is_allowed()
    return None if allowed else (info or {}).get("locked_until") or timezone.now()


def _passed(request, device) -> None:
    """Record the device in the session (a new session key: the privilege changed)."""
    request.session.cycle_key()
    django_otp.login(request, device)


@transaction.atomic
def second_factor_enrol(*, request, user, code: str) -> Outcome:
    """Confirm the authenticator being enrolled with a current code from it; then make the
    backup codes (returned once, in ``Outcome.codes``) and pass the second factor."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False)
        .order_by("pk")
        .first()
    )
    if device is None:  # confirmed meanwhile (another tab): the verification page takes over
        return Outcome()
    locked_until = _throttled(device)
    if locked_until is not None:
        _failed(request, user, reason="throttled", device=device, step="enrolment")
        return Outcome(locked_until=locked_until)
    if not device.verify_token(_normalise(code)):
        _failed(request, user, reason="wrong code", device=device, step="enrolment")
        return Outcome()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    codes = _new_backup_codes(user)
    _passed(request, device)
    audit_record(
        actor=user,
        obj=user,
        action="staff.second_factor_enrolled",
        data={"ip": _ip(request), "backup_codes": len(codes)},
    )
    return Outcome(device=device, codes=codes)


def _normalise(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def code_is_well_formed(code: str) -> bool:
    """Six digits from the app, or a backup code (eight letters and digits)."""
    code = _normalise(code)
    return bool(_TOTP_CODE.fullmatch(code) or _BACKUP_CODE.fullmatch(code))


def second_factor_verify(*, request, user, code: str) -> Outcome:
    """Check a code from the app (six digits) or a backup code (used up by this) against the
    user's confirmed devices. Each device counts its wrong codes and then refuses every code for
    1, 2, 4, 8… seconds (django-otp's throttling); every refused code is audited."""
    code = _normalise(code)
    model = TOTPDevice if _TOTP_CODE.fullmatch(code) else StaticDevice
    method = "authenticator" if model is TOTPDevice else "backup code"
    devices = list(model.objects.filter(user=user, confirmed=True).order_by("pk"))
    open_devices = [device for device in devices if _throttled(device) is None]
    if devices and not open_devices:
        locked_until = max(_throttled(device) for device in devices)
        _failed(request, user, reason="throttled", device=devices[0], step=method)
        return Outcome(locked_until=locked_until)
    for device in open_devices:
        # django_otp.verify_token locks the device row: a backup code is used only once even
        # by two requests at the same moment, and the throttle counts every wrong code.
        verified = django_otp.verify_token(user, device.persistent_id, code)
        if verified is not None:
            _passed(request, verified)
            data = {"ip": _ip(request), "method": method}
            if model is StaticDevice:
                data["backup_codes_left"] = backup_codes_left(user)
            audit_record(actor=user, obj=user, action="staff.second_factor_passed", data=data)
            return Outcome(device=verified)
    for device in open_devices:
        device.refresh_from_db()
    _failed(request, user, reason="wrong code", device=(open_devices or [None])[0], step=method)
    return Outcome()


@transaction.atomic
def backup_codes_regenerate(*, request, user) -> list[str]:
    """New backup codes for a user who passed the second factor; the old ones stop working."""
    codes = _new_backup_codes(user)
    audit_record(
        actor=user,
        obj=user,
        action="staff.backup_codes_regenerated",
        data={"ip": _ip(request), "backup_codes": len(codes)},
    )
    return codes


def may_reset_second_factor(user) -> bool:
    """Organisers (and superusers): ciie_portal/roles.py gives them ``RESET_PERMISSIONS``."""
    return is_staff_account(user) and user.has_perms(RESET_PERMISSIONS)


@transaction.atomic
def second_factor_reset(*, actor, user, request=None) -> int:
    """Remove a user's authenticator and backup codes (a lost phone): their sessions lose the
    second factor at once, and their next sign-in enrols a new app. Returns the devices
    removed."""
    removed = 0
    for model in (TOTPDevice, StaticDevice):
        removed += model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
    audit_record(
        actor=actor,
        obj=user,
        action="staff.second_factor_reset",
        data={"ip": _ip(request), "devices_removed": removed},
    )
    return removed
