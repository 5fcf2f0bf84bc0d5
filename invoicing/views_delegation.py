"""交易团代付: the delegation receives the invoice of its consolidated order.

Admin-styled pages for the delegation's secretaries (scoped like the admin; anyone else gets
404): the order's invoices with their PDFs, and the request of a new one while none is live.
The title is the payer named on the confirmed bank transfer, as for a unit's transfer.
"""

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from credentials.models import CredentialOrder
from payments.views_delegation import SETTLE, delegation_order_for

from .forms import InvoiceRequestForm, kind_notes
from .models import Invoice
from .pdf import invoice_pdf
from .services import invoice_request, locked_title, offered_kinds


@staff_member_required
@require_http_methods(["GET", "POST"])
def delegation_invoices(request, number):
    order = delegation_order_for(request, number)
    may_request = request.user.has_perm(SETTLE)
    if request.method == "POST" and not may_request:
        raise PermissionDenied
    live = order.invoices.blocking_refund().first()
    form, kinds = None, []
    if order.status == CredentialOrder.Status.PAID and live is None:
        kinds = offered_kinds(order.edition)
        form = InvoiceRequestForm(
            request.POST if request.method == "POST" else None,
            locked=locked_title(order),
            kinds=kinds,
        )
        form.fields.pop("save_profile")  # profiles are a unit's
        if request.method == "POST" and form.is_valid():
            try:
                invoice_request(
                    order=order,
                    actor=request.user,
                    kind=form.cleaned_data["kind"],
                    buyer=form.buyer(),
                    remark=form.cleaned_data.get("remark", ""),
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(
                    request,
                    _("Invoice requested for order %(number)s.") % {"number": order.number},
                )
                return redirect("invoicing:delegation_invoices", number=order.number)
    return render(
        request,
        "invoicing/delegation_invoices.html",
        {
            **admin.site.each_context(request),
            "title": _("Invoices"),
            "opts": CredentialOrder._meta,
            "order": order,
            "invoices": order.invoices.order_by("-requested_at", "-pk"),
            "form": form if may_request else None,
            "kind_notes": kind_notes(kinds),
        },
    )


@staff_member_required
@require_GET
def delegation_invoice_pdf(request, number, pk):
    order = delegation_order_for(request, number)
    invoice = Invoice.objects.filter(order=order, pk=pk).select_related("original").first()
    if invoice is None or invoice.number is None:
        raise Http404(_("No such invoice."))
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="invoice-{invoice.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
