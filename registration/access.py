"""Who the request is, for the visitor pages of every app: the current edition, the signed-in
contact's unit and the units whose orders it may open. The one home of the request → unit
lookup (credentials, payments and invoicing views use it too)."""

from django.http import Http404
from django.utils.translation import gettext as _

from ciie_portal.context_processors import current_edition_for
from ciie_portal.sql_once import WrittenOnce

from .auth import UNIT_READ_WITH_USER
from .models import Unit
from .selectors import earlier_units


def edition_or_404(request):
    """The edition the request is about, or 404 when none is open."""
    edition = current_edition_for(request)
    if edition is None:
        raise Http404(_("Registration is not open."))
    return edition


#: The SQL of every page's unit, written once per process rather than built by the ORM on every
#: page (benchmarks/rush.py); the delegation is read when a page shows it.
_UNIT_OF_ACCOUNT = WrittenOnce(
    lambda account_id, edition_id: Unit.objects.filter(
        account_id=account_id, edition_id=edition_id
    ).order_by("pk")
)


def _unit_read_with_user(user, edition) -> Unit | None:
    """The unit the authentication read with the user (``registration.auth``), handed out
    once: a later call in the same request reads the unit anew, as a service may have changed
    it since."""
    held = getattr(user, UNIT_READ_WITH_USER, None)
    if held is None:
        return None
    setattr(user, UNIT_READ_WITH_USER, None)
    edition_id, unit = held
    return unit if edition_id == edition.pk else None


def current_unit(request) -> Unit:
    """The signed-in contact's unit in the current edition, or 404."""
    edition = edition_or_404(request)
    unit = _unit_read_with_user(request.user, edition)
    if unit is None:
        found = _UNIT_OF_ACCOUNT.objects(request.user.pk, edition.pk, limit=1)
        unit = found[0] if found else None
    if unit is None:
        raise Http404(_("This account has no unit in the current edition."))
    unit.edition = edition  # the request's, from the shared cache: no join
    return unit


def units_in_reach(unit: Unit) -> list[Unit]:
    """The units whose orders, payments, invoices and refunds the contact of ``unit`` may open:
    the unit itself, then the same organisation's units of earlier editions (往届订单,
    ``selectors.earlier_units``). What may be done with such an order is for the services."""
    return [unit, *earlier_units(unit)]
