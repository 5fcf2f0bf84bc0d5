"""The one audit log of the portal. Services call these; nothing else writes AuditEntry."""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.fields.files import FieldFile
from django.utils import timezone

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


# --- Old and new values of a changed record -------------------------------------------------


def audit_value(value):
    """A field's value as the audit log keeps it: JSON, readable (Decimal and dates as text,
    times in Beijing time)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, FieldFile):
        return value.name or None
    if isinstance(value, list | tuple | set | frozenset):
        return [audit_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): audit_value(item) for key, item in value.items()}
    return str(value)


def audit_snapshot(obj, names=None) -> dict:
    """``{field name: value}`` of ``obj``'s stored fields (all but the primary key and the
    automatic timestamps, or only ``names``); a related object by its name."""
    values = {}
    for field in obj._meta.concrete_fields:
        if field.primary_key or getattr(field, "auto_now", False):
            continue
        if getattr(field, "auto_now_add", False) or (names is not None and field.name not in names):
            continue
        if field.is_relation:
            related_id = getattr(obj, field.attname)
            values[field.name] = None if related_id is None else str(getattr(obj, field.name))
        else:
            values[field.name] = audit_value(field.value_from_object(obj))
    return values


def audit_changes(before: dict | None, after: dict | None) -> dict:
    """``{field: [old, new]}`` for every field that differs (an addition: from None; a
    deletion: to None; empty values are left out of both)."""
    if before is None or after is None:
        values = after if before is None else before
        return {
            name: [None, value] if before is None else [value, None]
            for name, value in (values or {}).items()
            if value not in (None, "", [], {})
        }
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }
