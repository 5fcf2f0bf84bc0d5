"""Points rules, coupon offers with codes, and points given to a unit, for the points tests."""

from datetime import date

from credentials.points.models import Coupon, CouponBatch, EntryKind, PointsEntry, PointsRule
from registration.exhibitors.models import MEETING_SLOTS, Exhibitor, Meeting

RULES = {
    "colleague_joined": 20,
    "registration_completed": 10,
    "gate_day": 5,
    "meeting_held": 30,
}


def rules(edition, **points) -> list[PointsRule]:
    """The edition's rules (all four kinds by default, at ``RULES``)."""
    return [
        PointsRule.objects.create(edition=edition, kind=kind, points=value)
        for kind, value in (points or RULES).items()
    ]


def offer(edition, *, cost=50, codes=("CIIE-0001",), **fields) -> CouponBatch:
    batch = CouponBatch.objects.create(
        edition=edition,
        name=fields.pop("name", "咖啡优惠券"),
        name_en=fields.pop("name_en", "Coffee coupon"),
        cost=cost,
        **fields,
    )
    Coupon.objects.bulk_create(Coupon(batch=batch, code=code) for code in codes)
    return batch


_given = iter(range(1, 10**9))


def give(unit, points: int, *, visitor=None) -> PointsEntry:
    """Points for ``unit`` as if the organiser had adjusted them."""
    return PointsEntry.objects.create(
        edition_id=unit.edition_id,
        unit=unit,
        visitor=visitor,
        kind=EntryKind.ADJUSTMENT,
        points=points,
        source_key=f"adjustment:test-{next(_given)}",
        note="test",
    )


def held_meeting(unit, *, day=None) -> Meeting:
    exhibitor = Exhibitor.objects.create(
        edition_id=unit.edition_id, code=f"E{unit.pk}-{Meeting.objects.count()}", name="展商"
    )
    return Meeting.objects.create(
        unit=unit,
        exhibitor=exhibitor,
        day=day or date(2027, 11, 5),
        slot=MEETING_SLOTS[Meeting.objects.count() % len(MEETING_SLOTS)],
        status=Meeting.Status.HELD,
    )
