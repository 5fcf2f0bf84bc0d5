"""The exhibitor's signed link to its meetings (no account): ``/accounts/exhibitor-meetings/
<token>/`` lists the meetings units asked it for, to confirm or decline them and mark them held.

The token is signed with the site's secret (``django.core.signing``, salted for this use only)
and names the exhibitor, its edition and — by a digest — its contact's email: a new contact in
the organiser's spreadsheet makes the links sent to the old one stop working. It expires
``GRACE_DAYS`` after the edition's last day (read when the link is used, so a change of the
expo's dates moves it), leaving the last day's meetings time to be marked held.
"""

import hashlib
from datetime import datetime, timedelta

from django.core import signing
from django.urls import reverse
from django.utils import timezone

from .models import Exhibitor

SALT = "registration.exhibitors.meeting-link"
#: Days after the edition's last day the link still works.
GRACE_DAYS = 7


def _contact_digest(exhibitor: Exhibitor) -> str:
    return hashlib.sha256((exhibitor.contact_email or "").strip().lower().encode()).hexdigest()[:10]


def exhibitor_token(exhibitor: Exhibitor) -> str:
    return signing.dumps(
        {"x": exhibitor.pk, "e": exhibitor.edition_id, "c": _contact_digest(exhibitor)},
        salt=SALT,
    )


def exhibitor_path(exhibitor: Exhibitor) -> str:
    """The link's path (``link_base`` + this is what the exhibitor's email carries)."""
    return reverse("registration:exhibitor_meetings", args=[exhibitor_token(exhibitor)])


def link_expires(edition) -> datetime:
    """The moment the edition's links stop working: the end of ``GRACE_DAYS`` after its last
    day, Beijing time."""
    last = edition.ends_on + timedelta(days=GRACE_DAYS + 1)
    return timezone.make_aware(datetime(last.year, last.month, last.day))


def exhibitor_of_token(token: str, *, at: datetime | None = None) -> Exhibitor | None:
    """The listed exhibitor a good, unexpired token names, with its edition; None otherwise
    (whatever is wrong: the page says nothing more than "not found")."""
    try:
        payload = signing.loads(token, salt=SALT)
        pk, edition_id, digest = int(payload["x"]), int(payload["e"]), str(payload["c"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    exhibitor = (
        Exhibitor.objects.select_related("edition")
        .filter(pk=pk, edition_id=edition_id, is_listed=True)
        .first()
    )
    if exhibitor is None or digest != _contact_digest(exhibitor):
        return None
    if (at or timezone.now()) >= link_expires(exhibitor.edition):
        return None
    return exhibitor
