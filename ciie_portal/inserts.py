"""Insert rows that may exist already, in one statement and without a savepoint.

``get_or_create`` in a savepoint costs four statements per row (SAVEPOINT, SELECT, INSERT,
RELEASE) and one more round of them per row of a batch. ``insert_new`` sends one
``INSERT … ON CONFLICT DO NOTHING RETURNING`` for all rows: the database skips a row whose unique
key is taken — waiting, as for any INSERT, while another transaction holds an uncommitted row
with that key, then skipping it if that transaction commits — and returns only the rows it
wrote. No error is raised, so the surrounding transaction goes on without a savepoint.
"""

import json
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

from django.db import connections, models, router
from django.db.models.constants import OnConflict
from django.utils.duration import duration_iso_string
from django.utils.functional import Promise


def insert_new(
    objs: Sequence[models.Model], *, key: Sequence[str], database: dict[str, str] | None = None
) -> list[models.Model]:
    """INSERT ``objs`` (all of one model, without a primary key yet), skipping those whose
    unique ``key`` fields are taken. Returns the objects that were inserted, their primary key
    set; the others are left unsaved.

    ``database`` (PostgreSQL only) maps attribute names to SQL expressions the database fills
    those columns with in the same statement (a subquery, say); the objects inserted get the
    values written."""
    if not objs:
        return []
    model = type(objs[0])
    opts = model._meta
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="insert_new")
    inserted = _written_once(objs, key=key, database=database)
    if inserted is not None:
        return inserted
    if database:
        raise ValueError("Values written by the database in SQL are PostgreSQL's only.")
    fields = [
        field
        for field in opts.concrete_fields
        if not field.generated and not isinstance(field, models.AutoField)
    ]
    key_fields = [opts.get_field(name) for name in key]
    rows = model._default_manager._insert(
        objs,
        fields=fields,
        returning_fields=[opts.pk, *key_fields],
        on_conflict=OnConflict.IGNORE,
    )
    # A single row skipped comes back as None (the driver's fetchone() of no row).
    pks = {tuple(row[1:]): row[0] for row in rows if row is not None}
    inserted = []
    for obj in objs:
        pk = pks.get(tuple(getattr(obj, field.attname) for field in key_fields))
        if pk is not None:
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = model._default_manager.db
            inserted.append(obj)
    return inserted


def insert_all(objs: Sequence[models.Model]) -> list[models.Model]:
    """``bulk_create(objs)`` (all of one model, without a primary key yet) in SQL written once
    per process on PostgreSQL; returns ``objs``, their primary keys set."""
    if not objs:
        return []
    inserted = _written_once(objs, key=None)
    if inserted is None:
        return type(objs[0])._default_manager.bulk_create(objs)
    return inserted


# (model, database, columns, key, database values, returning) → SQL.
_STATEMENTS: dict = {}


def insert_document(
    model,
    rows: list[dict],
    *,
    fields: Sequence[models.Field],
    key: Sequence[str] | None = None,
    database: dict[str, str] | None = None,
    returning: bool = True,
) -> list[tuple]:
    """PostgreSQL: one INSERT of ``rows`` (dicts of column → value prepared for the database,
    ``get_prep_value``) into ``fields``' columns. The rows travel as one JSON document that the
    database unpacks (``json_to_recordset``): the statement has one parameter whatever the
    number of rows, so the driver parses it once (a statement with a placeholder per value is
    parsed anew for each number of rows: a tenth of a second for a few thousand values) and the
    database plans it once. ``key`` skips the rows whose unique key is taken (ON CONFLICT DO
    NOTHING); ``database`` maps attribute names to SQL expressions the database fills in.
    Returns, when ``returning``, each row written as (primary key, *key, *database values), in
    the order given (``WITH ORDINALITY … ORDER BY``)."""
    connection = connections[router.db_for_write(model)]
    database = database or {}
    cache_key = (
        model,
        connection.alias,
        tuple(fields),
        tuple(key or ()),
        tuple(database.items()),
        returning,
    )
    if cache_key not in _STATEMENTS:
        opts = model._meta
        quote = connection.ops.quote_name
        columns = [quote(field.column) for field in fields]
        given = [quote(opts.get_field(name).column) for name in database]
        types = ", ".join(
            f"{column} {field.db_type(connection)}"
            for column, field in zip(columns, fields, strict=True)
        )
        key_columns = [quote(opts.get_field(name).column) for name in key or ()]
        conflict = f" ON CONFLICT ({', '.join(key_columns)}) DO NOTHING" if key else ""
        back = [quote(opts.pk.column), *key_columns, *given]
        _STATEMENTS[cache_key] = (
            f"INSERT INTO {quote(opts.db_table)} ({', '.join([*columns, *given])}) "
            f"SELECT {', '.join([*(f'row.{column}' for column in columns), *database.values()])} "
            f"FROM ROWS FROM (json_to_recordset(%s::json) AS ({types})) "
            f"WITH ORDINALITY AS row ({', '.join(columns)}, ordinality)"
            + (" ORDER BY row.ordinality" if returning else "")
            + conflict
            + (f" RETURNING {', '.join(back)}" if returning else "")
        )
    document = json.dumps(rows, default=_json_value, ensure_ascii=False)
    with connection.cursor() as cursor:
        cursor.execute(_STATEMENTS[cache_key], [document])
        return cursor.fetchall() if returning else []


def _json_value(value):
    """A prepared value the JSON encoder does not know, as text PostgreSQL reads back."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()  # every microsecond, and the offset
    if isinstance(value, timedelta):
        return duration_iso_string(value)
    if isinstance(value, Decimal | UUID | Promise):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


# (model, attribute names the database fills) → the fields the rows give.
_FIELDS: dict = {}


def _written_once(objs, *, key, database=None) -> list | None:
    """The INSERT of ``insert_new`` (``key`` given) or of ``insert_all`` (None) on PostgreSQL
    (``insert_document``): the values prepared per field as the ORM prepares them
    (``pre_save``, ``get_prep_value``). ``database`` maps attribute names to SQL expressions
    the database fills them with; their values are set on the objects written. None where the
    ORM must write it: not PostgreSQL, or a value that is an expression (or a database
    default)."""
    model = type(objs[0])
    if connections[router.db_for_write(model)].vendor != "postgresql":
        return None
    database = database or {}
    fields_key = (model, tuple(database))
    if fields_key not in _FIELDS:
        _FIELDS[fields_key] = [
            field
            for field in model._meta.concrete_fields
            if not field.generated
            and not isinstance(field, models.AutoField)
            and field.attname not in database
        ]
    fields = _FIELDS[fields_key]
    rows = []
    for obj in objs:
        row = {}
        for field in fields:
            value = field.pre_save(obj, True)
            if hasattr(value, "resolve_expression"):
                return None
            row[field.column] = field.get_prep_value(value)
        rows.append(row)
    returned = insert_document(model, rows, fields=fields, key=key, database=database)
    width = len(key or ())
    if key is None:
        pairs = zip(objs, returned, strict=True)
    else:
        key_fields = [model._meta.get_field(name) for name in key]
        by_key = {tuple(row[1 : 1 + width]): row for row in returned}
        pairs = (
            (obj, by_key.get(tuple(getattr(obj, field.attname) for field in key_fields)))
            for obj in objs
        )
    inserted = []
    for obj, row in pairs:
        if row is not None:
            obj.pk = row[0]
            for name, value in zip(database, row[1 + width :], strict=True):
                setattr(obj, name, value)
            obj._state.adding = False
            obj._state.db = model._default_manager.db
            inserted.append(obj)
    return inserted
