"""The audit log writes every index for each entry (a lock of 10,000 visitors writes 10,000
entries), so it keeps only those a lookup needs."""

import pytest
from django.db import connection

from ciie_portal.audit import audit_record, audit_trail
from tests.pg_catalog import foreign_keys, indexes
from tests.registration.factories import UnitFactory

TABLE = "ciie_portal_auditentry"

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's catalogue"),
]


def test_the_object_type_has_no_index_of_its_own():
    found = indexes(TABLE)
    assert "ciie_portal_auditentry_content_type_id_21a9ce18" not in found
    assert not [d for d in found.values() if d.endswith("(content_type_id)")]
    # The composite index that serves a lookup by object type, and the constraint, stay.
    assert [d for d in found.values() if "(content_type_id, object_id, created_at)" in d]
    assert "FOREIGN KEY (content_type_id)" in foreign_keys(TABLE)
    assert len(found) == 4, sorted(found)


def test_an_objects_trail_is_read_through_the_composite_index():
    unit = UnitFactory()
    audit_record(actor=None, obj=unit, action="unit.test")
    with connection.cursor() as cursor:
        # A test's table is tiny: tell the planner to use an index where one serves.
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = audit_trail(unit).explain()
    assert "ciie_portal_content_78b717_idx" in plan
    assert [entry.action for entry in audit_trail(unit)] == ["unit.test"]
