"""入场核验 for staff: the gate page (a USB scanner types the QR code into its text box), its
JSON twin, letting a refused holder in, and the registered photo for the face check.

Staff with the permission ``credentials.check_credential``; every scan is recorded with the
staff member and the gate they work at (kept in their session). Gate devices use the device
API (``views_api``) instead. Mounted at ``gate/`` by ``credentials.entry.urls``.
"""

import json
from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from ciie_portal.access_log import access_record
from ciie_portal.context_processors import current_edition_for
from ciie_portal.private_files import private_file_response
from registration.models import Label

from .models import Direction, Scan
from .rules import SHANGHAI
from .services import ScanResult, photo_credential, photo_token, scan_check, scan_force

CHECK = "credentials.check_credential"
FORCE = "credentials.force_entry"
GATE_SESSION_KEY = "gate_name"

REASON_TEXTS = {
    "ok": gettext_lazy("Valid"),
    "malformed": gettext_lazy("Not a credential QR code"),
    "bad_signature": gettext_lazy("Forged or altered: the signature does not match"),
    "unknown": gettext_lazy("Not a credential of this expo"),
    "revoked": gettext_lazy("Revoked: this card was replaced or withdrawn"),
    "held": gettext_lazy("Please go to the security desk"),
    "not_an_entry_day": gettext_lazy("Not valid today: not one of its entry days"),
    "no_exit_scans": gettext_lazy("Exits are not scanned for this credential"),
    "already_inside": gettext_lazy("Already entered today"),
}


def reason_message(reason: str, *, since=None, gate=None) -> str:
    """What gate staff read: "今日已入场 09:12 · 2号门"."""
    if reason == "already_inside" and since is not None:
        return _("Already entered today at %(time)s · %(gate)s") % {
            "time": since.astimezone(SHANGHAI).strftime("%H:%M"),
            "gate": gate,
        }
    return str(REASON_TEXTS[reason])


def verdict_json(result: ScanResult, *, photo_url_name: str) -> dict:
    """The answer gate screens show (the staff page, the JSON endpoint, the device API)."""
    verdict, credential = result.verdict, result.credential
    answer = {
        "admitted": verdict.admitted,
        "valid": verdict.admitted,
        "reason": verdict.reason,
        "message": reason_message(verdict.reason, since=verdict.since, gate=verdict.gate),
        "number": credential.number if credential else verdict.number,
        "credential": credential.number if credential else verdict.number,
        "name": credential.name if credential else None,
        "label": credential.label if credential else None,
        "label_display": str(Label(credential.label).label) if credential else None,
        "since": verdict.since.isoformat() if verdict.since else None,
        "gate": verdict.gate,
        "photo_url": None,
        "scan_id": result.scan.pk,
        "direction": result.scan.direction,
    }
    if credential is not None and verdict.admitted and credential.visitor.photo:
        answer["photo_url"] = reverse(photo_url_name, args=[photo_token(credential)])
    return answer


def gate_staff_required(view):
    """Staff with the gate permission; others log in (as staff) or are refused."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not request.user.has_perm(CHECK):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _edition(request):
    edition = current_edition_for(request)
    if edition is None:
        raise Http404("no current edition")
    return edition


def _gate_name(request) -> str:
    chosen = request.POST.get("gate", "").strip()[:40]
    if chosen:
        request.session[GATE_SESSION_KEY] = chosen
    return request.session.get(GATE_SESSION_KEY) or _("Staff desk")


def _staff_scan(request, payload: str, direction: str) -> dict:
    if direction not in Direction.values:
        direction = Direction.IN
    result = scan_check(
        edition=_edition(request),
        payload=payload if isinstance(payload, str) else "",
        direction=direction,
        gate=_gate_name(request),
        staff=request.user,
    )
    return verdict_json(result, photo_url_name="gate:photo")


@gate_staff_required
@require_http_methods(["GET", "POST"])
def gate_page(request):
    """The scanner's page: big green for admitted, big red with the reason for anything else;
    on a refusal, staff who may can let the holder in anyway (with a reason)."""
    result = None
    if request.method == "POST":
        result = _staff_scan(
            request, request.POST.get("payload", ""), request.POST.get("direction", "in")
        )
    return render(
        request,
        "credentials/gate.html",
        {
            "result": result,
            "gate_name": request.session.get(GATE_SESSION_KEY, ""),
            "direction": request.POST.get("direction", "in"),
            "directions": Direction.choices,
            "may_force": request.user.has_perm(FORCE),
        },
    )


@gate_staff_required
@require_POST
def gate_check(request):
    """POST {"payload": "...", "direction": "in"|"out"} (JSON, form fields, or the bare text)
    → the verdict (see ``verdict_json``)."""
    payload = request.POST.get("payload")
    direction = request.POST.get("direction", "in")
    if payload is None:
        body = request.body.decode("utf-8", errors="replace")
        try:
            data = json.loads(body)
            payload = data.get("payload", "") if isinstance(data, dict) else ""
            direction = data.get("direction", "in") if isinstance(data, dict) else "in"
        except ValueError:
            payload = body
    return JsonResponse(_staff_scan(request, payload, direction))


@gate_staff_required
@require_POST
def gate_force(request, scan_id: int):
    """Let in the holder a recorded scan refused (staff with ``credentials.force_entry``)."""
    if not request.user.has_perm(FORCE):
        raise PermissionDenied
    scan = get_object_or_404(Scan, pk=scan_id, edition=_edition(request))
    try:
        forced = scan_force(scan=scan, actor=request.user, reason=request.POST.get("reason", ""))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("Let in: %(number)s at %(time)s, recorded with your reason.")
            % {
                "number": forced.credential.number,
                "time": timezone.localtime(forced.scanned_at, SHANGHAI).strftime("%H:%M"),
            },
        )
    return redirect("gate:page")


def gate_photo(request, token: str):
    """The registered photo of an admitted holder, for the face check: gate staff (or a gate
    device, by its key) holding a link made within the last five minutes."""
    from .views_api import request_device

    allowed = (request.user.is_authenticated and request.user.has_perm(CHECK)) or request_device(
        request
    ) is not None
    if not allowed:
        raise PermissionDenied
    credential = photo_credential(token)
    if credential is None:
        raise Http404
    response = private_file_response(credential.visitor.photo)
    access_record(actor=request.user, obj=credential.visitor, what="photo", via=request.path)
    response["Cache-Control"] = "private, no-store"
    return response
