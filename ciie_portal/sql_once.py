"""Read queries the ORM writes once per process.

For the small per-unit queries every page makes, building the SQL costs the ORM more CPU than
PostgreSQL spends running it (the dashboard's counts: about 1.2 ms to write, 0.15 ms to run; a
unit's visitor list with its related rows: about 2 ms to write). ``WrittenOnce(build)`` calls
``build(*markers)`` once with marker values, keeps the SQL the ORM wrote and where the markers
ended up among its parameters, and from then on runs that SQL with each call's values in their
places.

``build`` returns a queryset whose SQL does not depend on the values (compared with ``=``, not
``None`` nor lists): ids, or strings such as a USCC. Then

- ``rows(*values)`` runs a ``.values()`` queryset: dicts of what the database returned (counts,
  ids, plain columns: no ORM converters);
- ``objects(*values, offset=0, limit=None)`` runs a model queryset — ``select_related``,
  annotations and the ORM's converters included — through the ORM's own iterator, with the
  compiler and the converters of the first call: model instances as the queryset would give
  them. A slice is part of the SQL (``LIMIT``/``OFFSET``), so each slice is written once too.
"""

import copy
import threading

from django.db import connections

#: Markers for ints: 32,000 + n, within every integer column's range, small ones included (the
#: ORM drops or empties a condition whose value is out of its column's range). They are only
#: compiled, never run; one found twice among the parameters is refused (``_places``).
_MARKER_BASE = 32_000
#: Slices kept per query (pages of one list); beyond that the ORM writes the query each time.
_MAX_SHAPES = 64


def _markers(values) -> list:
    """A marker per value, of its type: an unlikely number for an int, an unlikely text for a
    str. Markers are only compiled, never run."""
    markers = []
    for n, value in enumerate(values):
        if isinstance(value, str):
            markers.append(f"\x1fmarker-{n}\x1f")
        elif isinstance(value, int):
            markers.append(_MARKER_BASE + n)
        else:
            raise TypeError(f"WrittenOnce takes ids and strings, not {type(value).__name__}")
    return markers


def _places(sql: str, params: list, markers: list) -> list[int]:
    places = []
    for marker in markers:
        found = [i for i, value in enumerate(params) if value == marker]
        if len(found) != 1:
            raise ValueError(f"marker {marker!r} appears {len(found)} times in {sql!r}")
        places.append(found[0])
    return places


def _filled(params: list, places: list[int], values) -> list:
    filled = list(params)
    for place, value in zip(places, values, strict=True):
        filled[place] = value if isinstance(value, str) else int(value)
    return filled


class WrittenOnce:
    def __init__(self, build, *, using: str = "default"):
        self.build, self.using = build, using
        self._written: dict = {}
        self._lock = threading.Lock()

    def _kept(self, key, write):
        written = self._written.get(key)
        if written is None:
            with self._lock:
                written = self._written.get(key)
                if written is None:
                    written = write()
                    if len(self._written) < _MAX_SHAPES:
                        self._written[key] = written
        return written

    def rows(self, *values) -> list[dict]:
        def write():
            markers = _markers(values)
            sql, params = self.build(*markers).query.sql_with_params()
            params = list(params)
            return sql, params, _places(sql, params, markers)

        kinds = tuple(type(v) is str for v in values)
        sql, params, places = self._kept(("rows", kinds), write)
        with connections[self.using].cursor() as cursor:
            cursor.execute(sql, _filled(params, places, values))
            columns = [column[0] for column in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def objects(self, *values, offset: int = 0, limit: int | None = None) -> list:
        def write():
            markers = _markers(values)
            queryset = self.build(*markers)
            if offset or limit is not None:
                queryset = queryset[offset : None if limit is None else offset + limit]
            compiler = queryset.query.get_compiler(using=self.using)
            # As the ORM's iterator calls it: this also fills the compiler's select, klass_info
            # and annotation_col_map, which turn each row into the instances.
            sql, params = compiler.as_sql()
            params = list(params)
            # What turns each column's value into the field's (the iterator asks for them on
            # every run): the same for every run of the same SQL. They are given the running
            # connection when called.
            converters = compiler.get_converters(
                [column[0] for column in compiler.select[0 : compiler.col_count]]
            )
            return queryset, compiler, converters, sql, params, _places(sql, params, markers)

        kinds = tuple(type(v) is str for v in values)
        queryset, compiler, converters, sql, params, places = self._kept(
            ("objects", kinds, offset, limit), write
        )
        filled = tuple(_filled(params, places, values))
        run = copy.copy(compiler)
        run.connection = connections[self.using]  # this thread's, not the first caller's
        run.as_sql = lambda *args, **kwargs: (sql, filled)
        run.get_converters = lambda expressions: converters
        chained = queryset._chain()
        chained.query.get_compiler = lambda *args, **kwargs: run
        return list(chained)
