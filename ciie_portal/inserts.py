"""Insert rows that may exist already, in one statement and without a savepoint.

``get_or_create`` in a savepoint costs four statements per row (SAVEPOINT, SELECT, INSERT,
RELEASE) and one more round of them per row of a batch. ``insert_new`` sends one
``INSERT … ON CONFLICT DO NOTHING RETURNING`` for all rows: the database skips a row whose unique
key is taken — waiting, as for any INSERT, while another transaction holds an uncommitted row
with that key, then skipping it if that transaction commits — and returns only the rows it
wrote. No error is raised, so the surrounding transaction goes on without a savepoint.
"""

from collections.abc import Sequence

from django.db import connections, models, router
from django.db.models.constants import OnConflict


def insert_new(objs: Sequence[models.Model], *, key: Sequence[str]) -> list[models.Model]:
    """INSERT ``objs`` (all of one model, without a primary key yet), skipping those whose
    unique ``key`` fields are taken. Returns the objects that were inserted, their primary key
    set; the others are left unsaved."""
    if not objs:
        return []
    model = type(objs[0])
    opts = model._meta
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="insert_new")
    inserted = _written_once(objs, key=key)
    if inserted is not None:
        return inserted
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


# (model, database, key) → (fields, the SQL before the rows, one row, the SQL after them).
_STATEMENTS: dict = {}


def _written_once(objs, *, key) -> list | None:
    """The INSERT of ``insert_new`` (``key`` given) or of ``insert_all`` (None), its SQL
    written once per process: the values prepared per field as the ORM's INSERT prepares them
    (``pre_save``, ``get_db_prep_save``). None where the ORM must write it: not PostgreSQL, or
    a value that is an expression (or a database default)."""
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        return None
    cache_key = (model, connection.alias, tuple(key) if key is not None else None)
    if cache_key not in _STATEMENTS:
        opts = model._meta
        quote = connection.ops.quote_name
        fields = [
            field
            for field in opts.concrete_fields
            if not field.generated and not isinstance(field, models.AutoField)
        ]
        key_columns = [quote(opts.get_field(name).column) for name in key or ()]
        conflict = f" ON CONFLICT ({', '.join(key_columns)}) DO NOTHING" if key else ""
        _STATEMENTS[cache_key] = (
            fields,
            f"INSERT INTO {quote(opts.db_table)} "
            f"({', '.join(quote(field.column) for field in fields)}) VALUES ",
            f"({', '.join(['%s'] * len(fields))})",
            f"{conflict} RETURNING {', '.join([quote(opts.pk.column), *key_columns])}",
        )
    fields, head, row, tail = _STATEMENTS[cache_key]
    params = []
    for obj in objs:
        for field in fields:
            value = field.pre_save(obj, True)
            if hasattr(value, "resolve_expression"):
                return None
            params.append(field.get_db_prep_save(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(head + ", ".join([row] * len(objs)) + tail, params)
        returned = cursor.fetchall()
    if key is None:
        pairs = zip(objs, (pk for pk, *_key in returned), strict=True)
    else:
        key_fields = [model._meta.get_field(name) for name in key]
        pks = {tuple(values): pk for pk, *values in returned}
        pairs = (
            (obj, pks.get(tuple(getattr(obj, field.attname) for field in key_fields)))
            for obj in objs
        )
    inserted = []
    for obj, pk in pairs:
        if pk is not None:
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = connection.alias
            inserted.append(obj)
    return inserted
