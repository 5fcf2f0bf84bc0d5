"""注销 by the unit: cancel one of its submitted visitors from the visitor's page.

Here rather than in ``registration`` because cancelling touches orders and refunds (and later
credentials), which that app may not import.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from registration.access import current_unit
from registration.models import Visitor

from .cancellation import visitors_cancel


@login_required
@require_POST
def visitor_cancel_view(request, pk):
    """The signed-in contact's own visitor only; any other visitor does not exist (404)."""
    unit = current_unit(request)
    visitor = get_object_or_404(Visitor, pk=pk, unit=unit, join_pending=False)
    if visitor.status == Visitor.Status.SAVED:
        messages.error(request, _("A saved visitor is not cancelled but deleted."))
        return redirect("registration:visitor_edit", pk=visitor.pk)
    result = visitors_cancel(
        visitors=Visitor.objects.filter(pk=visitor.pk, unit=unit),
        actor=request.user,
        reason=request.POST.get("reason", "")[:500],
    )
    if not result.count:
        messages.error(
            request,
            _("%(name)s cannot be cancelled: the visitor is “%(status)s”.")
            % {"name": visitor.name, "status": visitor.get_status_display()},
        )
    else:
        messages.success(request, _("%(name)s was cancelled.") % {"name": visitor.name})
        orders = result.unpaid_orders.get(unit.pk)
        if orders:
            messages.warning(
                request,
                _(
                    "Unpaid order %(orders)s still holds this visitor: cancel the order and "
                    "submit the other visitors again, so that you do not pay for a cancelled "
                    "visitor."
                )
                % {"orders": ", ".join(orders)},
            )
    return redirect("registration:visitor_edit", pk=visitor.pk)
