"""What PostgreSQL's catalogue says of a table: its indexes and foreign keys."""

from django.db import connection


def indexes(table: str) -> dict[str, str]:
    """Index name → its definition (``CREATE INDEX … USING btree (…)``)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return dict(cursor.fetchall())


def foreign_keys(table: str) -> str:
    """The definitions of the table's foreign-key constraints, in one text."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        return " ".join(row[0] for row in cursor.fetchall())
