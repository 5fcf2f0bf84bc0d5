"""安检暂停 (security holds): placing and lifting them.

A hold stops one visitor (of one edition) at the gate ("请至安检服务台") and keeps production
from making their card (``credentials.production.selectors.producible``), without revoking
anything: once security has spoken to them the hold is lifted and everything goes on as before.
At most one hold of a visitor is open (the partial unique constraint
``one_open_hold_per_visitor``); every placing and lifting is audited. The gate reads the open
holds from the database.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record
from registration.models import Visitor

from .models import SecurityHold

__all__ = ["hold_place", "hold_place_many", "hold_release"]

REASON_MAX = SecurityHold._meta.get_field("reason").max_length


def _reason(reason: str) -> str:
    text = " ".join((reason or "").split())
    if not text:
        raise ValidationError(_("Give the reason."))
    if len(text) > REASON_MAX:
        raise ValidationError(
            _("The reason is too long (at most %(max)d characters).") % {"max": REASON_MAX}
        )
    return text


def _already_held(visitor: Visitor) -> ValidationError:
    return ValidationError(
        _("%(name)s is already on security hold: lift that hold first.") % {"name": visitor.name}
    )


def hold_place(*, visitor: Visitor, reason: str, actor) -> SecurityHold:
    """Put ``visitor`` on security hold (in the visitor's edition). Refused while a hold of
    theirs is open."""
    reason = _reason(reason)
    with transaction.atomic():
        # The visitor's row is the lock: two reviewers holding the same person queue here.
        locked = Visitor.objects.select_for_update().get(pk=visitor.pk)
        if SecurityHold.objects.filter(visitor=locked, released_at__isnull=True).exists():
            raise _already_held(locked)
        try:
            with transaction.atomic():
                hold = SecurityHold.objects.create(
                    edition_id=locked.edition_id, visitor=locked, reason=reason, placed_by=actor
                )
        except IntegrityError:  # the constraint decided a race the lock did not see
            raise _already_held(locked) from None
        audit_record(
            actor=actor,
            obj=hold,
            action="security_hold.place",
            to_state="open",
            reason=reason,
            data={"visitor": locked.pk, "edition": locked.edition_id},
        )
    return hold


def hold_place_many(*, visitors, reason: str, actor) -> tuple[list[SecurityHold], list[str]]:
    """Put each of ``visitors`` on hold; those already held are left as they are.

    Returns the new holds and the names of the visitors that were already held."""
    reason = _reason(reason)
    placed, refused = [], []
    with transaction.atomic():
        for visitor in visitors:
            try:
                placed.append(hold_place(visitor=visitor, reason=reason, actor=actor))
            except ValidationError:
                refused.append(visitor.name)
    return placed, refused


def hold_release(*, hold: SecurityHold, reason: str, actor) -> SecurityHold:
    """Lift ``hold``: the visitor passes the gate again and may be produced. Refused when it
    was lifted already."""
    reason = _reason(reason)
    with transaction.atomic():
        locked = SecurityHold.objects.select_for_update().select_related("visitor").get(pk=hold.pk)
        if locked.released_at is not None:
            raise ValidationError(
                _("The hold on %(name)s was already lifted.") % {"name": locked.visitor.name}
            )
        locked.released_at = timezone.now()
        locked.released_by = actor
        locked.release_reason = reason
        locked.save(update_fields=["released_at", "released_by", "release_reason"])
        audit_record(
            actor=actor,
            obj=locked,
            action="security_hold.release",
            from_state="open",
            to_state="lifted",
            reason=reason,
            data={"visitor": locked.visitor_id, "edition": locked.edition_id},
        )
    return locked
