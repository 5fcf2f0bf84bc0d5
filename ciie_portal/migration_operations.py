"""Index operations for migrations of tables that take writes while they run: CONCURRENTLY on
PostgreSQL (the migration must then set ``atomic = False``), the plain statement elsewhere
(SQLite, ``make run``). Migrations import these by name; keep them stable."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations


class _OnPostgreSQLConcurrently:
    plain: type

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            self.plain.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            self.plain.database_backwards(self, app_label, schema_editor, from_state, to_state)


class AddIndex(_OnPostgreSQLConcurrently, AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL, a plain CREATE INDEX elsewhere."""

    plain = migrations.AddIndex


class RemoveIndex(_OnPostgreSQLConcurrently, RemoveIndexConcurrently):
    """DROP INDEX CONCURRENTLY on PostgreSQL, a plain DROP INDEX elsewhere."""

    plain = migrations.RemoveIndex


def drop_field_indexes(table: str, indexes: dict[str, str]) -> migrations.RunPython:
    """Drop indexes that Django made for fields (``db_index``, ``unique``'s ``_like``), named
    ``{name: "column"}`` or ``{name: "column opclass"}``, and only those: where Django's own
    AlterField would also drop and re-add a foreign key's constraint, validating every row
    under lock. CONCURRENTLY on PostgreSQL (the migration sets ``atomic = False``); an index
    with an operator class exists only there. Reversible: the indexes are made again."""

    def on_postgresql(schema_editor) -> bool:
        return schema_editor.connection.vendor == "postgresql"

    def drop(apps, schema_editor):
        concurrently = "CONCURRENTLY " if on_postgresql(schema_editor) else ""
        for name in indexes:
            schema_editor.execute(f'DROP INDEX {concurrently}IF EXISTS "{name}"')

    def create(apps, schema_editor):
        here = on_postgresql(schema_editor)
        for name, definition in indexes.items():
            column, _space, opclass = definition.partition(" ")
            if opclass and not here:
                continue
            schema_editor.execute(
                f'CREATE INDEX {"CONCURRENTLY " if here else ""}IF NOT EXISTS "{name}" '
                f'ON "{table}" ("{column}"{f" {opclass}" if opclass else ""})'
            )

    return migrations.RunPython(drop, create)
