"""The notices' part of shredding an edition's personal data (``ciie_portal.retention``): each
notice queued while the edition was current keeps what happened (event, template, channel, when,
whether it went) and loses to whom it went and what it said (recipient, parameters, errors)."""

from django.db.models import Case, F, Q, Value, When
from django.utils.translation import gettext_lazy as _

from ..models import Notice
from ..records import REDACTED
from ..retention import Shredder, register_shredder, rows


def _notices(edition):
    return Notice.objects.filter(edition=edition).filter(~Q(recipient=REDACTED) | ~Q(params={}))


def _export(edition, archive):
    archive.write_json(
        "notices.json",
        rows(
            Notice.objects.filter(edition=edition).order_by("pk"),
            ["pk", "event", "channel", "recipient", "template", "params", "status", "sent_at"],
        ),
    )


def _shred(edition, limit: int) -> int:
    ids = list(_notices(edition).order_by("pk").values_list("pk", flat=True)[:limit])
    # One still waiting is not sent any more: it has nobody to go to.
    unsent = [Notice.Status.QUEUED, Notice.Status.SENDING]
    Notice.objects.filter(pk__in=ids).update(
        recipient=REDACTED,
        params={},
        last_error="",
        status=Case(When(status__in=unsent, then=Value(Notice.Status.FAILED)), default=F("status")),
    )
    return len(ids)


def register() -> None:
    register_shredder(
        Shredder(
            name="ciie_portal.notices",
            label=_("Notices: recipients' mobiles and emails, and what was sent"),
            preview=lambda edition: _notices(edition).count(),
            export=_export,
            shred=_shred,
        )
    )
