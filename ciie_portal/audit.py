"""The one audit log of the portal. Services call these; nothing else writes AuditEntry."""

import functools
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import connections, models, router
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from .inserts import insert_document
from .models import AuditEntry

SYSTEM = "system"

# The rows of the innermost ``audit_together`` block, written when it ends.
_together: ContextVar[list | None] = ContextVar("audit_together", default=None)


@contextmanager
def audit_together():
    """Every entry recorded inside the block is written in one INSERT when it ends (without an
    error); an entry recorded inside has no primary key until then.

    For a service that records several entries in one transaction (a payment confirmed, its
    order paid, its visitors moved): use it inside that transaction's ``atomic()``, around code
    that neither catches a database error nor rolls back a savepoint of its own and goes on —
    an entry recorded before such a rollback would still be written. A nested block joins the
    outer one.
    """
    if _together.get() is not None:
        yield
        return
    rows: list[dict] = []
    token = _together.set(rows)
    try:
        yield
    finally:
        _together.reset(token)
    _insert(rows)


def _write(rows: list[dict]) -> None:
    waiting = _together.get()
    if waiting is not None:
        waiting.extend(rows)
    else:
        _insert(rows)


# The columns of an entry as ``_row`` fills them (attribute names), in INSERT order.
_COLUMNS = (
    "created_at",
    "actor_id",
    "actor_repr",
    "content_type_id",
    "object_id",
    "object_repr",
    "action",
    "from_state",
    "to_state",
    "reason",
    "data",
)


def _insert(rows: list[dict]) -> None:
    """One INSERT for all ``rows``, sent as one JSON document on PostgreSQL
    (``insert_document``): for 10,000 entries that is a fraction of the time Django takes to
    turn 110,000 values into parameters one by one."""
    if not rows:
        return
    if connections[router.db_for_write(AuditEntry)].vendor != "postgresql":
        # Raw: each entry keeps the time it was given (``bulk_create`` would stamp every one
        # anew, its ``created_at`` being ``auto_now_add``).
        entries = [AuditEntry(**row) for row in rows]
        for start in range(0, len(entries), _BATCH):
            AuditEntry._base_manager._insert(
                entries[start : start + _BATCH], fields=list(_fields()), raw=True
            )
        return
    # The values are plain (text, numbers, times, the details' JSON) and go as they are, each
    # row keyed by its columns' names (which are the attribute names: ``_fields``).
    insert_document(AuditEntry, rows, fields=_fields(), returning=False)


# Entries per INSERT elsewhere than on PostgreSQL (SQLite: 11 parameters each).
_BATCH = 500


@functools.cache
def _fields() -> tuple:
    """The fields of ``_COLUMNS``, in their order; each column is named as its attribute."""
    by_attname = {field.attname: field for field in AuditEntry._meta.concrete_fields}
    fields = tuple(by_attname[name] for name in _COLUMNS)
    assert all(field.column == field.attname for field in fields), "rows are keyed by column"
    return fields


def _actor_fields(actor) -> dict:
    if actor is None or isinstance(actor, str):
        return {"actor_id": None, "actor_repr": actor or SYSTEM}
    return {"actor_id": actor.pk or None, "actor_repr": actor.get_username()[:150]}


def _row(
    obj, *, content_type_id, actor_fields, action, from_state, to_state, reason, data, at=None
):
    return {
        "created_at": at or timezone.now(),
        **actor_fields,
        "content_type_id": content_type_id,
        "object_id": str(obj.pk),
        "object_repr": str(obj)[:200],
        "action": action,
        "from_state": from_state or "",
        "to_state": to_state or "",
        "reason": reason or "",
        "data": data or {},
    }


def _content_type_id(obj) -> int:
    return ContentType.objects.get_for_model(obj, for_concrete_model=True).pk


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
    row = _row(
        obj,
        content_type_id=_content_type_id(obj),
        actor_fields=_actor_fields(actor),
        action=action,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        data=data,
    )
    entry = AuditEntry(**row)
    if _together.get() is not None:
        _write([row])
    else:
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
    content_types: dict[type, int] = {}
    at = timezone.now()  # one action, one moment: the same time on every entry
    rows = []
    for obj in objects:
        kind = type(obj)
        if kind not in content_types:
            content_types[kind] = _content_type_id(obj)
        rows.append(
            _row(
                obj,
                content_type_id=content_types[kind],
                actor_fields=actor_fields,
                action=action,
                from_state=from_state.get(obj.pk, "")
                if isinstance(from_state, dict)
                else from_state,
                to_state=to_state,
                reason=reason,
                data=data,
                at=at,
            )
        )
    _write(rows)
    return len(rows)


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
