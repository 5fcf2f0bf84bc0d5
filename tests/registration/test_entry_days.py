from datetime import timedelta

from django.utils import timezone

from ciie_portal.models import AuditEntry, Edition
from credentials.orders.services import order_create
from registration.models import Unit, Visitor
from tests.ciie_portal.factories import EntryPeriodFactory
from tests.registration.factories import VisitorFactory

S = Visitor.Status


def test_entry_days_change_until_the_visitor_is_ordered(client, contact, unit, edition):
    whole = edition.entry_periods.get()
    last_days = EntryPeriodFactory(
        edition=edition, name="后三天", first_day=edition.ends_on, fee="100.00"
    )
    # 待支付 means locked, and only approved units' visitors are locked (and ordered).
    Unit.objects.filter(pk=unit.pk).update(status=Unit.Status.APPROVED)
    visitor = VisitorFactory(
        unit=unit, status=S.PENDING_PAYMENT, label="visitor", entry_period=whole
    )
    client.force_login(contact)
    page = client.get(f"/accounts/visitors/{visitor.pk}/").content.decode()
    assert 'id="entry-days-form"' in page
    client.post(f"/accounts/visitors/{visitor.pk}/", {"entry_period": last_days.pk})
    visitor.refresh_from_db()
    assert visitor.entry_period == last_days
    assert AuditEntry.objects.filter(action="visitor.entry_days", actor=contact).exists()

    order = order_create(unit=unit, visitor_ids=[visitor.pk], actor=contact)
    assert str(order.total) == "100.00"
    assert (
        'id="entry-days-form"'
        not in client.get(f"/accounts/visitors/{visitor.pk}/").content.decode()
    )
    client.post(f"/accounts/visitors/{visitor.pk}/", {"entry_period": whole.pk})
    assert Visitor.objects.get(pk=visitor.pk).entry_period == last_days


def test_another_unit_cannot_change_entry_days(client, other_contact, unit, edition):
    visitor = VisitorFactory(unit=unit, status=S.SUBMITTED)
    client.force_login(other_contact)
    response = client.post(
        f"/accounts/visitors/{visitor.pk}/", {"entry_period": edition.entry_periods.get().pk}
    )
    assert response.status_code == 404


def test_entry_days_still_change_after_registration_closed(client, contact, unit, edition):
    """SPEC §10: entry-day changes are allowed "until the order", not only inside the
    registration window (ciie_portal.windows)."""
    now = timezone.now()
    Edition.objects.filter(pk=edition.pk).update(
        registration_opens_at=now - timedelta(days=60),
        registration_closes_at=now - timedelta(minutes=1),
    )
    last_days = EntryPeriodFactory(
        edition=edition, name="后三天", first_day=edition.ends_on, fee="100.00"
    )
    whole = edition.entry_periods.first()
    visitor = VisitorFactory(unit=unit, status=S.SUBMITTED, entry_period=whole)
    client.force_login(contact)
    client.post(f"/accounts/visitors/{visitor.pk}/", {"entry_period": last_days.pk})
    assert Visitor.objects.get(pk=visitor.pk).entry_period == last_days
