"""The gate device API (JSON; docs/gate.md): enrolment, the offline bundle, online checks and
the upload of offline scans.

A device authenticates with ``Authorization: Bearer <device key>`` — no cookie, so no CSRF
token either; a revoked or unknown key gets 401 on every call.
"""

import json
from functools import wraps

from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .services import (
    device_authenticate,
    device_bundle,
    device_enrol,
    scan_check,
    scans_upload,
)
from .views import verdict_json

MAX_BODY = 512 * 1024


def request_device(request):
    """The gate device the request's bearer key belongs to, or None."""
    if not hasattr(request, "_gate_device"):
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        request._gate_device = (
            device_authenticate(key.strip()) if scheme.lower() == "bearer" else None
        )
    return request._gate_device


def device_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        device = request_device(request)
        if device is None:
            return JsonResponse(
                {"error": "This device is not registered or was revoked."}, status=401
            )
        return view(request, device, *args, **kwargs)

    return csrf_exempt(never_cache(wrapper))


def _json_body(request):
    if len(request.body) > MAX_BODY:
        raise ValidationError("body too large")
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("not JSON") from None
    if not isinstance(data, dict):
        raise ValidationError("not a JSON object")
    return data


def _bad_request(error: ValidationError) -> JsonResponse:
    return JsonResponse({"error": " ".join(error.messages)}, status=400)


@csrf_exempt
@never_cache
@require_POST
def enrol(request):
    """POST {"token"} → {"device_key", "device", "edition"}: a one-time registration code
    exchanged for the device's own key."""
    try:
        device, key = device_enrol(token=str(_json_body(request).get("token", "")))
    except ValidationError as error:
        return _bad_request(error)
    return JsonResponse(
        {
            "device_key": key,
            "device": {"id": device.pk, "name": device.name, "gate": device.gate},
            "edition": device.edition.number,
        }
    )


@require_GET
@device_required
def bundle(request, device):
    """What the device needs to check offline; ``?since=<cursor>`` for only what changed."""
    return JsonResponse(
        device_bundle(device=device, since=request.GET.get("since")),
        json_dumps_params={"ensure_ascii": False},
    )


@require_POST
@device_required
def scan(request, device):
    """POST {"payload", "direction", "nonce"} → the verdict, recorded."""
    try:
        data = _json_body(request)
        result = scan_check(
            edition=device.edition,
            payload=str(data.get("payload", "")),
            direction=str(data.get("direction", "in")),
            gate=device.gate,
            device=device,
            nonce=str(data.get("nonce", "")),
        )
    except ValidationError as error:
        return _bad_request(error)
    return JsonResponse(verdict_json(result, photo_url_name="gate:photo"))


@require_POST
@device_required
def scans(request, device):
    """POST {"scans": [...]} → {"results": [{"nonce", "status", "flagged"}]}: offline scans,
    each recorded once."""
    try:
        results = scans_upload(device=device, scans=_json_body(request).get("scans"))
    except ValidationError as error:
        return _bad_request(error)
    return JsonResponse({"results": [upload.as_json() for upload in results]})
