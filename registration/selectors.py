from django.db.models import Count, Q

from ciie_portal.models import SideEvent

from .models import Unit, Visitor
from .progress import credential_counts

S = Visitor.Status


def visitors_of_unit(unit: Unit):
    """A unit's visitors for its lists: one query whatever their number."""
    return (
        Visitor.objects.filter(unit=unit, join_pending=False)
        # ``previous``: whether 证件复用 can be offered (``services.reuse_possible``).
        .select_related("entry_period", "address", "previous")
        .order_by("person_type", "created_at", "pk")
    )


def unit_progress(unit: Unit) -> dict:
    """The eight steps of the dashboard (进度流程图), counted in one aggregate query."""
    counts = Visitor.objects.filter(unit=unit, join_pending=False).aggregate(
        total=Count("pk"),
        saved=Count("pk", filter=Q(status=S.SAVED)),
        locked=Count(
            "pk",
            filter=Q(
                status__in=[S.PENDING_PAYMENT, S.PENDING_REVIEW, S.REVIEW_PASSED, S.REVIEW_FAILED]
            ),
        ),
        unpaid=Count("pk", filter=Q(status=S.PENDING_PAYMENT)),
        in_review=Count(
            "pk", filter=Q(status__in=[S.PENDING_REVIEW, S.REVIEW_PASSED, S.REVIEW_FAILED])
        ),
        reviewed=Count("pk", filter=Q(status__in=[S.REVIEW_PASSED, S.REVIEW_FAILED])),
        passed=Count("pk", filter=Q(status=S.REVIEW_PASSED)),
    )
    made = credential_counts(Visitor.objects.filter(unit=unit))
    submitted = counts["total"] - counts["saved"]
    U = Unit.Status
    steps = [
        {"key": "account", "done": True},
        {"key": "unit", "done": unit.info_saved_at is not None},
        {"key": "visitors", "done": submitted > 0, "n": submitted, "m": counts["total"]},
        {
            "key": "review",
            "done": unit.status == U.APPROVED,
            "problem": unit.status in (U.RETURNED, U.REJECTED),
        },
        {
            "key": "fee",
            "done": counts["locked"] > 0 and counts["unpaid"] == 0,
            "n": counts["locked"] - counts["unpaid"],
            "m": counts["locked"],
        },
        {
            "key": "visitor_review",
            "done": counts["in_review"] > 0 and counts["reviewed"] == counts["in_review"],
            "n": counts["reviewed"],
            "m": counts["in_review"],
        },
        {
            "key": "production",
            "done": counts["passed"] > 0 and made["produced"] >= counts["passed"],
            "n": made["produced"],
            "m": counts["passed"],
        },
        {
            "key": "issuance",
            "done": counts["passed"] > 0 and made["issued"] >= counts["passed"],
            "n": made["issued"],
            "m": counts["passed"],
        },
    ]
    current = next((step for step in steps if not step["done"]), None)
    if current:
        current["current"] = True
    return {
        "unit": unit,
        "steps": steps,
        "counts": counts,
        "side_events": list(
            SideEvent.objects.filter(edition_id=unit.edition_id, open_to_visitors=True)
        ),
        "past_units": list(
            Unit.objects.filter(account_id=unit.account_id)
            .exclude(edition_id=unit.edition_id)
            .select_related("edition")
            .order_by("-edition__number")
        ),
    }
