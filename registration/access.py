"""Who the request is, for the visitor pages of every app: the current edition and the signed-in
contact's unit. The one home of the request → unit lookup (credentials, payments and invoicing
views use it too)."""

from django.http import Http404
from django.utils.translation import gettext as _

from ciie_portal.context_processors import current_edition_for

from .models import Unit


def edition_or_404(request):
    """The edition the request is about, or 404 when none is open."""
    edition = current_edition_for(request)
    if edition is None:
        raise Http404(_("Registration is not open."))
    return edition


def current_unit(request) -> Unit:
    """The signed-in contact's unit in the current edition, or 404."""
    edition = edition_or_404(request)
    unit = (
        Unit.objects.filter(account=request.user, edition=edition)
        .select_related("delegation", "delegation__parent", "edition")
        .first()
    )
    if unit is None:
        raise Http404(_("This account has no unit in the current edition."))
    return unit
