"""证件复用: a visitor who held last edition's credential and whose card is unchanged."""

from datetime import date

from django.core.files.base import ContentFile

from registration.models import Label, Unit, Visitor
from registration.returning import unit_bring_forward
from registration.services import visitors_submit
from tests.ciie_portal.factories import EditionFactory
from tests.registration.factories import DeliveryAddressFactory, UnitFactory, VisitorFactory
from tests.registration.images import image_file

S = Visitor.Status


def _previous_visitor(unit, name, edition):
    period, _ = edition.entry_periods.get_or_create(
        first_day=date(edition.starts_on.year, 11, 6),
        last_day=date(edition.starts_on.year, 11, 10),
        defaults={"name": "全程", "fee": 200},
    )
    visitor = VisitorFactory(
        unit=unit, name=name, status=S.REVIEW_PASSED, label=Label.STAFF, entry_period=period,
        pickup="delegation",
    )  # fmt: skip
    visitor.photo.save("old.jpg", ContentFile(image_file(fmt="JPEG").read()))
    return visitor


def test_an_unchanged_card_arrives_for_locking_with_its_old_label(edition, guangzhou, secretary):
    previous_edition = EditionFactory(number=edition.number - 1)
    old_unit = UnitFactory(edition=previous_edition, delegation=guangzhou)
    _previous_visitor(old_unit, "李复用", previous_edition)
    _previous_visitor(old_unit, "王改名", previous_edition)
    unit, copied, _skipped = unit_bring_forward(
        previous_unit=old_unit, edition=edition, actor=old_unit.account
    )
    assert copied == 2
    same_days = edition.entry_periods.get(
        first_day=date(edition.starts_on.year, 11, 6), last_day=date(edition.starts_on.year, 11, 10)
    )
    Visitor.objects.filter(unit=unit).update(entry_period=same_days)
    Visitor.objects.filter(unit=unit, name="王改名").update(name="王新名")
    DeliveryAddressFactory(unit=unit, is_default=True)
    Unit.objects.filter(pk=unit.pk).update(delegation=guangzhou)
    visitors_submit(
        unit=unit,
        visitor_ids=list(unit.visitors.values_list("pk", flat=True)),
        actor=None,
        sensitive_consent=True,
    )
    reused = Visitor.objects.get(unit=unit, name="李复用")
    changed = Visitor.objects.get(unit=unit, name="王新名")
    assert (reused.status, reused.label, reused.reuse_eligible) == (
        S.PENDING_LOCK,
        Label.STAFF,
        True,
    )
    assert (changed.status, changed.label) == (S.SUBMITTED, "")
