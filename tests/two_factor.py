"""Staff and their second factor in tests: a confirmed authenticator and its current code."""

import time

import django_otp
from django.http import HttpRequest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


def authenticator(user) -> TOTPDevice:
    """The user's confirmed TOTP device (made if they have none), as enrolment leaves it."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def current_code(device: TOTPDevice) -> str:
    """The code the app shows now — or the next one if now's was used already: a device takes
    each time step's code once, and accepts the next step's (tolerance 1)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    now = time.time()
    step = max(int((now - device.t0) // device.step) + device.drift, device.last_t + 1)
    totp.time = device.t0 + (step - device.drift) * device.step
    return f"{totp.token():0{device.digits}d}"


def verify_session(client, user) -> None:
    """Record in the client's session that ``user`` passed the second factor, as
    ``django_otp.login`` does after a right code."""
    request = HttpRequest()
    request.session = client.session
    request.user = user
    django_otp.login(request, authenticator(user))
    request.session.save()
