"""The unit's refund request (退款 / 批量退款)."""

from itertools import groupby

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from registration.access import current_unit, units_in_reach

from .forms import RefundRequestForm
from .models import Method, Payment
from .refunds import refundable_lines, refunds_request


@login_required
@require_http_methods(["GET", "POST"])
def refund_request(request):
    """Every line of the unit, and of its earlier editions' units (往届订单), that can be refunded
    now, grouped by order; one or many at once. ``?order=V…`` preselects that order's lines."""
    unit = current_unit(request)
    units = units_in_reach(unit)
    lines = list(refundable_lines(units=units).select_related("entry_period", "order__edition"))
    form = RefundRequestForm(request.POST or None, lines=lines)
    if request.method == "POST" and form.is_valid():
        try:
            refunds = refunds_request(
                units=units,
                line_ids=form.cleaned_data["lines"],
                actor=request.user,
                route=form.cleaned_data["route"] or "original",
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
            if all(refund.order.unit_id != unit.pk for refund in refunds):
                # 往届订单: the current edition's order list does not show them; their order does.
                return redirect("credentials:order_detail", number=refunds[0].order.number)
            return redirect(reverse("credentials:orders") + "?tab=refund")
    preselected = request.GET.get("order", "")
    if form.is_bound:
        chosen = {int(pk) for pk in form["lines"].value() or [] if str(pk).isdigit()}
    else:
        chosen = {line.pk for line in lines if line.order.number == preselected}
    methods = dict(
        Payment.objects.filter(
            order_id__in={line.order_id for line in lines}, status=Payment.Status.CONFIRMED
        ).values_list("order_id", "method")
    )
    groups = [
        {"order": order, "method": methods.get(order.pk, ""), "lines": list(rows)}
        for order, rows in groupby(lines, key=lambda line: line.order)
    ]
    return render(
        request,
        "payments/refund_request.html",
        {
            "unit": unit,
            "form": form,
            "groups": groups,
            "chosen": chosen,
            "any_transfer": Method.TRANSFER in methods.values(),
        },
    )
