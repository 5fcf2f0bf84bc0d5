"""供采对接, the unit's pages: the exhibitors recommended for its purchase intentions with the
reasons, its matching preferences (countries and regions), its favourites.

Every write goes through ``favourites``; another unit's favourite is never found (404). The
pages cost the same number of queries for one exhibitor or a full edition."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_countries import countries as all_countries

from ciie_portal.names import localized

from ..access import current_unit
from .directory import edition_has_exhibitors
from .favourites import (
    favourite_add,
    favourite_remove,
    favourites_of,
    matching_profile_save,
)
from .forms_matching import MatchingPreferencesForm
from .matching import intentions_of, profile_countries, recommendations
from .models import Exhibitor, Favourite

#: Recommendations per page.
PAGE_SIZE = 20
#: Favourites per page.
FAVOURITES_PAGE_SIZE = 50


def _page_number(request) -> int:
    try:
        return max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        return 1


@login_required
@require_GET
def matching_list(request):
    """为您推荐的展商: the edition's exhibitors that fit the unit, best first, with the reasons;
    what to fill in when the unit has said nothing it wants."""
    unit = current_unit(request)
    has_exhibitors = edition_has_exhibitors(unit.edition_id)
    countries = profile_countries(unit)
    intentions = intentions_of(unit, countries)
    number = _page_number(request)
    matches, has_next = [], False
    if has_exhibitors and not intentions.empty:
        found = recommendations(
            unit, limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE, intentions=intentions
        )
        has_next = len(found) > PAGE_SIZE
        matches = found[:PAGE_SIZE]
        if not matches and number > 1:
            raise Http404(_("There is no such page of recommendations."))
    return render(
        request,
        "registration/exhibitors/matching_list.html",
        {
            "unit": unit,
            "active": "matching",
            "has_exhibitors": has_exhibitors,
            "intentions": intentions,
            "country_names": _country_names(countries),
            "matches": matches,
            "page_number": number,
            "first_rank": (number - 1) * PAGE_SIZE + 1,
            "has_previous": number > 1,
            "has_next": has_next,
            "here": request.get_full_path(),
        },
    )


def _country_names(codes) -> list[str]:
    return [all_countries.name(code) or code for code in codes]


@login_required
@require_http_methods(["GET", "POST"])
def matching_preferences(request):
    """The countries and regions whose exhibitors the unit wants to see."""
    unit = current_unit(request)
    if request.method == "POST":
        form = MatchingPreferencesForm(request.POST)
        if form.is_valid():
            matching_profile_save(
                unit=unit, countries=form.cleaned_data["countries"], actor=request.user
            )
            messages.success(request, _("Your matching preferences were saved."))
            return redirect("registration:matching")
    else:
        form = MatchingPreferencesForm(initial={"countries": profile_countries(unit)})
    return render(
        request,
        "registration/exhibitors/matching_preferences.html",
        {"unit": unit, "active": "matching", "form": form},
    )


def _next_or(request, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@login_required
@require_POST
def favourite_toggle(request, pk: int):
    """Keep (``action=add``) or let go of (``action=remove``) an exhibitor, then back to the
    page the button was on (``next``)."""
    unit = current_unit(request)
    exhibitor = get_object_or_404(
        Exhibitor.objects.filter(edition_id=unit.edition_id, is_listed=True), pk=pk
    )
    name = localized(exhibitor.name, exhibitor.name_en)
    if request.POST.get("action") == "remove":
        favourite_remove(unit=unit, exhibitor=exhibitor, actor=request.user)
        messages.success(request, _("%(name)s was removed from your favourites.") % {"name": name})
    else:
        try:
            favourite_add(unit=unit, exhibitor=exhibitor, actor=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("%(name)s was added to your favourites.") % {"name": name})
    return redirect(_next_or(request, reverse("registration:favourites")))


@login_required
@require_GET
def favourite_list(request):
    """The unit's favourite exhibitors, newest first, each with a remove button."""
    unit = current_unit(request)
    paginator = Paginator(favourites_of(unit), FAVOURITES_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    for favourite in page.object_list:
        favourite.name = localized(favourite.exhibitor.name, favourite.exhibitor.name_en)
    return render(
        request,
        "registration/exhibitors/favourites_list.html",
        {
            "unit": unit,
            "active": "favourites",
            "page": page,
            "here": request.get_full_path(),
        },
    )


@login_required
@require_POST
def favourite_remove_view(request, pk: int):
    """Remove one of the unit's favourites (another unit's: 404)."""
    unit = current_unit(request)
    favourite = get_object_or_404(
        Favourite.objects.filter(unit_id=unit.pk).select_related("exhibitor"), pk=pk
    )
    exhibitor = favourite.exhibitor
    favourite_remove(unit=unit, exhibitor=exhibitor, actor=request.user)
    name = localized(exhibitor.name, exhibitor.name_en)
    messages.success(request, _("%(name)s was removed from your favourites.") % {"name": name})
    fallback = reverse("registration:favourites")
    page = request.POST.get("page", "")
    if page.isdigit() and page != "1":
        fallback += "?" + urlencode({"page": page})
    return redirect(_next_or(request, fallback))
