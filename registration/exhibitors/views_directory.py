"""The directory's pages for a signed-in unit contact: browse and search the exhibitors of the
unit's edition (by area, zone, country and keyword), and one exhibitor with its products.

Only listed exhibitors of the unit's edition are found: any other is a 404."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from ..access import current_unit
from .directory import (
    PAGE_SIZE,
    PRODUCTS_SHOWN,
    edition_countries,
    edition_has_exhibitors,
    exhibitor_for_unit,
    search,
    shown,
)
from .favourites import favourite_ids
from .forms_directory import DirectoryFilterForm


@login_required
@require_GET
def directory(request):
    unit = current_unit(request)
    has_directory = edition_has_exhibitors(unit.edition_id)
    filters = DirectoryFilterForm(
        request.GET or None,
        country_codes=edition_countries(unit.edition_id) if has_directory else (),
    )
    chosen = filters.filters()
    page, exhibitors = None, []
    if has_directory:
        paginator = Paginator(search(unit.edition_id, **chosen), PAGE_SIZE)
        page = paginator.get_page(request.GET.get("page"))
        exhibitors = shown(page.object_list)
    return render(
        request,
        "registration/exhibitors/directory.html",
        {
            "unit": unit,
            "has_directory": has_directory,
            "filters": filters,
            "filtering": any(chosen.values()),
            "keyword": chosen["keyword"],
            "page": page,
            "exhibitors": exhibitors,
            "page_links": page.paginator.get_elided_page_range(page.number) if page else [],
            "products_shown": PRODUCTS_SHOWN,
        },
    )


@login_required
@require_GET
def exhibitor_detail(request, pk: int):
    unit = current_unit(request)
    exhibitor = exhibitor_for_unit(unit.edition_id, pk)
    if exhibitor is None:
        raise Http404(_("No such exhibitor in this edition's directory."))
    return render(
        request,
        "registration/exhibitors/directory_exhibitor.html",
        {
            "unit": unit,
            "exhibitor": shown([exhibitor])[0],
            "products": exhibitor.product_list,
            # The favourite button of ``_exhibitor_actions.html`` (one query).
            "is_favourite": exhibitor.pk in favourite_ids(unit, [exhibitor.pk]),
        },
    )
