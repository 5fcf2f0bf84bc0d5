"""Records that are never edited once made, nor deleted: the money (payments, refunds, bank
statement entries, credential orders and their lines), invoices and their lines, credentials and
print batches, and the audit log.

A guarded model declares the fields its life may still change (``mutable_fields``, e.g. the
status a state machine moves); everything else is frozen once the row exists. Its queryset
refuses ``update()`` of any other field and ``delete()`` altogether; the model refuses
``save()`` of an existing row unless ``update_fields`` names only mutable fields, and refuses
``delete()``. A queryset and its model may allow different fields: an invoice's state machine
updates its lifecycle fields through the queryset, while an invoice instance is never saved
again at all.

    class PrintBatchQuerySet(GuardedQuerySet):
        mutable_fields = frozenset({"status", "printed_at", "cancelled_at"})

    class PrintBatch(GuardedModel):
        mutable_fields = PrintBatchQuerySet.mutable_fields
        objects = PrintBatchQuerySet.as_manager()

On PostgreSQL the database refuses too, whoever writes (raw SQL, a script, another program): a
row trigger refuses every DELETE, and every UPDATE that changes a column outside the table's
allowed list. A column marked "once" may be filled in when empty (NULL) but never changed after
that (an invoice's number, an order's paid time). Append-only tables (the audit log, invoice
lines) refuse every UPDATE. TRUNCATE is not refused (row triggers do not fire on it): the test
runner empties tables that way. Migrations add the triggers with ``guard_table`` and
``append_only_table``; ``guard_functions`` (ciie_portal's migration 0006) defines the functions.
"""

import re

from django.core.exceptions import FieldDoesNotExist
from django.db import migrations, models


class ImmutableRecord(Exception):
    """A field of a record that never changes once made was about to be written, or the
    record deleted."""


def _field_names(model, names) -> set[str]:
    """Field names for ``names``, which may be attribute names (``issued_by_id``)."""
    result = set()
    for name in names:
        try:
            result.add(model._meta.get_field(name).name)
        except FieldDoesNotExist:
            result.add(name)
    return result


class GuardedQuerySet(models.QuerySet):
    """UPDATE only the fields a record's life may change; no DELETE at all."""

    mutable_fields: frozenset[str] = frozenset()

    def update(self, **kwargs):
        frozen = _field_names(self.model, kwargs) - self.mutable_fields
        if frozen:
            raise ImmutableRecord(
                f"{self.model.__name__}: {', '.join(sorted(frozen))} never change once made."
            )
        return super().update(**kwargs)

    def delete(self):
        raise ImmutableRecord(f"{self.model.__name__} records are never deleted.")

    delete.queryset_only = True


class GuardedModel(models.Model):
    """Insert once; then save only ``update_fields`` within ``mutable_fields``; never delete."""

    mutable_fields: frozenset[str] = frozenset()

    class Meta:
        abstract = True

    def save(self, *args, update_fields=None, **kwargs):
        if not self._state.adding:
            names = _field_names(type(self), update_fields) if update_fields else {"(all fields)"}
            frozen = names - self.mutable_fields
            if frozen:
                raise ImmutableRecord(
                    f"{type(self).__name__}: {', '.join(sorted(frozen))} never change once made."
                )
        super().save(*args, update_fields=update_fields, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecord(f"{type(self).__name__} records are never deleted.")


# --- The same rule in the database (PostgreSQL) ----------------------------------------------

GUARD_FUNCTION = "ciie_guard_record"
APPEND_ONLY_FUNCTION = "ciie_append_only_record"
ONCE = "once:"

_FUNCTIONS_SQL = f"""
CREATE OR REPLACE FUNCTION {GUARD_FUNCTION}() RETURNS trigger
LANGUAGE plpgsql AS $guard$
-- The trigger's arguments name the columns an UPDATE may change; "once:<column>" may be filled
-- in while it is NULL and never changed after. Every other column is frozen; DELETE is refused.
DECLARE
    frozen text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION '%: rows are never deleted', TG_TABLE_NAME
            USING HINT = 'Financial records and the audit log are kept as they were made.';
    END IF;
    SELECT string_agg(new_column.key, ', ' ORDER BY new_column.key) INTO frozen
    FROM jsonb_each(to_jsonb(NEW)) AS new_column
    JOIN jsonb_each(to_jsonb(OLD)) AS old_column ON old_column.key = new_column.key
    WHERE new_column.value IS DISTINCT FROM old_column.value
      AND NOT COALESCE(new_column.key = ANY (TG_ARGV), false)
      AND NOT (
          old_column.value = 'null'::jsonb
          AND COALESCE('{ONCE}' || new_column.key = ANY (TG_ARGV), false)
      );
    IF frozen IS NOT NULL THEN
        RAISE EXCEPTION '%: % % immutable', TG_TABLE_NAME, frozen,
            CASE WHEN strpos(frozen, ',') > 0 THEN 'are' ELSE 'is' END
            USING HINT = 'Only the state of this record changes once it is made.';
    END IF;
    RETURN NEW;
END
$guard$;

CREATE OR REPLACE FUNCTION {APPEND_ONLY_FUNCTION}() RETURNS trigger
LANGUAGE plpgsql AS $append$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION '%: rows are never deleted', TG_TABLE_NAME
            USING HINT = 'Financial records and the audit log are kept as they were made.';
    END IF;
    RAISE EXCEPTION '%: rows are never changed', TG_TABLE_NAME
        USING HINT = 'This table is written once, row by row, and only read after.';
END
$append$;
"""

REDACT_FUNCTION = "ciie_redactable_record"
REDACTED = "—"

_REDACT_SQL = f"""
CREATE OR REPLACE FUNCTION {REDACT_FUNCTION}() RETURNS trigger
LANGUAGE plpgsql AS $redact$
-- Append-only, but for one change: redaction when an edition's personal data is shredded.
-- object_repr becomes '{REDACTED}', reason '', data an object holding "redacted"; nothing else.
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION '%: rows are never deleted', TG_TABLE_NAME
            USING HINT = 'Financial records and the audit log are kept as they were made.';
    END IF;
    IF NEW.object_repr = '{REDACTED}' AND NEW.reason = '' AND NEW.data ? 'redacted'
       AND (to_jsonb(NEW) - ARRAY['object_repr', 'reason', 'data'])
         = (to_jsonb(OLD) - ARRAY['object_repr', 'reason', 'data']) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '%: rows are never changed', TG_TABLE_NAME
        USING HINT = 'Only a redaction (ciie_portal.retention) may rewrite an audit entry.';
END
$redact$;
"""

_DROP_FUNCTIONS_SQL = f"""
DROP FUNCTION IF EXISTS {GUARD_FUNCTION}();
DROP FUNCTION IF EXISTS {APPEND_ONLY_FUNCTION}();
"""

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def _run_on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # No parameters: the SQL's own % signs are not placeholders.
            schema_editor.execute(sql, params=None)

    return run


def _trigger_name(table: str) -> str:
    return f"{table}_guard"


def _trigger_sql(table: str, function: str, arguments: list[str]) -> str:
    for name in [table, *(a.removeprefix(ONCE) for a in arguments)]:
        if not _IDENTIFIER.match(name):
            raise ValueError(f"Not a plain column or table name: {name!r}")
    quoted = ", ".join(f"'{argument}'" for argument in arguments)
    name = _trigger_name(table)
    return (
        f'DROP TRIGGER IF EXISTS "{name}" ON "{table}";\n'
        f'CREATE TRIGGER "{name}" BEFORE UPDATE OR DELETE ON "{table}"\n'
        f"FOR EACH ROW EXECUTE FUNCTION {function}({quoted});"
    )


def guard_functions() -> migrations.RunPython:
    """The trigger functions (PostgreSQL only; nothing on other databases)."""
    return migrations.RunPython(
        _run_on_postgresql(_FUNCTIONS_SQL), _run_on_postgresql(_DROP_FUNCTIONS_SQL)
    )


def guard_table(table: str, *, mutable: list[str], once: list[str] = ()) -> migrations.RunPython:
    """A migration operation: on PostgreSQL, ``table`` refuses DELETE and any UPDATE of a
    column other than ``mutable`` (any change) and ``once`` (only from NULL). Column names as
    in the database (``decided_by_id``)."""
    arguments = [*mutable, *(f"{ONCE}{column}" for column in once)]
    if not arguments:
        raise ValueError("A guarded table names at least one column; else use append_only_table.")
    return migrations.RunPython(
        _run_on_postgresql(_trigger_sql(table, GUARD_FUNCTION, arguments)),
        _run_on_postgresql(f'DROP TRIGGER IF EXISTS "{_trigger_name(table)}" ON "{table}";'),
    )


def append_only_table(table: str) -> migrations.RunPython:
    """A migration operation: on PostgreSQL, ``table`` refuses every UPDATE and DELETE."""
    return migrations.RunPython(
        _run_on_postgresql(_trigger_sql(table, APPEND_ONLY_FUNCTION, [])),
        _run_on_postgresql(f'DROP TRIGGER IF EXISTS "{_trigger_name(table)}" ON "{table}";'),
    )


def redactable_table(table: str) -> migrations.RunPython:
    """A migration operation: on PostgreSQL, ``table`` refuses DELETE and every UPDATE but a
    redaction (``object_repr``, ``reason`` and ``data`` replaced by the redaction markers)."""
    return migrations.RunPython(
        _run_on_postgresql(_REDACT_SQL + "\n" + _trigger_sql(table, REDACT_FUNCTION, [])),
        _run_on_postgresql(_trigger_sql(table, APPEND_ONLY_FUNCTION, [])),
    )
