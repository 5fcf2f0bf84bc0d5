"""The visitors table writes every index on each insert and change of state (a lock of 10,000
visitors writes each index 10,000 times), so it keeps only those a lookup needs."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import ProtectedError

from tests.ciie_portal.factories import EntryPeriodFactory
from tests.pg_catalog import foreign_keys, indexes

from .factories import VisitorFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's catalogue and operator classes"
)

TABLE = "registration_visitor"

# Made for fields by Django (db_index, unique's varchar_pattern_ops twin) and dropped by
# migrations 0018 and 0019: the composite indexes serve their lookups.
DROPPED = {
    "registration_visitor_edition_id_b3559905": "(edition_id)",
    "registration_visitor_unit_id_8fee8561": "(unit_id)",
    "registration_visitor_status_5a2a286a": "(status)",
    "registration_visitor_status_5a2a286a_like": "(status varchar_pattern_ops)",
    "registration_visitor_entry_period_id_61fa759b": "(entry_period_id)",
    "registration_visitor_reference_a3c19926_like": "(reference varchar_pattern_ops)",
}


@pytest.mark.django_db
def test_no_index_on_a_column_a_composite_index_begins_with():
    found = indexes(TABLE)
    assert not set(DROPPED) & set(found)
    assert not [definition for definition in found.values() if definition.endswith("(status)")]
    # 21 indexes, each written per row moved: a new one needs a lookup that none serves.
    assert len(found) == 21, sorted(found)


@pytest.mark.django_db
def test_the_foreign_keys_keep_their_constraints():
    constraints = foreign_keys(TABLE)
    for column in ("edition_id", "unit_id", "entry_period_id"):
        assert f"FOREIGN KEY ({column})" in constraints


@pytest.mark.django_db
def test_an_entry_period_with_visitors_still_cannot_be_deleted():
    visitor = VisitorFactory()
    period = EntryPeriodFactory(edition=visitor.edition)
    visitor.entry_period = period
    visitor.save(update_fields=["entry_period"])
    with pytest.raises(ProtectedError):
        period.delete()


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_the_indexes_back_when_reversed():
    try:
        call_command("migrate", "registration", "0018", verbosity=0)
        back = indexes(TABLE)
        for name, columns in DROPPED.items():
            if "edition_id" in name or "unit_id" in name:
                assert name not in back
            else:
                assert back[name].endswith(f"USING btree {columns}"), back.get(name)
    finally:
        call_command("migrate", "registration", verbosity=0)
    assert not set(DROPPED) & set(indexes(TABLE))
