from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from ciie_portal.context_processors import current_edition_for

from .models import Visitor
from .selectors import units_of_account


@login_required(login_url="registration:login")
def account_home(request):
    edition = current_edition_for(request)
    units = list(units_of_account(user=request.user, edition=edition)) if edition else []
    visitors = (
        Visitor.objects.filter(unit__in=[u.pk for u in units]).order_by("unit", "created_at")
        if units
        else Visitor.objects.none()
    )
    return render(
        request,
        "registration/account_home.html",
        {"edition": edition, "units": units, "visitors": visitors},
    )
