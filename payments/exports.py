"""Finance's scheduled exports (registration.exports): bank transfers awaiting confirmation
(待确认到账) and refunds awaiting a decision (待审核退款) — the rows and columns of the payment
and refund admin lists filtered to what awaits finance, built at send time."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ciie_portal.timefmt import local_text
from registration.exports import register_export

from .admin import CONFIRM_TRANSFER, _awaiting
from .admin_refunds import APPROVE_REFUND
from .models import Payment, Refund


def transfers_to_confirm(user):
    """The 转账 payments awaiting finance's confirmation (the admin's "Awaiting confirmation"
    filter), oldest first, with the remittance the unit submitted."""
    titles = [
        _("ID"), _("order"), _("amount (CNY)"), _("status"), _("flagged"),
        _("paying unit or person"), _("amount remitted (CNY)"), _("remitted on"), _("created"),
    ]  # fmt: skip
    payments = (
        _awaiting(Payment.objects.all())
        .select_related("order", "remittance")
        .order_by("created_at", "pk")
    )
    rows = []
    for payment in payments.iterator(chunk_size=2000):
        remittance = getattr(payment, "remittance", None)
        rows.append(
            [
                payment.pk, payment.order.number, payment.amount, payment.get_status_display(),
                _("Yes") if payment.flagged else _("No"),
                remittance.payer_name if remittance else "",
                remittance.amount if remittance else None,
                remittance.remitted_on if remittance else None,
                local_text(payment.created_at),
            ]
        )  # fmt: skip
    return _("Transfers to confirm"), titles, rows


def refunds_to_approve(user):
    """The refunds awaiting finance's decision (未退款), oldest first."""
    titles = [
        _("refund number"), _("order"), _("payment method"), _("amount (CNY)"), _("status"),
        _("refund route"), _("payee"), _("requested"),
    ]  # fmt: skip
    refunds = (
        Refund.objects.filter(status=Refund.Status.REQUESTED)
        .select_related("order", "payment")
        .order_by("requested_at", "pk")
    )
    rows = [
        [
            refund.number, refund.order.number, refund.payment.get_method_display(),
            refund.amount, refund.get_status_display(), refund.get_route_display(),
            refund.payee_name, local_text(refund.requested_at),
        ]
        for refund in refunds.iterator(chunk_size=2000)
    ]  # fmt: skip
    return _("Refunds to approve"), titles, rows


def register() -> None:
    register_export(
        "transfers_to_confirm",
        gettext_lazy("Transfers to confirm"),
        CONFIRM_TRANSFER,
        transfers_to_confirm,
    )
    register_export(
        "refunds_to_approve",
        gettext_lazy("Refunds to approve"),
        APPROVE_REFUND,
        refunds_to_approve,
    )
