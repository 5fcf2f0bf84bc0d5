from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from registration.access import current_unit

from .access import is_past_order, order_or_404
from .forms import OrderCreateForm
from .selectors import ORDER_TABS, orders_of_unit, payable_visitors
from .services import order_cancel, order_create

ORDERS_PER_PAGE = 20


def _clock(seconds: int) -> str:
    """04:05, or 1:04:05 past an hour (the page's countdown continues from it)."""
    hours, rest = divmod(seconds, 3600)
    clock = f"{rest // 60:02d}:{rest % 60:02d}"
    return f"{hours}:{clock}" if hours else clock


@login_required
@require_GET
def order_list(request):
    """人员证件订单: the unit's orders by tab, each with its lines."""
    unit = current_unit(request)
    tab = request.GET.get("tab", "all")
    if tab not in ORDER_TABS:
        tab = "all"
    page = Paginator(orders_of_unit(unit, tab=tab), ORDERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    tabs = [
        ("all", _("All orders")),
        ("unpaid", _("Unpaid orders")),
        ("paid", _("Paid orders")),
        ("refund", _("Orders with refunds")),
    ]
    return render(
        request,
        "credentials/order_list.html",
        {"unit": unit, "tab": tab, "tabs": tabs, "page": page, "orders": page.object_list},
    )


@login_required
@require_http_methods(["GET", "POST"])
def order_create_view(request):
    """提交办证(付费): choose visitors awaiting payment; the order is made and shown."""
    unit = current_unit(request)
    rows = payable_visitors(unit)
    form = OrderCreateForm(request.POST if request.method == "POST" else None, rows=rows)
    if request.method == "POST" and form.is_valid():
        try:
            order = order_create(
                unit=unit, visitor_ids=form.cleaned_data["visitors"], actor=request.user
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("Order %(number)s was created. Please pay soon to complete the registration.")
                % {"number": order.number},
            )
            return redirect("credentials:order_detail", number=order.number)
    selected = {int(pk) for pk in form["visitors"].value() or [] if str(pk).isdigit()}
    return render(
        request,
        "credentials/order_create.html",
        {"unit": unit, "form": form, "rows": rows, "selected": selected},
    )


@login_required
@require_GET
def order_detail(request, number):
    unit, order = order_or_404(request, number)
    seconds_left = order.seconds_left()
    lines = order.lines.all()
    return render(
        request,
        "credentials/order_detail.html",
        {
            "unit": unit,
            "order": order,
            # 往届订单: an order of an earlier edition, under that edition's rules.
            "past": is_past_order(unit, order),
            "lines": lines,
            # Refunds are the payments app's ledger, reached by its reverse relation.
            "refunds": order.refunds.order_by("-requested_at", "-pk"),
            # The refund rule is OrderLine.objects.refundable(), which the refunds also use.
            "refundable": order.lines.refundable().exists(),
            # The server decides how long is left; the page only counts it down.
            "seconds_left": seconds_left,
            "time_left": _clock(seconds_left),
        },
    )


@login_required
@require_POST
def order_cancel_view(request, number):
    _unit, order = order_or_404(request, number)
    try:
        order_cancel(order=order, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("Order %(number)s was cancelled. Its visitors can be submitted again.")
            % {"number": order.number},
        )
    return redirect("credentials:order_detail", number=order.number)
