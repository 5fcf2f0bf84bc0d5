from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from ciie_portal import page_cache
from ciie_portal.access_log import logged_file_response
from ciie_portal.context_processors import current_edition_for, entry_periods_of
from ciie_portal.read_cache import kept
from registration.models import Unit, Visitor

from .selectors import delegation_directory, scope_to_user


@require_GET
def landing(request):
    """The public home page: the edition, its fees and deadlines, and the delegations'
    contacts (交易团联系方式) — here rather than in ciie_portal because it lists delegations.
    ``?q=`` narrows the contacts to the delegations it finds (Chinese, pinyin or English).

    Without a search, the page is the same for every anonymous visitor in a language: it is
    kept whole in the shared cache (``page_cache``) until the edition or a delegation changes."""
    query = request.GET.get("q", "")[:50].strip()
    if query:
        return _landing_page(request, query)
    return page_cache.serve(
        request,
        "landing",
        topics=("edition", "delegations"),
        render=lambda marks: _landing_page(request, ""),
    )


def _landing_page(request, query: str):
    edition = current_edition_for(request)
    periods = entry_periods_of(edition) if edition else []
    return render(
        request,
        "delegations/landing.html",
        {"edition": edition, "periods": periods, "directory": _directory(query), "query": query},
    )


def _directory(query: str) -> str:
    """The directory's HTML. The whole one (no search), the same for every visitor in a
    language, is rendered once and kept in the shared cache until a delegation or a contact
    changes; a search is rendered each time."""

    def build():
        return render_to_string(
            "delegations/_directory.html",
            {"directory": delegation_directory(query), "query": query},
        )

    if query:
        return build()
    return kept("delegations", f"directory:{get_language()}", build)


@staff_member_required
@require_GET
def unit_licence(request, pk: int):
    """A unit's qualification document for the staff who may see that unit (else 404)."""
    if not request.user.has_perm("registration.view_unit"):
        raise Http404
    unit = get_object_or_404(scope_to_user(Unit.objects.all(), request.user), pk=pk)
    return logged_file_response(request, unit.licence, obj=unit, what="licence")


@staff_member_required
@require_GET
def visitor_photo(request, pk: int):
    """A visitor's photo for the staff who may see that visitor's unit (else 404)."""
    if not request.user.has_perm("registration.view_visitor"):
        raise Http404
    visitors = scope_to_user(
        Visitor.objects.all(), request.user, delegation_field="unit__delegation"
    )
    visitor = get_object_or_404(visitors, pk=pk)
    return logged_file_response(
        request, visitor.photo, obj=visitor, what="photo", content_type="image/jpeg"
    )
