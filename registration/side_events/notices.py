"""The SMS and emails of side-event sign-ups: each visitor concerned (the mobile and email on
the visitor's record) and the unit's contact are told when visitors are signed up, put on the
waiting list, moved up, approved, declined or cancelled.

Queued with the change, in its transaction (``ciie_portal.notices``: sent after the commit,
never after a rollback), each once:

- a visitor's notice is keyed by the sign-up and what happened to it
  (``side-event-signup:<sign-up>:<kind>``) — a sign-up reaches each state at most once;
- the contact gets one notice per unit for all the sign-ups one action changed, keyed by the
  unit, the event, the kind and those sign-ups.
"""

import hashlib
from collections import defaultdict

from ciie_portal.names import english_active
from ciie_portal.notices.services import both_channels, notices_send
from ciie_portal.timefmt import local_text

SIGNED_UP, WAITING, MOVED_UP = "signed_up", "waiting", "moved_up"
APPROVED, DECLINED, CANCELLED = "approved", "declined", "cancelled"
KINDS = (SIGNED_UP, WAITING, MOVED_UP, APPROVED, DECLINED, CANCELLED)


def _event_params(event) -> dict:
    return {
        "event": event.display_name,
        "starts": local_text(event.starts_at),
        "venue": event.venue,
    }


def _names(names: list[str]) -> str:
    return (", " if english_active() else "、").join(names)


def signup_notices(kind: str, signups: list) -> list[dict]:
    """The notices (as ``notices_send`` takes them) telling of ``kind`` for ``signups`` (with
    their event, visitor and unit at hand). A sign-up awaiting approval says so."""
    assert kind in KINDS, kind
    notices = []
    by_unit = defaultdict(list)
    for signup in signups:
        visitor, event = signup.visitor, signup.event
        params = {
            **_event_params(event),
            "names": visitor.name,
            "pending": signup.status == "pending",
        }
        notices += both_channels(
            key=f"side-event-signup:{signup.pk}:{kind}",
            event=f"side_event_{kind}",
            template=f"side_event_{kind}",
            params=params,
            mobile=visitor.mobile,
            email=visitor.email,
        )
        by_unit[(signup.unit_id, event.pk)].append(signup)
    for (_unit_id, _event_id), together in by_unit.items():
        unit, event = together[0].unit, together[0].event
        ids = ",".join(str(signup.pk) for signup in sorted(together, key=lambda s: s.pk))
        digest = hashlib.sha256(ids.encode()).hexdigest()[:16]
        notices += both_channels(
            key=f"side-event-unit:{unit.pk}:{event.pk}:{kind}:{digest}",
            event=f"side_event_{kind}",
            template=f"side_event_{kind}",
            params={
                **_event_params(event),
                "names": _names([signup.visitor.name for signup in together]),
                "pending": any(signup.status == "pending" for signup in together),
                "unit": unit.name,
            },
            mobile=unit.contact_mobile,
            email=unit.contact_email,
        )
    return notices


def signup_notices_send(changes: list[tuple[str, list]]) -> None:
    """Queue the notices of every ``(kind, signups)`` of one action in one INSERT."""
    notices = [
        notice for kind, signups in changes if signups for notice in signup_notices(kind, signups)
    ]
    notices_send(notices)
