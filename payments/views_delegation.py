"""交易团代付: the secretary pays the delegation's consolidated order by bank transfer.

A page in the admin's look, reached from the order's change page: the account to transfer to,
the remittance form and voucher (as a unit's transfer page), and the remittances submitted.
Finance confirms or rejects the transfer in the payments admin, exactly as a unit's.

Staff only, scoped like the admin: a secretary sees the orders of their delegation's subtree,
an organiser every delegation's; anyone else gets 404.
"""

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from credentials.models import CredentialOrder
from delegations.selectors import scope_to_user

from .forms import RefundRequestForm, TransferRemittanceForm
from .models import Method, Payment, Refund, TransferRemittance
from .refunds import refundable_lines, refunds_request
from .services import (
    method_deadline,
    transfer_account,
    transfer_awaiting,
    transfer_remittance_submit,
)
from .views import voucher_response

VIEW_ORDERS = "credentials.view_credentialorder"
SETTLE = "credentials.settle_delegation_order"


def delegation_order_for(request, number: str) -> CredentialOrder:
    """A consolidated order the signed-in staff may see (scoped like the admin), else 404."""
    if not request.user.has_perm(VIEW_ORDERS):
        raise PermissionDenied
    orders = CredentialOrder.objects.filter(delegation__isnull=False, number=number).select_related(
        "delegation", "edition"
    )
    order = scope_to_user(orders, request.user).first()
    if order is None:
        raise Http404(_("No such order."))
    return order


@staff_member_required
@require_http_methods(["GET", "POST"])
def delegation_transfer(request, number):
    """转账支付 of a delegation's order: the receiving account, the remittance with its voucher."""
    order = delegation_order_for(request, number)
    may_submit = request.user.has_perm(SETTLE)
    if request.method == "POST" and not may_submit:
        raise PermissionDenied
    deadline = method_deadline(order, Method.TRANSFER)
    form = TransferRemittanceForm(
        request.POST or None,
        request.FILES or None,
        # The secretariat's body usually pays (e.g. 广东省商务厅).
        initial={"payer_name": order.delegation.contact_unit or order.delegation.name},
    )
    if request.method == "POST" and form.is_valid():
        try:
            transfer_remittance_submit(
                order=order, actor=request.user, remittance=form.remittance()
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _(
                    "Remittance received. The order is marked paid once finance has confirmed "
                    "the transfer."
                ),
            )
            return redirect("payments:delegation_transfer", number=order.number)
    transfers = (
        Payment.objects.filter(order=order, method=Method.TRANSFER, remittance__isnull=False)
        .select_related("remittance")
        .order_by("-created_at", "-pk")
    )
    return render(
        request,
        "payments/delegation_transfer.html",
        {
            **admin.site.each_context(request),
            "title": _("Bank transfer"),
            "opts": CredentialOrder._meta,
            "order": order,
            "form": form,
            "account": transfer_account(order),
            "deadline": deadline,
            "open": timezone.now() <= deadline and order.is_payable,
            "awaiting": transfer_awaiting(order),
            "may_submit": may_submit,
            "transfers": transfers,
        },
    )


@staff_member_required
@require_GET
def delegation_voucher(request, number, payment_id):
    """The voucher of one of the order's transfers, for those who may see the order."""
    order = delegation_order_for(request, number)
    remittance = (
        TransferRemittance.objects.select_related("payment")
        .filter(payment_id=payment_id, payment__order=order)
        .first()
    )
    if remittance is None or not remittance.voucher:
        raise Http404(_("No such voucher."))
    return voucher_response(remittance, order.number, request=request)


@staff_member_required
@require_http_methods(["GET", "POST"])
def delegation_refund(request, number):
    """退款 for a delegation's consolidated order: its visitors whose review failed or who were
    cancelled, one or many; the money goes back to the paying account or another account."""
    order = delegation_order_for(request, number)
    if request.method == "POST" and not request.user.has_perm(SETTLE):
        raise PermissionDenied
    lines = list(
        refundable_lines(delegation=order.delegation).filter(order=order).select_related("visitor")
    )
    form = RefundRequestForm(request.POST or None, lines=lines)
    if request.method == "POST" and form.is_valid():
        try:
            refunds = refunds_request(
                delegation=order.delegation,
                line_ids=form.cleaned_data["lines"],
                actor=request.user,
                route=form.cleaned_data["route"] or Refund.Route.ORIGINAL,
                payee=form.payee(),
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("Refund asked for: %(numbers)s. Finance will review it.")
                % {"numbers": ", ".join(refund.number for refund in refunds)},
            )
            return redirect("payments:delegation_refund", number=order.number)
    return render(
        request,
        "payments/delegation_refund.html",
        {
            **admin.site.each_context(request),
            "title": _("Ask for a refund"),
            "opts": CredentialOrder._meta,
            "order": order,
            "form": form,
            "lines": lines,
            "refunds": order.refunds.order_by("-requested_at", "-pk"),
            "may_submit": request.user.has_perm(SETTLE),
        },
    )
