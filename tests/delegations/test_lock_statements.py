"""The lock (锁定提交) is set-based: its statements do not grow with visitors or units."""

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ciie_portal.models import AuditEntry, Notice
from delegations.services import visitors_lock
from registration.models import Label, Visitor
from tests.registration.factories import ApprovedUnitFactory, VisitorFactory

S = Visitor.Status


def _lock_statements(edition, guangzhou, *, units: int, per_unit: int) -> int:
    made = [
        ApprovedUnitFactory(
            edition=edition,
            delegation=guangzhou,
            contact_mobile=f"1380000{i:04d}",
            contact_email=f"unit{i}@example.com",
        )
        for i in range(units)
    ]
    for unit in made:
        VisitorFactory.create_batch(
            per_unit - 1, unit=unit, status=S.SUBMITTED, label=Label.VISITOR
        )
        VisitorFactory(unit=unit, status=S.SUBMITTED, label=Label.VIP)
    ContentType.objects.get_for_model(Visitor)  # cached per process, as in a running server
    notices, entries = Notice.objects.count(), AuditEntry.objects.count()
    with CaptureQueriesContext(connection) as captured:
        result = visitors_lock(visitors=Visitor.objects.filter(unit__in=made), actor=None)
    assert result == {"to_pay": units * (per_unit - 1), "to_review": units, "units": units}
    assert Notice.objects.count() - notices == 2 * units
    assert AuditEntry.objects.count() - entries == units * per_unit
    return len(captured.captured_queries)


def test_locking_200_visitors_of_20_units_costs_what_10_of_2_do(db, edition, guangzhou):
    few = _lock_statements(edition, guangzhou, units=2, per_unit=5)
    many = _lock_statements(edition, guangzhou, units=20, per_unit=10)
    assert many == few
