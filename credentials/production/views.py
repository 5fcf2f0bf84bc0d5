"""入场核验: the gate page (a USB scanner types the QR code into its text box) and its JSON twin.

The verdict comes from ``gate.check`` — the public key and the cached revocation list of the
current edition, nothing else; the database is read only to show whose card it is (and a
genuine code whose number we never issued is answered "unknown"). Staff with the permission
``credentials.check_credential`` only. Mounted at ``gate/`` by ``credentials.production.urls``.
"""

import json
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from ciie_portal.context_processors import current_edition_for
from registration.models import Label

from .gate import GateAnswer, check, today_in_shanghai
from .models import Credential
from .selectors import revoked_numbers
from .signing import public_key

CHECK = "credentials.check_credential"

REASON_TEXTS = {
    "ok": _("Valid today"),
    "revoked": _("Revoked: this card was replaced or withdrawn"),
    "not_an_entry_day": _("Not valid today: not one of its entry days"),
    "bad_signature": _("Forged or altered: the signature does not match"),
    "unknown": _("Not a credential of this expo"),
    "malformed": _("Not a credential QR code"),
}


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


def _answer(request, payload: str) -> dict:
    edition = current_edition_for(request)
    if edition is None:
        answer = GateAnswer(valid=False, reason="unknown")
    else:
        answer = check(
            payload,
            public_key(),
            revoked_numbers(edition.pk),
            today_in_shanghai(),
            edition=edition.number,
        )
    result = {
        "valid": answer.valid,
        "reason": answer.reason,
        "credential": answer.number,
        "name": None,
        "label": None,
    }
    if answer.number is not None:
        holder = Credential.objects.filter(number=answer.number).values("name", "label").first()
        if holder is None:
            # Signed with our key, yet never issued here: treat as unknown.
            result.update(valid=False, reason="unknown")
        else:
            result.update(name=holder["name"], label=holder["label"])
    result["message"] = str(REASON_TEXTS[result["reason"]])
    result["label_display"] = str(Label(result["label"]).label) if result["label"] else None
    return result


@gate_staff_required
@require_http_methods(["GET", "POST"])
def gate_page(request):
    """The scanner's page: big green for valid, big red with the reason for anything else."""
    result = None
    if request.method == "POST":
        result = _answer(request, request.POST.get("payload", ""))
    return render(request, "credentials/gate.html", {"result": result})


@gate_staff_required
@require_POST
def gate_check(request):
    """POST {"payload": "..."} (JSON, a form field, or the bare text) →
    {"valid", "reason", "credential", "name", "label", "message", "label_display"}."""
    payload = request.POST.get("payload")
    if payload is None:
        body = request.body.decode("utf-8", errors="replace")
        try:
            data = json.loads(body)
            payload = data.get("payload", "") if isinstance(data, dict) else ""
        except ValueError:
            payload = body
    return JsonResponse(_answer(request, payload if isinstance(payload, str) else ""))
