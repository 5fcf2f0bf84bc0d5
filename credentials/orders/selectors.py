from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from registration.models import Unit, Visitor

from .fees import line_fee
from .models import CredentialOrder, OrderLine

Status = CredentialOrder.Status

# The tabs of the order list (全部订单 / 未支付订单 / 已支付订单 / 有退款订单).
ORDER_TABS = ("all", "unpaid", "paid", "refund")


def visitor_has_open_order(visitor_id: int) -> bool:
    """Whether the visitor is in a pending or paid order: their entry days are then fixed."""
    return OrderLine.objects.filter(visitor_id=visitor_id, open=True).exists()


def order_lines_for_display() -> QuerySet:
    """Lines with what a list shows (name, masked ID, label, pick-up, fee) — no ID in clear."""
    return (
        OrderLine.objects.select_related("visitor", "entry_period")
        .only(
            "order_id",
            "label",
            "pickup",
            "fee",
            "open",
            "visitor__name",
            "visitor__id_number_masked",
            "visitor__status",
            "entry_period__name",
            "entry_period__name_en",
            "entry_period__first_day",
            "entry_period__last_day",
        )
        # Each line's refunds (payments app, by its reverse relation): two more queries.
        .prefetch_related("refund_lines__refund")
        .order_by("pk")
    )


def orders_of_unit(unit: Unit, *, tab: str = "all") -> QuerySet:
    """A unit's orders with their lines: two queries whatever their number."""
    orders = CredentialOrder.objects.filter(unit=unit).prefetch_related(
        Prefetch("lines", queryset=order_lines_for_display()),
        "invoices",  # the invoicing app's reverse relation: 开票 / 查看发票 / 退票 buttons
    )
    if tab == "unpaid":
        return orders.filter(status=Status.PENDING_PAYMENT)
    if tab == "paid":
        return orders.filter(status=Status.PAID)
    if tab == "refund":
        # Orders with a refund asked for, whatever became of it (payments' reverse relation).
        return orders.filter(refunds__isnull=False).distinct()
    return orders


def order_of_units(units: list[Unit], number: str) -> CredentialOrder | None:
    """The order ``number`` if it is one of ``units``' (``registration.access.units_in_reach``),
    with its lines, invoices, edition and unit; else None."""
    return (
        CredentialOrder.objects.filter(unit__in=units, number=number)
        .select_related("created_by", "edition", "unit")
        .prefetch_related(Prefetch("lines", queryset=order_lines_for_display()), "invoices")
        .first()
    )


def orders_of_past_units(units: list[Unit]) -> dict[int, list[CredentialOrder]]:
    """往届订单: the orders of earlier editions' ``units`` by unit, latest first, each with its
    lines, payments, invoices and refunds (the payments and invoicing apps' reverse relations,
    shown through their own records). Five queries whatever their number."""
    orders = (
        CredentialOrder.objects.filter(unit__in=units)
        .prefetch_related(
            Prefetch("lines", queryset=order_lines_for_display()),
            "payments",
            "invoices",
            "refunds",
        )
        .order_by("-created_at", "-pk")
    )
    by_unit: dict[int, list[CredentialOrder]] = {}
    for order in orders:
        by_unit.setdefault(order.unit_id, []).append(order)
    return by_unit


def payable_visitors(unit: Unit) -> list[dict]:
    """The unit's visitors awaiting payment (待支付), each with its fee and, if it is already in
    an open order, that order's number. One query."""
    open_order = OrderLine.objects.filter(visitor=OuterRef("pk"), open=True).values(
        "order__number"
    )[:1]
    visitors = (
        Visitor.objects.filter(unit=unit, status=Visitor.Status.PENDING_PAYMENT, join_pending=False)
        .select_related("entry_period")
        .annotate(open_order=Subquery(open_order))
        .order_by("person_type", "created_at", "pk")
    )
    rows = []
    for visitor in visitors:
        fee = line_fee(visitor, unit.edition) if visitor.entry_period_id else None
        rows.append(
            {
                "visitor": visitor,
                "fee": fee,
                "open_order": visitor.open_order,
                "orderable": fee is not None and not visitor.open_order,
            }
        )
    return rows
