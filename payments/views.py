import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ciie_portal.access_log import access_record
from ciie_portal.private_files import private_file_response
from credentials.orders.access import order_or_404
from registration.access import current_unit, units_in_reach

from .forms import TransferRemittanceForm
from .models import QR_METHODS, Method, Payment, PaymentNotification, TransferRemittance
from .providers import UnknownProvider, provider_for, sandbox_enabled
from .services import (
    method_deadline,
    payment_create,
    payment_notification_handle,
    sandbox_payment_submit,
    transfer_account,
    transfer_awaiting,
    transfer_remittance_submit,
)


def _order_or_404(request, number: str):
    """The order of the signed-in contact's unit, or of its earlier editions' (往届订单)."""
    return order_or_404(request, number)[1]


@login_required
@require_POST
def payment_start(request, number):
    """扫码支付 / B2B网上支付: record the payment, then go to the gateway."""
    order = _order_or_404(request, number)
    if request.POST.get("method") == Method.TRANSFER:
        # A transfer is recorded with its remittance and voucher, on its own page.
        return redirect("payments:transfer", number=order.number)
    try:
        payment = payment_create(
            order=order, method=request.POST.get("method", ""), actor=request.user
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("credentials:order_detail", number=order.number)
    return_url = request.build_absolute_uri(
        reverse("credentials:order_detail", kwargs={"number": order.number})
    )
    # Outside the transaction: a real gateway is called over the network here.
    result = provider_for(payment.method).start(payment, return_url)
    return redirect(result.redirect_url or return_url)


@login_required
@require_http_methods(["GET", "POST"])
def sandbox(request, payment_id):
    """The gateway's side, played by the portal in the sandbox: the wallet's QR code or the
    bank's page, with "pay" and "fail"."""
    if not sandbox_enabled():
        raise Http404
    payment = (
        Payment.objects.select_related("order", "order__edition")
        .filter(pk=payment_id, order__unit__in=units_in_reach(current_unit(request)))
        .first()
    )
    if payment is None:
        raise Http404(_("No such payment."))
    order = payment.order
    if request.method == "POST":
        succeeded = request.POST.get("outcome") == "pay"
        sandbox_payment_submit(payment=payment, succeeded=succeeded)
        if succeeded:
            messages.success(
                request, _("Payment sent. The order is marked paid once the gateway confirms it.")
            )
        else:
            messages.error(request, _("The payment failed. You can choose a method again."))
        return redirect("credentials:order_detail", number=order.number)
    provider = provider_for(payment.method)
    qr_svg = None
    if payment.method in QR_METHODS:
        qr_svg = mark_safe(  # noqa: S308 - segno's own SVG, no user input in the markup
            segno.make(provider.qr_payload(payment), error="m").svg_inline(scale=5)
        )
    return render(
        request,
        "payments/sandbox.html",
        {
            "payment": payment,
            "order": order,
            "qr_svg": qr_svg,
            "seconds_left": order.seconds_left(),
        },
    )


@csrf_exempt
@require_POST
def notify(request, provider):
    """The gateways' callback. Answers "success" once handled (also for a repeat), so the
    gateway stops resending; 400 for a notification that does not verify."""
    try:
        record = payment_notification_handle(
            provider=provider, body=request.body, headers=request.headers
        )
    except UnknownProvider:
        raise Http404 from None
    if record.result == PaymentNotification.Result.INVALID:
        return HttpResponseBadRequest("invalid", content_type="text/plain")
    return HttpResponse("success", content_type="text/plain")


@login_required
@require_http_methods(["GET", "POST"])
def transfer(request, number):
    """转账支付: the account to transfer to, and the remittance form with the voucher."""
    order = _order_or_404(request, number)
    deadline = method_deadline(order, Method.TRANSFER)
    awaiting = transfer_awaiting(order)
    form = TransferRemittanceForm(request.POST or None, request.FILES or None)
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
            return redirect("payments:transfer", number=order.number)
    transfers = (
        Payment.objects.filter(order=order, method=Method.TRANSFER, remittance__isnull=False)
        .select_related("remittance")
        .order_by("-created_at", "-pk")
    )
    return render(
        request,
        "payments/transfer.html",
        {
            "order": order,
            "form": form,
            "account": transfer_account(order),
            "deadline": deadline,
            "open": timezone.now() <= deadline and order.is_payable,
            "awaiting": awaiting,
            "transfers": transfers,
        },
    )


@login_required
@require_GET
def voucher(request, payment_id):
    """A transfer's voucher: for the unit that paid, and for staff who may see payments
    (finance, organisers). Anyone else gets 404, never a public URL."""
    remittance = (
        TransferRemittance.objects.select_related("payment__order")
        .filter(payment_id=payment_id)
        .first()
    )
    if not (request.user.is_staff and request.user.has_perm("payments.view_payment")):
        units = units_in_reach(current_unit(request))
        if remittance is not None and remittance.payment.order.unit_id not in {u.pk for u in units}:
            remittance = None
    if remittance is None or not remittance.voucher:
        raise Http404(_("No such voucher."))
    return voucher_response(remittance, remittance.payment.order.number, request=request)


def voucher_response(remittance: TransferRemittance, order_number: str, request=None):
    """A transfer voucher for someone its view has let through: a PDF as a download, an image
    shown; never cached. Staff's downloads are recorded in the access log."""
    extension = remittance.voucher.name.rsplit(".", 1)[-1].lower()
    response = private_file_response(
        remittance.voucher,
        content_type="application/pdf" if remittance.voucher_is_pdf else None,
        as_attachment=remittance.voucher_is_pdf,
        filename=f"voucher-{order_number}-{remittance.payment_id}.{extension}",
    )
    if request is not None:
        access_record(
            actor=request.user, obj=remittance.payment.order, what="voucher", via=request.path
        )
    return response
