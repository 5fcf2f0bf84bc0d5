"""State machines: each status field has an explicit map of allowed moves.

A move is a conditional UPDATE (``WHERE pk = … AND status = <old>``), so two requests racing on
the same row cannot both succeed, and every move is written to the audit log.
"""

from collections.abc import Iterable, Mapping

from django.core.exceptions import EmptyResultSet
from django.db import connections, models, transaction
from django.db.models.base import ModelState
from django.utils.translation import gettext as _

from .audit import audit_record, audit_record_bulk
from .records import GuardedQuerySet, ImmutableRecord, _field_names


class TransitionError(Exception):
    """A state change that cannot happen; ``str(error)`` is meant for people."""


class IllegalTransition(TransitionError):
    pass


class StaleState(TransitionError):
    """The row was not in the state we read: another request changed it first."""


class StateMachine:
    def __init__(
        self,
        *,
        name: str,
        choices: type[models.TextChoices],
        moves: Mapping[str, Iterable[str]],
        field: str = "status",
    ):
        self.name = name
        self.choices = choices
        self.field = field
        self.moves = {source: frozenset(targets) for source, targets in moves.items()}
        unknown = (set(self.moves) | {t for ts in self.moves.values() for t in ts}) - set(
            choices.values
        )
        if unknown:
            raise ValueError(f"{name}: unknown states in the map: {sorted(unknown)}")

    def label(self, state: str) -> str:
        try:
            return str(self.choices(state).label)
        except ValueError:
            return state

    def can(self, source: str, target: str) -> bool:
        return target in self.moves.get(source, ())

    def sources_of(self, target: str) -> list[str]:
        return [source for source, targets in self.moves.items() if target in targets]

    def check(self, source: str, target: str) -> None:
        if not self.can(source, target):
            raise IllegalTransition(
                _("Cannot change from “%(source)s” to “%(target)s”.")
                % {"source": self.label(source), "target": self.label(target)}
            )

    def _apply(self, obj, target: str, also_set: dict) -> None:
        """Mirror on the Python object what the UPDATE wrote."""
        setattr(obj, self.field, target)
        for name, value in also_set.items():
            setattr(obj, name, value)

    def move(
        self,
        obj: models.Model,
        target: str,
        *,
        actor,
        reason: str = "",
        data: dict | None = None,
        **also_set,
    ) -> None:
        """Move one object to ``target``; also writes ``also_set`` fields in the same UPDATE."""
        source = getattr(obj, self.field)
        self.check(source, target)
        model = type(obj)
        # No savepoint: inside a transaction the caller's transaction already makes the UPDATE
        # and its audit row one unit (an error inside marks it for rollback); outside one, this
        # block is the transaction.
        with transaction.atomic(savepoint=False):
            updated = self._update_one(model, obj.pk, source, target, also_set)
            if updated:
                self._apply(obj, target, also_set)
                audit_record(
                    actor=actor,
                    obj=obj,
                    action=f"{self.name}.{target}",
                    from_state=source,
                    to_state=target,
                    reason=reason,
                    data=data,
                )
        if not updated:
            # Raised outside the block: nothing was written, the caller's transaction goes on.
            raise StaleState(
                _("This record was changed by someone else meanwhile; reload and try again.")
            )

    def _update_one(self, model, pk, source: str, target: str, also_set: dict) -> int:
        """``UPDATE … SET <field> = <target>, <also_set> WHERE pk = … AND <field> = <source>``;
        returns the rows changed. On PostgreSQL with plain values, the statement is written once
        per model and set of fields (the model queryset's guard of frozen fields asked as its
        ``update`` would), else by the ORM."""
        manager = model._default_manager
        connection = connections[manager.db]
        if (
            connection.vendor != "postgresql"
            or type(manager.get_queryset()).update not in _PLAIN_UPDATES
            or any(
                hasattr(value, "resolve_expression") or isinstance(value, models.Model)
                for value in also_set.values()
            )
        ):
            return manager.filter(pk=pk, **{self.field: source}).update(
                **{self.field: target}, **also_set
            )
        names = (self.field, *also_set)
        cache_key = (model, connection.alias, names)
        prepared = _MOVE_SQL.get(cache_key)
        if prepared is None:
            _refuse_frozen(model, names)
            opts = model._meta
            quote = connection.ops.quote_name
            fields = [opts.get_field(name) for name in names]
            assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
            sql = (
                f"UPDATE {quote(opts.db_table)} SET {assignments} "
                f"WHERE {quote(opts.pk.column)} = %s AND {quote(fields[0].column)} = %s"
            )
            prepared = _MOVE_SQL[cache_key] = (sql, fields)
        sql, fields = prepared
        values = (target, *also_set.values())
        params = [
            field.get_db_prep_save(_plain(value), connection)
            for field, value in zip(fields, values, strict=True)
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, pk, _plain(source)])
            return cursor.rowcount

    def move_many(
        self,
        queryset: models.QuerySet,
        target: str,
        *,
        actor,
        reason: str = "",
        reading: tuple[str, ...] | None = None,
        **also_set,
    ) -> list:
        """Move every row of ``queryset`` that may go to ``target``; returns the moved objects.

        Rows in a state that cannot move are left alone (the caller reports the count).
        Locks the rows first so that the audit log names exactly the rows that changed.

        ``reading`` names the only fields the caller and the audit entry's text (``str()`` of
        the row) read of the moved objects; the others are deferred (the primary key and the
        state are always read). For a move of thousands of rows, building them whole is most
        of the Python work. Reading a deferred field later costs a query per object.
        """
        sources = self.sources_of(target)
        if not sources:
            return []
        fields = None if reading is None else (self.field, *reading, *also_set)
        with transaction.atomic(savepoint=False):
            if _returning_update(queryset, also_set):
                rows, previous = self._move_returning(queryset, sources, target, also_set, fields)
            else:
                rows, previous = self._move_locked(queryset, sources, target, also_set, fields)
            if not rows:
                return []
            audit_record_bulk(
                actor=actor,
                objects=rows,
                action=f"{self.name}.{target}",
                from_state=previous,
                to_state=target,
                reason=reason,
            )
        return rows

    def _move_locked(self, queryset, sources, target, also_set, fields) -> tuple[list, dict]:
        """Lock the rows that may move (SELECT … FOR UPDATE), then one UPDATE of those."""
        locking = (
            queryset.filter(**{f"{self.field}__in": sources})
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        # Only the fields read (a list's queryset may follow relations: not then).
        rows = list(locking if fields is None else locking.select_related(None).only(*fields))
        if not rows:
            return [], {}
        previous = {row.pk: getattr(row, self.field) for row in rows}
        queryset.model._default_manager.filter(pk__in=list(previous)).update(
            **{self.field: target}, **also_set
        )
        for row in rows:
            self._apply(row, target, also_set)
        return rows, previous

    def _move_returning(self, queryset, sources, target, also_set, fields) -> tuple[list, dict]:
        """PostgreSQL: lock, move and read back in one statement —

            UPDATE t SET status = <target>, … FROM (SELECT id, status FROM t WHERE …
            ORDER BY id FOR UPDATE OF t) AS old WHERE t.id = old.id RETURNING t.*, old.status

        The subquery takes the row locks in primary-key order (as ``_move_locked`` does) and
        reads each row's state once it holds the lock, so the audit names the state each row
        really left; the UPDATE changes exactly the locked rows."""
        model = queryset.model
        opts = model._meta
        connection = connections[queryset.db]
        _refuse_frozen(model, [self.field, *also_set])
        locking = (
            queryset.filter(**{f"{self.field}__in": sources})
            .select_for_update(of=("self",))
            .order_by("pk")
            .values_list("pk", self.field)
        )
        try:
            inner, inner_params = locking.query.get_compiler(using=queryset.db).as_sql()
        except EmptyResultSet:
            return [], {}
        quote = connection.ops.quote_name
        table = quote(opts.db_table)
        assignments, params = [], []
        for name, value in {self.field: target, **also_set}.items():
            field = opts.get_field(name)
            assignments.append(f"{quote(field.column)} = %s")
            # A TextChoices member as its plain value, as the ORM's UPDATE would write it.
            params.append(field.get_db_prep_save(_plain(value), connection))
        attnames, columns, pk_index, converting = _reading(model, connection, fields)
        sql = (
            f"UPDATE {table} SET {', '.join(assignments)} "
            f"FROM ({inner}) AS {quote(_OLD)} ({quote(_OLD_PK)}, {quote(_OLD_STATE)}) "
            f"WHERE {table}.{quote(opts.pk.column)} = {quote(_OLD)}.{quote(_OLD_PK)} "
            f"RETURNING {', '.join(f'{table}.{column}' for column in columns)}, "
            f"{quote(_OLD)}.{quote(_OLD_STATE)}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, *inner_params])
            returned = cursor.fetchall()
        # Each row made into its model as a query would (``from_db``, the fields' converters),
        # without the per-row work of a raw queryset.
        returned.sort(key=lambda row: row[pk_index])
        count = len(attnames)
        build = _builder(model, connection.alias, attnames)
        rows, previous = [], {}
        for values in returned:
            state = values[count]
            values = list(values[:count])
            for index, column, converters in converting:
                for converter in converters:
                    values[index] = converter(values[index], column, connection)
            row = build(values)
            rows.append(row)
            previous[values[pk_index]] = state
        return rows, previous


def _builder(model, alias: str, attnames: list[str]):
    """A function making a row's values into an instance of ``model`` as ``from_db`` does: the
    fields not in ``attnames`` deferred, the instance from database ``alias``.

    ``Model.__init__`` walks every field of the model to find the deferred ones, a tenth of a
    second for 10,000 visitors read back with five fields; the values are set directly instead
    (a deferred field is one missing from the instance's ``__dict__``, as ``from_db`` leaves
    it). Where something listens for ``pre_init`` or ``post_init`` of the model (a generic
    relation, an image's dimensions), it goes through ``from_db`` so that they hear of it."""
    if models.signals.pre_init.has_listeners(model) or models.signals.post_init.has_listeners(
        model
    ):
        return lambda values: model.from_db(alias, attnames, values)
    new = model.__new__

    def build(values):
        row = new(model)
        row.__dict__.update(zip(attnames, values, strict=True))
        state = row._state = ModelState()
        state.adding = False
        state.db = alias
        return row

    return build


# The querysets whose ``update`` is only the UPDATE (and the guard of frozen fields): one
# that does more (forgets a cache, say) is left to do it.
_PLAIN_UPDATES = (models.QuerySet.update, GuardedQuerySet.update)

# ``StateMachine._update_one``'s statements: (model, database, field names) → (SQL, fields).
_MOVE_SQL: dict = {}


def _reading(model, connection, names=None) -> tuple:
    """How ``_move_returning`` reads a model's rows back: the attribute names and quoted
    columns of its concrete fields in their order (as ``from_db`` takes them; only the primary
    key and the fields ``names`` names, if given), the index of the primary key, and the
    fields with converters as ``(index, column, converters)``."""
    key = (model, connection.alias, names)
    if key not in _READING:
        fields = model._meta.concrete_fields
        if names is not None:
            named = {model._meta.get_field(name) for name in names}
            fields = [field for field in fields if field.primary_key or field in named]
        converting = []
        for index, field in enumerate(fields):
            column = field.get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(column) + field.get_db_converters(
                connection
            )
            if converters:
                converting.append((index, column, converters))
        _READING[key] = (
            [field.attname for field in fields],
            [connection.ops.quote_name(field.column) for field in fields],
            [field.primary_key for field in fields].index(True),
            converting,
        )
    return _READING[key]


_READING: dict = {}

# The derived table of ``_move_returning`` and its columns.
_OLD, _OLD_PK, _OLD_STATE = "moved_from", "moved_pk", "moved_from_state"


def _plain(value):
    return str(value) if isinstance(value, models.Choices) and isinstance(value, str) else value


def _returning_update(queryset: models.QuerySet, also_set: dict) -> bool:
    """Whether ``move_many`` may move ``queryset`` in one UPDATE … RETURNING: on PostgreSQL,
    with plain values to set (an expression such as ``F()`` goes the two-statement way)."""
    return connections[queryset.db].vendor == "postgresql" and not any(
        hasattr(value, "resolve_expression") for value in also_set.values()
    )


def _refuse_frozen(model, names) -> None:
    """The guard of records that are never edited (``ciie_portal.records``), which the raw
    UPDATE would otherwise pass by: only fields the model's queryset may update."""
    mutable = getattr(model._default_manager.get_queryset(), "mutable_fields", None)
    if mutable is None:
        return
    frozen = _field_names(model, names) - mutable
    if frozen:
        raise ImmutableRecord(
            f"{model.__name__}: {', '.join(sorted(frozen))} never change once made."
        )
