"""This app's filters and columns of the visitor lists (``registration.list_filters``),
registered from ``CredentialsConfig.ready()``:

- 按订单状态 on the unit's list: the state of the visitor's order;
- 证件状态 on the staff list, as a filter and a column: not made, made, issued, revoked;
- the fee (展期 (元/人民币)) on the staff list: the fee of the visitor's live order line.

Every condition is an ``Exists`` or a ``Subquery`` on the visitor's row, so that a list page
costs the same queries whatever its length.
"""

from django.db.models import Case, CharField, Exists, OuterRef, Subquery, Value, When
from django.utils.translation import gettext_lazy as _

from registration.list_filters import (
    STAFF_LIST,
    UNIT_LIST,
    register_visitor_list_column,
    register_visitor_list_filter,
)

from .issuance.selectors import issued_q
from .orders.models import CredentialOrder, OrderLine
from .production.models import Credential

NONE = "none"


# --- 按订单状态 -------------------------------------------------------------------------------

ORDER_CHOICES = [
    (NONE, _("No order yet")),  # 未下单
    *CredentialOrder.Status.choices,
]


def _lines(**conditions):
    return OrderLine.objects.filter(visitor=OuterRef("pk"), **conditions)


def order_status_apply(queryset, value):
    """A pending or paid order holds the visitor's one open line; a cancelled or closed one
    counts only while no newer order holds the visitor."""
    if value == NONE:
        return queryset.filter(~Exists(_lines()))
    if value in (CredentialOrder.Status.PENDING_PAYMENT, CredentialOrder.Status.PAID):
        return queryset.filter(Exists(_lines(open=True, order__status=value)))
    return queryset.filter(~Exists(_lines(open=True)), Exists(_lines(order__status=value)))


# --- 证件状态 ---------------------------------------------------------------------------------

NOT_MADE, MADE, ISSUED, REVOKED = "not_made", "made", "issued", "revoked"
CREDENTIAL_CHOICES = [
    (NOT_MADE, _("Not made yet")),  # 未制证
    (MADE, _("Made")),  # 已制证
    (ISSUED, _("Issued")),  # 已发放: shipped, or handed to the delegation
    (REVOKED, _("Revoked")),  # 已作废: no valid credential left
]
CREDENTIAL_LABELS = dict(CREDENTIAL_CHOICES)


def _credentials(*conditions, **fields):
    return Credential.objects.filter(*conditions, visitor=OuterRef("pk"), **fields)


def _credential_conditions() -> dict:
    active = Credential.Status.ACTIVE
    return {
        ISSUED: Exists(_credentials(issued_q(), status=active)),
        MADE: Exists(_credentials(status=active)),
        REVOKED: Exists(_credentials()),
    }


def credential_status_apply(queryset, value):
    has = _credential_conditions()
    if value == ISSUED:
        return queryset.filter(has[ISSUED])
    if value == MADE:
        return queryset.filter(has[MADE]).exclude(has[ISSUED])
    if value == REVOKED:
        return queryset.filter(has[REVOKED]).exclude(has[MADE])
    return queryset.exclude(has[REVOKED])


def credential_status_annotate(queryset):
    has = _credential_conditions()
    return queryset.annotate(
        credential_status=Case(
            When(has[ISSUED], then=Value(ISSUED)),
            When(has[MADE], then=Value(MADE)),
            When(has[REVOKED], then=Value(REVOKED)),
            default=Value(NOT_MADE),
            output_field=CharField(),
        )
    )


def credential_status_display(value) -> str:
    return str(CREDENTIAL_LABELS.get(value or NOT_MADE, "—"))


# --- The fee ----------------------------------------------------------------------------------


def order_fee_annotate(queryset):
    """The fee of the visitor's open line (a pending or paid order); None without one."""
    return queryset.annotate(order_fee=Subquery(_lines(open=True).order_by().values("fee")[:1]))


def order_fee_display(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def register() -> None:
    """Called from ``CredentialsConfig.ready()``."""
    register_visitor_list_filter(
        "order_status",
        _("Order status"),  # 按订单状态
        ORDER_CHOICES,
        order_status_apply,
        lists=[UNIT_LIST],
    )
    register_visitor_list_filter(
        "credential_status",
        _("credential status"),  # 证件状态
        CREDENTIAL_CHOICES,
        credential_status_apply,
        lists=[STAFF_LIST],
    )
    register_visitor_list_column(
        "credential_status",
        _("credential status"),
        credential_status_annotate,
        credential_status_display,
    )
    register_visitor_list_column("order_fee", _("fee (CNY)"), order_fee_annotate, order_fee_display)
