"""Queries written once per process (``ciie_portal.sql_once``): the same rows as the ORM's own
query for any ids, written by the ORM only the first time."""

import pytest
from django.db import connection
from django.db.models import Count, Q
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext

from ciie_portal.sql_once import WrittenOnce
from registration.models import Visitor
from registration.selectors import VISITOR_COUNT_KEYS, visitor_counts
from tests.ciie_portal.factories import EntryPeriodFactory
from tests.registration.factories import UnitFactory, VisitorFactory

S = Visitor.Status


def test_the_counts_are_the_orms_for_each_unit(edition):
    busy, empty = UnitFactory(edition=edition), UnitFactory(edition=edition)
    for status in (S.SAVED, S.SAVED, S.PENDING_PAYMENT, S.REVIEW_PASSED, S.REVIEW_FAILED):
        VisitorFactory(unit=busy, status=status)
    VisitorFactory(unit=busy, status=S.SAVED, join_pending=True)  # not the unit's yet
    assert visitor_counts(busy) == {
        "total": 5, "saved": 2, "locked": 3, "unpaid": 1, "in_review": 2, "reviewed": 2,
        "passed": 1, "cancelled": 0,
    }  # fmt: skip
    assert visitor_counts(empty) == dict.fromkeys(VISITOR_COUNT_KEYS, 0)
    orm = Visitor.objects.filter(unit=busy, join_pending=False).aggregate(
        total=Count("pk"), saved=Count("pk", filter=Q(status=S.SAVED))
    )
    assert {k: visitor_counts(busy)[k] for k in orm} == orm


def test_the_sql_is_written_once_and_run_with_each_calls_ids(edition):
    units = [UnitFactory(edition=edition) for _ in range(2)]
    VisitorFactory(unit=units[1])
    built = []

    def build(unit_id):
        built.append(unit_id)
        return Visitor.objects.filter(unit_id=unit_id).values("unit_id").annotate(n=Count("pk"))

    query = WrittenOnce(build)
    assert query.rows(units[0].pk) == []
    with CaptureQueriesContext(connection) as ran:
        assert query.rows(units[1].pk) == [{"unit_id": units[1].pk, "n": 1}]
    assert len(built) == 1 and built[0] not in {u.pk for u in units}  # written once, a marker
    assert len(ran) == 1


def test_a_query_whose_sql_hides_the_id_is_refused(edition):
    twice = WrittenOnce(
        lambda unit_id: Visitor.objects.filter(
            Q(unit_id=unit_id) | Q(previous__unit_id=unit_id)
        ).values("pk")
    )
    with pytest.raises(ValueError, match="appears 2 times"):
        twice.rows(1)


def test_objects_are_the_orms_instances_with_their_related_rows(edition):
    unit = UnitFactory(edition=edition)
    period = edition.entry_periods.first() or EntryPeriodFactory(edition=edition)
    made = [VisitorFactory(unit=unit, entry_period=period) for _ in range(3)]
    VisitorFactory(unit=UnitFactory(edition=edition))  # another unit's

    def build(unit_id):
        return (
            Visitor.objects.filter(unit_id=unit_id)
            .select_related("entry_period", "unit")
            .order_by("pk")
        )

    query = WrittenOnce(build)
    query.objects(unit.pk)  # written
    with CaptureQueriesContext(connection) as ran:
        got = query.objects(unit.pk)
        # The related rows came with them: reading them asks nothing more.
        assert [(v.entry_period.name, v.unit.name) for v in got] == [
            (v.entry_period.name, unit.name) for v in made
        ]
    assert len(ran) == 1
    orm = list(build(unit.pk))
    assert [v.pk for v in got] == [v.pk for v in orm]
    # The ORM's converters ran: aware datetimes, dates, decimals as the ORM gives them.
    assert [(v.created_at, v.birth_date, v.entry_period.fee) for v in got] == [
        (v.created_at, v.birth_date, v.entry_period.fee) for v in orm
    ]
    assert all(v._state.adding is False and v._state.db == "default" for v in got)


def test_objects_find_their_converters_once(edition, monkeypatch):
    unit = UnitFactory(edition=edition)
    VisitorFactory(unit=unit)
    query = WrittenOnce(lambda unit_id: Visitor.objects.filter(unit_id=unit_id))
    first = query.objects(unit.pk)
    asked = []
    orm_converters = SQLCompiler.get_converters
    monkeypatch.setattr(
        SQLCompiler,
        "get_converters",
        lambda self, expressions: asked.append(1) or orm_converters(self, expressions),
    )
    again = query.objects(unit.pk)
    assert not asked
    assert [(v.pk, v.created_at, v.id_number) for v in again] == [
        (v.pk, v.created_at, v.id_number) for v in first
    ]


def test_objects_slices_and_strings(edition):
    unit = UnitFactory(edition=edition)
    made = [VisitorFactory(unit=unit, name=f"访客{i}") for i in range(5)]
    query = WrittenOnce(
        lambda unit_id, name: (
            Visitor.objects.filter(unit_id=unit_id).exclude(name=name).order_by("pk")
        )
    )
    assert [v.pk for v in query.objects(unit.pk, "访客0", offset=1, limit=2)] == [
        made[2].pk,
        made[3].pk,
    ]
    assert [v.pk for v in query.objects(unit.pk, "访客4", limit=10)] == [v.pk for v in made[:4]]
    assert query.objects(unit.pk + 1000, "访客0") == []
    with pytest.raises(TypeError):
        query.objects(unit.pk, None)


def test_markers_fit_small_integer_columns(edition):
    """A marker out of a column's range would make the ORM drop or empty the condition."""
    from registration.models import Unit

    query = WrittenOnce(lambda number: Unit.objects.filter(edition__number__lt=number))
    UnitFactory(edition=edition)
    assert query.objects(edition.number) == []
    assert len(query.objects(edition.number + 1)) == 1
