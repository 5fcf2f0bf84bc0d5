from django.db.models import Count, Q

from ciie_portal.sql_once import WrittenOnce

from .models import Unit, Visitor
from .progress import EMPTY as NO_CREDENTIALS
from .progress import credential_counts, dashboard_panels, next_payment_deadline, past_orders
from .side_events.selectors import dashboard_side_events

S = Visitor.Status


def _earlier_units(account_id, number, **same_code):
    return (
        Unit.objects.filter(account_id=account_id, edition__number__lt=number, **same_code)
        .select_related("edition")
        .order_by("-edition__number", "-created_at")
    )


_EARLIER_BY_USCC = WrittenOnce(lambda account_id, number, uscc: _earlier_units(
    account_id, number, uscc=uscc
))  # fmt: skip
_EARLIER_BY_ACCOUNT_NUMBER = WrittenOnce(lambda account_id, number, account_number: _earlier_units(
    account_id, number, uscc="", account_number=account_number
))  # fmt: skip


def earlier_units(unit: Unit) -> list[Unit]:
    """The same organisation's units of earlier editions, latest edition first: the units of
    the unit's own account (bringing a unit forward keeps its account, so the whole chain of
    ``Unit.previous`` is among them) with the same USCC (or, without one, the same account
    number). Never a unit of another account: a unit that registered anew under a USCC did not
    prove it holds the earlier account (``services._free_login_name`` archives that account),
    so it does not see the earlier account's orders."""
    if unit.account_id is None or not unit.login_name:
        return []
    if unit.uscc:
        return _EARLIER_BY_USCC.objects(unit.account_id, unit.edition.number, unit.uscc)
    return _EARLIER_BY_ACCOUNT_NUMBER.objects(
        unit.account_id, unit.edition.number, unit.account_number
    )


def _visitors_of_unit(unit_id):
    return (
        Visitor.objects.filter(unit_id=unit_id, join_pending=False)
        # ``previous``: whether 证件复用 can be offered (``services.reuse_possible``).
        .select_related("entry_period", "address", "previous")
        .order_by("person_type", "created_at", "pk")
    )


_VISITORS_OF_UNIT = WrittenOnce(_visitors_of_unit)


def visitors_of_unit(unit: Unit):
    """A unit's visitors for its lists: one query whatever their number."""
    return _visitors_of_unit(unit.pk)


def visitors_of_unit_list(unit: Unit, *, offset: int = 0, limit: int | None = None) -> list:
    """``visitors_of_unit(unit)[offset:offset + limit]`` as a list, by SQL written once per
    process and slice (``WrittenOnce.objects``)."""
    return _VISITORS_OF_UNIT.objects(unit.pk, offset=offset, limit=limit)


def _visitor_counts(unit_id):
    return (
        Visitor.objects.filter(unit_id=unit_id, join_pending=False)
        .values("unit_id")
        .annotate(
            total=Count("pk"),
            saved=Count("pk", filter=Q(status=S.SAVED)),
            locked=Count(
                "pk",
                filter=Q(
                    status__in=[
                        S.PENDING_PAYMENT, S.PENDING_REVIEW, S.REVIEW_PASSED, S.REVIEW_FAILED
                    ]
                ),
            ),
            unpaid=Count("pk", filter=Q(status=S.PENDING_PAYMENT)),
            in_review=Count(
                "pk", filter=Q(status__in=[S.PENDING_REVIEW, S.REVIEW_PASSED, S.REVIEW_FAILED])
            ),
            reviewed=Count("pk", filter=Q(status__in=[S.REVIEW_PASSED, S.REVIEW_FAILED])),
            passed=Count("pk", filter=Q(status=S.REVIEW_PASSED)),
            cancelled=Count("pk", filter=Q(status=S.CANCELLED)),
        )
    )  # fmt: skip


_VISITOR_COUNTS = WrittenOnce(_visitor_counts)
VISITOR_COUNT_KEYS = (
    "total", "saved", "locked", "unpaid", "in_review", "reviewed", "passed", "cancelled"
)  # fmt: skip


def visitor_counts(unit: Unit) -> dict[str, int]:
    """A unit's visitors (those joining by link not yet accepted left out) counted by state
    for the dashboard and the list, in one query written once per process."""
    rows = _VISITOR_COUNTS.rows(unit.pk)
    found = rows[0] if rows else {}
    return {key: found.get(key, 0) for key in VISITOR_COUNT_KEYS}


def unit_progress(unit: Unit) -> dict:
    """The eight steps of the dashboard (进度流程图), counted in one aggregate query."""
    counts = visitor_counts(unit)
    # Only a visitor who passed review holds a valid credential: before one did, there is
    # nothing for the credentials app to count (an invariant of the whole-season test).
    if counts["passed"]:
        made = credential_counts(Visitor.objects.filter(unit=unit))
    else:
        made = dict(NO_CREDENTIALS)
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
        # 配套活动: the events from the shared cache, the unit's sign-ups in one query (none
        # while nobody in the edition signed up).
        **dashboard_side_events(unit),
        # 往届订单: per earlier edition, its orders (the credentials app fills them in).
        "past_units": past_orders(earlier_units(unit)),
        # The nearest payment deadline still ahead (the credentials app says which); only a
        # unit with a visitor awaiting payment or cancelled has one (an order to pay holds such
        # visitors — a cancelled one keeps its line: an invariant of the whole-season test).
        "next_payment_deadline": (
            next_payment_deadline(unit) if counts["unpaid"] or counts["cancelled"] else None
        ),
        # Panels of the apps above this one (the buyer survey while it is open, …).
        "panels": dashboard_panels(unit),
    }
