"""This app's series and watch list for the operations page (``ciie_portal.ops``): payment
notifications received and flagged per minute and per hour, payments flagged for finance."""

from django.db.models import Q
from django.urls import reverse
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from ciie_portal.ops.page import Watch, WatchRow, register_label_names, register_watch
from ciie_portal.ops.series import Series, count_per_bucket, in_delegation, register_series

from .models import Payment, PaymentNotification, Refund

FLAGGED_SHOWN = 5


def _of_orders(scope, prefix: str) -> Q:
    """Payments (through ``prefix``) of the scope's orders: its units' and its own."""
    if scope.delegation_id is None:
        return Q()
    return in_delegation(scope, f"{prefix}order__unit__delegation") | in_delegation(
        scope, f"{prefix}order__delegation"
    )


def _notifications(scope):
    """The edition's notifications; for the whole portal also those matching no payment (a
    wrong signature, an unknown payment), which belong to no edition."""
    of_edition = Q(payment__order__edition_id=scope.edition_id)
    if scope.delegation_id is None:
        of_edition |= Q(payment__isnull=True)
    return PaymentNotification.objects.filter(of_edition, _of_orders(scope, "payment__"))


def _notification_list(query: str = ""):
    def url(scope) -> str:
        return reverse("admin:payments_paymentnotification_changelist") + query

    return url


def notifications_received(scope, since, until, step):
    return count_per_bucket(_notifications(scope), "received_at", since, until, step, by_id=True)


def notifications_flagged(scope, since, until, step):
    flagged = _notifications(scope).filter(result=PaymentNotification.Result.FLAGGED)
    return count_per_bucket(flagged, "received_at", since, until, step, by_id=True)


def flagged_payments(scope) -> list[WatchRow]:
    """The latest payments kept flagged for finance (money that arrived but could not be
    accepted)."""
    payments = (
        Payment.objects.filter(
            _of_orders(scope, ""), order__edition_id=scope.edition_id, flagged=True
        )
        .select_related("order")
        .order_by("-created_at", "-pk")[:FLAGGED_SHOWN]
    )
    return [
        WatchRow(
            text=_("Order %(number)s, %(method)s")
            % {"number": payment.order.number, "method": payment.get_method_display()},
            since=payment.created_at,
            url=reverse("admin:payments_payment_change", args=[payment.pk]),
            detail=_("received ¥%(received)s of ¥%(amount)s: %(reason)s")
            % {
                "received": payment.received_amount if payment.received_amount is not None else "—",
                "amount": payment.amount,
                "reason": Truncator(payment.flag_reason).chars(120),
            },
        )
        for payment in payments
    ]


def register() -> None:
    register_series(
        Series(
            name="payment_notifications_received",
            label=_("Payment notifications received"),
            compute=notifications_received,
            scoped=True,
            admin_url=_notification_list(),
        )
    )
    register_series(
        Series(
            name="payment_notifications_flagged",
            label=_("Payment notifications flagged"),
            compute=notifications_flagged,
            scoped=True,
            admin_url=_notification_list("?result__exact=flagged"),
        )
    )
    register_watch(
        Watch(
            name="flagged_payments",
            label=_("Payments flagged for finance"),
            rows=flagged_payments,
            scoped=True,
            admin_url=lambda scope: (
                reverse("admin:payments_payment_changelist") + "?flagged__exact=1"
            ),
            empty=_("No payment is flagged."),
        )
    )
    register_label_names("result", dict(PaymentNotification.Result.choices))
    register_label_names("state", dict(Refund.Status.choices))
