"""Reads of points: the edition's rules (kept in the shared cache), a unit's balance, history,
per-visitor totals, the coupon offers and the unit's own coupons, and the dashboard panel."""

from datetime import date

from django.db.models import Count, F, Q, Sum

from ciie_portal import read_cache

from .models import Coupon, CouponBatch, PointsEntry, PointsRule

#: The read_cache topic of the rules (forgotten whenever a rule is saved or deleted).
CACHE_TOPIC = "points"
#: The newest entries a unit's page lists.
HISTORY_ROWS = 500


def edition_rules(edition_id: int) -> dict[str, int]:
    """``{kind: points}`` of the edition's rules ({} without any), from the shared cache: the
    dashboard and every gate scan read it without asking the database."""
    return read_cache.kept(
        CACHE_TOPIC,
        f"rules:{edition_id}",
        lambda: dict(
            PointsRule.objects.filter(edition_id=edition_id).values_list("kind", "points")
        ),
    )


def unit_balance(unit_id: int) -> int:
    """The unit's points: the sum of its ledger (one query)."""
    total = PointsEntry.objects.filter(unit_id=unit_id).aggregate(total=Sum("points"))["total"]
    return total or 0


def visitor_balance(visitor_id: int) -> int:
    total = PointsEntry.objects.filter(visitor_id=visitor_id).aggregate(total=Sum("points"))
    return total["total"] or 0


def unit_history(unit_id: int, *, limit: int = HISTORY_ROWS) -> list[PointsEntry]:
    """The unit's newest entries, with their visitor and coupon offer (one query)."""
    return list(
        PointsEntry.objects.filter(unit_id=unit_id)
        .select_related("visitor", "coupon__batch")
        .order_by("-created_at", "-pk")[:limit]
    )


def visitor_totals(unit_id: int) -> list[dict]:
    """Each of the unit's visitors with points: ``{"visitor_id", "name", "total"}``, most first."""
    return list(
        PointsEntry.objects.filter(unit_id=unit_id, visitor__isnull=False)
        .values("visitor_id", name=F("visitor__name"))
        .annotate(total=Sum("points"))
        .order_by("-total", "name")
    )


def offers(edition_id: int, *, today: date) -> list[CouponBatch]:
    """The edition's coupon offers units may exchange for today, cheapest first, each with
    ``left`` (codes not yet exchanged)."""
    return list(
        CouponBatch.objects.filter(edition_id=edition_id, on_offer=True)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        .annotate(left=Count("coupons", filter=Q(coupons__exchanged_by__isnull=True)))
        .order_by("cost", "pk")
    )


def unit_coupons(unit_id: int) -> list[Coupon]:
    """The coupons the unit exchanged its points for, newest first, with their offer."""
    return list(
        Coupon.objects.filter(exchanged_by_id=unit_id)
        .select_related("batch")
        .order_by("-exchanged_at", "-pk")
    )


def dashboard_panel(unit) -> dict | None:
    """The unit's balance on its dashboard, with a link to its points: no query when the
    edition has no points rules, one otherwise."""
    if not edition_rules(unit.edition_id):
        return None
    return {
        "template": "credentials/points/_dashboard_panel.html",
        "balance": unit_balance(unit.pk),
    }
