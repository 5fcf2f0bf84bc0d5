"""At a side event's door: is the holder of this credential on the event's list?

Staff scan the credential's QR code (or type its number); the answer says whether its holder
is signed up (admitted), awaiting the organiser's approval, waiting, declined or not on the
list, with the holder's name. Only a genuine, valid credential of the current expo is looked
up: a forged, altered or revoked one is refused first, and a holder on security hold is sent
to the security desk as at the gate. Nothing is written: the gate's own scans
(``services.scan_check``) are what records a person at the expo.
"""

import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from credentials.production.models import Credential
from credentials.production.signing import verification_keys
from registration.side_events.models import SideEventSignup

from .models import SecurityHold
from .rules import read

S = SideEventSignup.Status

ADMITTED = "admitted"
ANSWERS = {
    ADMITTED: _("On the list: admitted"),
    "pending": _("Not admitted: the sign-up awaits the organiser's approval"),
    "waiting": _("Not admitted: on the waiting list"),
    "declined": _("Not admitted: the sign-up was declined"),
    "not_on_list": _("Not admitted: not on this event's list"),
    "unknown": _("Not a credential of this expo"),
    "malformed": _("Not a credential QR code or number"),
    "bad_signature": _("Forged or altered: the signature does not match"),
    "revoked": _("Revoked: this card was replaced or withdrawn"),
    "held": _("Please go to the security desk"),
}
#: A credential number as printed (the edition on two or three digits, then seven).
NUMBER = re.compile(r"^\d{9,10}$")


@dataclass(frozen=True)
class EventCheck:
    answer: str  # a key of ANSWERS
    name: str = ""  # the holder's name, when the credential is genuine
    number: str = ""  # the credential number

    @property
    def admitted(self) -> bool:
        return self.answer == ADMITTED

    @property
    def message(self) -> str:
        return str(ANSWERS[self.answer])


def _credential(edition, text: str) -> Credential | str:
    """The credential ``text`` (a QR payload or a printed number) names, or why none."""
    if NUMBER.match(text):
        number = text
    else:
        claims = read(text, verification_keys())
        if isinstance(claims, str):
            return claims if claims in ANSWERS else "malformed"
        if claims.edition != edition.number:
            return "unknown"
        number = claims.number
    credential = (
        Credential.objects.select_related("visitor")
        .filter(edition=edition, number=number)
        .order_by("-pk")
        .first()
    )
    return credential if credential is not None else "unknown"


def event_check(*, edition, event, text: str) -> EventCheck:
    """The answer for the credential ``text`` at ``event`` (of ``edition``)."""
    found = _credential(edition, (text or "").strip())
    if isinstance(found, str):
        return EventCheck(answer=found)
    credential = found
    if credential.status == Credential.Status.REVOKED:
        return EventCheck(answer="revoked", name=credential.name, number=credential.number)
    if SecurityHold.objects.filter(
        visitor_id=credential.visitor_id, released_at__isnull=True
    ).exists():
        return EventCheck(answer="held", name=credential.name, number=credential.number)
    signup = (
        SideEventSignup.objects.filter(event=event, visitor_id=credential.visitor_id)
        .exclude(status=S.CANCELLED)
        .order_by("-pk")
        .first()
    )
    answer = {
        S.CONFIRMED: ADMITTED,
        S.PENDING: "pending",
        S.WAITING: "waiting",
        S.DECLINED: "declined",
    }.get(signup.status if signup else None, "not_on_list")
    return EventCheck(answer=answer, name=credential.name, number=credential.number)
