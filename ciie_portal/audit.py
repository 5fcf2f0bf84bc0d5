"""The one audit log of the portal. Services call these; nothing else writes AuditEntry."""

from collections.abc import Iterable

from django.contrib.contenttypes.models import ContentType
from django.db import models

from .models import AuditEntry

SYSTEM = "system"


def _actor_fields(actor) -> dict:
    if actor is None or isinstance(actor, str):
        return {"actor": None, "actor_repr": actor or SYSTEM}
    return {"actor": actor if actor.pk else None, "actor_repr": actor.get_username()[:150]}


def _entry(obj, *, actor_fields, action, from_state, to_state, reason, data) -> AuditEntry:
    return AuditEntry(
        **actor_fields,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=True),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action=action,
        from_state=from_state or "",
        to_state=to_state or "",
        reason=reason or "",
        data=data or {},
    )


def audit_record(
    *,
    actor,
    obj: models.Model,
    action: str,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    data: dict | None = None,
) -> AuditEntry:
    """Record one action on ``obj``. ``actor`` is a user, a label such as "system", or None."""
    entry = _entry(
        obj,
        actor_fields=_actor_fields(actor),
        action=action,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        data=data,
    )
    entry.save()
    return entry


def audit_record_bulk(
    *,
    actor,
    objects: Iterable[models.Model],
    action: str,
    from_state: str | dict = "",
    to_state: str = "",
    reason: str = "",
    data: dict | None = None,
) -> int:
    """Record the same action on many objects in one INSERT.

    ``from_state`` may be a mapping of pk → state when the objects came from different states.
    """
    actor_fields = _actor_fields(actor)
    entries = [
        _entry(
            obj,
            actor_fields=actor_fields,
            action=action,
            from_state=from_state.get(obj.pk, "") if isinstance(from_state, dict) else from_state,
            to_state=to_state,
            reason=reason,
            data=data,
        )
        for obj in objects
    ]
    AuditEntry.objects.bulk_create(entries, batch_size=1000)
    return len(entries)


def audit_trail(obj: models.Model):
    """Every entry about ``obj``, newest first."""
    return AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=True),
        object_id=str(obj.pk),
    ).select_related("actor")
