"""Insert rows that may exist already, in one statement and without a savepoint.

``get_or_create`` in a savepoint costs four statements per row (SAVEPOINT, SELECT, INSERT,
RELEASE) and one more round of them per row of a batch. ``insert_new`` sends one
``INSERT … ON CONFLICT DO NOTHING RETURNING`` for all rows: the database skips a row whose unique
key is taken — waiting, as for any INSERT, while another transaction holds an uncommitted row
with that key, then skipping it if that transaction commits — and returns only the rows it
wrote. No error is raised, so the surrounding transaction goes on without a savepoint.
"""

from collections.abc import Sequence

from django.db import models
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
