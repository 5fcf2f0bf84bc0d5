"""The unit's invoice pages: 开票, 查看发票, 查看物流, 退票, 常用发票信息.

Every page shows only the orders and invoices of the signed-in contact's unit and of its earlier
editions' units (往届订单, ``credentials.orders.access``); anything else is 404.
The PDF is also open to finance staff (permission ``invoicing.view_invoice``).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from credentials.models import CredentialOrder
from credentials.orders.access import order_or_404
from registration.access import current_unit, units_in_reach

from .forms import (
    InvoiceProfileForm,
    InvoiceRequestForm,
    PaperReturnForm,
    ReversalForm,
    kind_notes,
)
from .models import Invoice, InvoiceKind, InvoiceProfile
from .pdf import invoice_pdf
from .services import (
    BUYER_FIELDS,
    invoice_profile_delete,
    invoice_profile_save,
    invoice_request,
    invoice_reverse,
    locked_title,
    offered_kinds,
)

VIEW_INVOICE = "invoicing.view_invoice"


def _order_or_404(request, number: str):
    return order_or_404(request, number)


def _invoice_or_404(request, pk: int) -> Invoice:
    """An invoice of the signed-in contact's unit or of its earlier editions' units; any other
    unit's does not exist."""
    units = units_in_reach(current_unit(request))
    invoice = (
        Invoice.objects.select_related("order", "original")
        .filter(pk=pk, order__unit__in=units)
        .first()
    )
    if invoice is None:
        raise Http404(_("No such invoice."))
    return invoice


def _live_invoice(order: CredentialOrder) -> Invoice | None:
    return order.invoices.blocking_refund().first()


@login_required
@require_http_methods(["GET", "POST"])
def invoice_request_view(request, number):
    """开票: the invoice type and details, for a paid order without an invoice. The types are
    those the order's edition offers, each explained in one sentence above the form."""
    unit, order = _order_or_404(request, number)
    live = _live_invoice(order)
    if live is not None:
        messages.info(request, _("This order already has an invoice."))
        return redirect("invoicing:order_invoices", number=order.number)
    locked = locked_title(order)
    profiles = list(InvoiceProfile.objects.filter(unit=unit))
    initial = {"email": unit.contact_email}
    chosen = request.GET.get("profile", "")
    profile = next((p for p in profiles if str(p.pk) == chosen), None)
    if profile is not None:
        initial.update({name: getattr(profile, name) for name in BUYER_FIELDS})
    kinds = offered_kinds(order.edition)
    form = InvoiceRequestForm(
        request.POST if request.method == "POST" else None,
        locked=locked,
        kinds=kinds,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            invoice = invoice_request(
                order=order,
                actor=request.user,
                kind=form.cleaned_data["kind"],
                buyer=form.buyer(),
                remark=form.cleaned_data.get("remark", ""),
                save_profile=form.cleaned_data.get("save_profile", False),
                profile_unit=unit,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if invoice.is_electronic:
                text = _(
                    "Your invoice request was received: the electronic invoice is issued "
                    "by the system and can be downloaded under View invoice."
                )
            else:
                text = _(
                    "Your invoice request was received: finance will review it, issue the "
                    "paper invoice and post it to you."
                )
            messages.success(request, text)
            return redirect("invoicing:order_invoices", number=order.number)
    return render(
        request,
        "invoicing/invoice_request.html",
        {
            "unit": unit,
            "order": order,
            "form": form,
            "locked": locked,
            "profiles": profiles,
            "profile": profile,
            "paid": order.status == CredentialOrder.Status.PAID,
            "kind_notes": kind_notes(kinds),
        },
    )


@login_required
@require_GET
def order_invoices(request, number):
    """The invoices of one order, with 查看发票 / 查看物流 / 退票."""
    unit, order = _order_or_404(request, number)
    invoices = list(
        order.invoices.select_related("original")
        .prefetch_related("credit_notes")
        .order_by("requested_at", "pk")
    )
    live = next(
        (i for i in invoices if not i.is_credit_note and i.status in Invoice.BLOCKING_STATES),
        None,
    )
    return render(
        request,
        "invoicing/order_invoices.html",
        {
            "unit": unit,
            "order": order,
            "invoices": invoices,
            "can_request": live is None and order.status == CredentialOrder.Status.PAID,
        },
    )


@login_required
@require_GET
def invoice_detail(request, pk):
    """查看发票: the invoice as issued, and its PDF."""
    invoice = _invoice_or_404(request, pk)
    return render(
        request,
        "invoicing/invoice_detail.html",
        {
            "invoice": invoice,
            "order": invoice.order,
            "lines": invoice.lines.all(),
            "credit_notes": invoice.credit_notes.all(),
        },
    )


@login_required
@require_GET
def invoice_download(request, pk):
    """The PDF, for the unit and for finance; rendered from the frozen record (see pdf.py)."""
    if request.user.is_staff and request.user.has_perm(VIEW_INVOICE):
        invoice = Invoice.objects.select_related("order", "original", "issued_by").filter(pk=pk)
        invoice = invoice.first()
    else:
        invoice = _invoice_or_404(request, pk)
    if invoice is None or invoice.number is None:
        raise Http404(_("No such invoice."))
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="invoice-{invoice.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def invoice_logistics(request, pk):
    """查看物流: courier and tracking number of a posted paper invoice."""
    invoice = _invoice_or_404(request, pk)
    if invoice.kind != InvoiceKind.SPECIAL:
        raise Http404(_("No such invoice."))
    return render(
        request, "invoicing/invoice_logistics.html", {"invoice": invoice, "order": invoice.order}
    )


@login_required
@require_http_methods(["GET", "POST"])
def invoice_reverse_view(request, pk):
    """退票: confirm, and for a paper invoice say how it is posted back."""
    invoice = _invoice_or_404(request, pk)
    paper = invoice.kind == InvoiceKind.SPECIAL
    form_class = PaperReturnForm if paper else ReversalForm
    form = form_class(request.POST if request.method == "POST" else None)
    reversible = invoice.status == Invoice.Status.ISSUED and not invoice.is_credit_note
    if request.method == "POST" and reversible and form.is_valid():
        try:
            invoice_reverse(invoice_id=invoice.pk, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if paper:
                text = _(
                    "Thank you: finance will confirm the reversal when the paper invoice arrives."
                )
            else:
                text = _(
                    "The invoice was reversed: a red-letter credit note is issued. You can "
                    "now ask for a refund or a new invoice."
                )
            messages.success(request, text)
            return redirect("invoicing:order_invoices", number=invoice.order.number)
    return render(
        request,
        "invoicing/invoice_reverse.html",
        {"invoice": invoice, "order": invoice.order, "form": form, "reversible": reversible},
    )


@login_required
@require_http_methods(["GET", "POST"])
def profiles(request):
    """常用发票信息: the unit's saved invoice details; 新增发票信息 adds one."""
    unit = current_unit(request)
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    form = InvoiceProfileForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        invoice_profile_save(unit=unit, actor=request.user, details=form.cleaned_data)
        messages.success(request, _("The invoice details were saved."))
        return redirect(next_url or "invoicing:profiles")
    return render(
        request,
        "invoicing/profiles.html",
        {
            "unit": unit,
            "form": form,
            "profiles": InvoiceProfile.objects.filter(unit=unit),
            "next": next_url,
        },
    )


@login_required
@require_POST
def profile_delete(request, pk):
    unit = current_unit(request)
    profile = InvoiceProfile.objects.filter(pk=pk, unit=unit).first()
    if profile is None:
        raise Http404(_("No such invoice details."))
    invoice_profile_delete(profile=profile, actor=request.user)
    messages.success(request, _("The invoice details were deleted."))
    return redirect("invoicing:profiles")
