"""Payments' figures (``ciie_portal.ops``): gateway notifications of the last hour by result,
flagged payments, bank transfers awaiting finance, refunds awaiting a decision."""

from datetime import timedelta

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ciie_portal.ops.figures import Figure, Sample, Scope, register_figure
from ciie_portal.ops.queries import in_delegation, recent

from .models import Method, Payment, PaymentNotification, Refund

LAST_HOUR = timedelta(hours=1)
PAYER_PATHS = ("order__delegation", "order__unit__delegation")
# Refunds still to be done: asked for (awaiting finance's approval) or approved, under way.
OPEN_REFUNDS = (Refund.Status.REQUESTED, Refund.Status.REFUNDING)


def notifications(scope: Scope) -> list[Sample]:
    """Gateway notifications received in the last hour, by what was done with them (every
    result, 0 included). Read from the newest ids: no scan of older notifications."""
    rows = recent(PaymentNotification.objects.all(), "received_at", timezone.now() - LAST_HOUR)
    if scope.delegation_id is not None:
        rows = rows.filter(in_delegation(scope, *(f"payment__{path}" for path in PAYER_PATHS)))
    counts = dict(rows.order_by().values_list("result").annotate(n=Count("pk")))
    return [
        Sample({"result": str(result)}, counts.get(result, 0))
        for result in PaymentNotification.Result.values
    ]


def _payments(scope: Scope):
    return Payment.objects.filter(order__edition_id=scope.edition_id).filter(
        in_delegation(scope, *PAYER_PATHS)
    )


def flagged(scope: Scope) -> list[Sample]:
    """Payments of the edition flagged for finance (money that could not be accepted)."""
    return [Sample({}, _payments(scope).filter(flagged=True).count())]


def transfers_awaiting(scope: Scope) -> list[Sample]:
    """Bank transfers finance has not confirmed or rejected yet."""
    awaiting = _payments(scope).filter(method=Method.TRANSFER, status=Payment.Status.CREATED)
    return [Sample({}, awaiting.count())]


def refunds_open(scope: Scope) -> list[Sample]:
    """Refunds awaiting finance's approval (requested) or approved and under way (refunding)."""
    counts = dict(
        Refund.objects.filter(order__edition_id=scope.edition_id, status__in=OPEN_REFUNDS)
        .filter(in_delegation(scope, *PAYER_PATHS))
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    return [Sample({"state": str(state)}, counts.get(state, 0)) for state in OPEN_REFUNDS]


def _list(name: str, query: str = ""):
    def url(scope: Scope) -> str:
        return reverse(f"admin:payments_{name}_changelist") + query

    return url


def register() -> None:
    register_figure(
        Figure(
            name="payment_notifications_last_hour",
            label=_("Payment notifications in the last hour"),
            help="Gateway payment notifications received in the last hour, by result.",
            compute=notifications,
            scoped=True,
            admin_url=_list("paymentnotification"),
            unit="count",
        )
    )
    register_figure(
        Figure(
            name="payments_flagged",
            label=_("Payments flagged for finance"),
            help="Payments of the current edition flagged for finance.",
            compute=flagged,
            scoped=True,
            admin_url=_list("payment", "?flagged__exact=1"),
            unit="count",
        )
    )
    register_figure(
        Figure(
            name="transfers_awaiting_finance",
            label=_("Bank transfers awaiting finance"),
            help="Bank transfer payments finance has not confirmed or rejected yet.",
            compute=transfers_awaiting,
            scoped=True,
            admin_url=_list("payment", "?transfer=awaiting"),
            unit="count",
        )
    )
    register_figure(
        Figure(
            name="refunds_open",
            label=_("Refunds awaiting approval or under way"),
            help="Refunds of the current edition requested (awaiting approval) or refunding.",
            compute=refunds_open,
            scoped=True,
            admin_url=_list("refund", "?status__exact=requested"),
            unit="count",
        )
    )


register()
