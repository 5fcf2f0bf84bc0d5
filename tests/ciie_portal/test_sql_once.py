"""Queries written once per process (``ciie_portal.sql_once``): the same rows as the ORM's own
query for any ids, written by the ORM only the first time."""

import pytest
from django.db import connection
from django.db.models import Count, Q
from django.test.utils import CaptureQueriesContext

from ciie_portal.sql_once import WrittenOnce
from registration.models import Visitor
from registration.selectors import VISITOR_COUNT_KEYS, visitor_counts
from tests.registration.factories import UnitFactory, VisitorFactory

S = Visitor.Status


def test_the_counts_are_the_orms_for_each_unit(edition):
    busy, empty = UnitFactory(edition=edition), UnitFactory(edition=edition)
    for status in (S.SAVED, S.SAVED, S.PENDING_PAYMENT, S.REVIEW_PASSED, S.REVIEW_FAILED):
        VisitorFactory(unit=busy, status=status)
    VisitorFactory(unit=busy, status=S.SAVED, join_pending=True)  # not the unit's yet
    assert visitor_counts(busy) == {
        "total": 5, "saved": 2, "locked": 3, "unpaid": 1, "in_review": 2, "reviewed": 2,
        "passed": 1,
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
    assert len(built) == 1 and built[0] < 0  # written once, with a marker no row has
    assert len(ran) == 1


def test_a_query_whose_sql_hides_the_id_is_refused(edition):
    twice = WrittenOnce(
        lambda unit_id: Visitor.objects.filter(
            Q(unit_id=unit_id) | Q(previous__unit_id=unit_id)
        ).values("pk")
    )
    with pytest.raises(ValueError, match="appears 2 times"):
        twice.rows(1)
