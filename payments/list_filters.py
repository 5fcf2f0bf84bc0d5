"""按支付状态 on the unit's visitor list (``registration.list_filters``), registered from
``PaymentsConfig.ready()``.

A visitor's payment status, from their order line:

- unpaid (未支付): awaiting payment, with no order yet or in an order not paid, and no bank
  transfer waiting for finance;
- awaiting finance (待财务确认): the order's bank transfer was reported and finance has not
  decided yet;
- paid (已支付): in a paid order, no refund asked for;
- refunding (退款中): a refund of the line asked for or approved, not yet done;
- refunded (已退款).
"""

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from credentials.models import CredentialOrder, OrderLine
from registration.list_filters import UNIT_LIST, register_visitor_list_filter
from registration.models import Visitor

from .models import Method, Payment, Refund, RefundLine

UNPAID, AWAITING_FINANCE, PAID, REFUNDING, REFUNDED = (
    "unpaid",
    "awaiting_finance",
    "paid",
    "refunding",
    "refunded",
)
PAYMENT_CHOICES = [
    (UNPAID, _("Unpaid")),
    (AWAITING_FINANCE, _("Transfer awaiting finance")),
    (PAID, _("Paid")),
    (REFUNDING, _("Refund under way")),
    (REFUNDED, _("Refunded")),
]

_PENDING = CredentialOrder.Status.PENDING_PAYMENT


def _transfer_awaiting(prefix: str = "") -> Exists:
    """The order (reached through ``prefix``) has a bank transfer finance has not decided."""
    return Exists(
        Payment.objects.filter(
            order=OuterRef(f"{prefix}order"),
            method=Method.TRANSFER,
            status=Payment.Status.CREATED,
        )
    )


def _open_lines(*conditions, **fields):
    return OrderLine.objects.filter(*conditions, visitor=OuterRef("pk"), open=True, **fields)


def _refunds(*states):
    return RefundLine.objects.filter(
        order_line__visitor=OuterRef("pk"), active=True, refund__status__in=states
    )


def payment_status_apply(queryset, value):
    if value == UNPAID:
        no_order = Q(status=Visitor.Status.PENDING_PAYMENT) & ~Exists(_open_lines())
        in_unpaid_order = Exists(_open_lines(order__status=_PENDING).filter(~_transfer_awaiting()))
        return queryset.filter(no_order | in_unpaid_order)
    if value == AWAITING_FINANCE:
        return queryset.filter(
            Exists(_open_lines(order__status=_PENDING).filter(_transfer_awaiting()))
        )
    if value == PAID:
        return queryset.filter(
            Exists(_open_lines(order__status=CredentialOrder.Status.PAID)),
            ~Exists(_refunds(*Refund.Status.values)),
        )
    if value == REFUNDING:
        return queryset.filter(Exists(_refunds(Refund.Status.REQUESTED, Refund.Status.REFUNDING)))
    return queryset.filter(Exists(_refunds(Refund.Status.REFUNDED)))


def register() -> None:
    """Called from ``PaymentsConfig.ready()``."""
    register_visitor_list_filter(
        "payment_status",
        _("Payment status"),  # 按支付状态
        PAYMENT_CHOICES,
        payment_status_apply,
        lists=[UNIT_LIST],
    )
