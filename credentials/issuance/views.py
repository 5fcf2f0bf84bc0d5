from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from registration.access import current_unit

from .selectors import credentials_of_unit, issuance_counts

CREDENTIALS_PER_PAGE = 50


@login_required
@require_GET
def issuance(request):
    """证件发放: each of the unit's credentials, with its parcel (查看物流) or its delegation's
    pick-up list. Only the signed-in contact's own unit; a fixed number of queries."""
    unit = current_unit(request)
    page = Paginator(credentials_of_unit(unit), CREDENTIALS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "credentials/issuance.html",
        {
            "unit": unit,
            "page": page,
            "credentials": page.object_list,
            "counts": issuance_counts(unit),
        },
    )
