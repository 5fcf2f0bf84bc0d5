"""The request → order lookup of every order page (this app's, the payments app's pay, transfer
and refund pages, the invoicing app's): an order of the signed-in contact's unit or of the same
organisation's unit of an earlier edition (往届订单, ``registration.access.units_in_reach``).
Any other order does not exist (404). What may be done with the order is for the services."""

from django.http import Http404
from django.utils.translation import gettext as _

from registration.access import current_unit, units_in_reach
from registration.models import Unit

from .models import CredentialOrder
from .selectors import order_of_units


def order_or_404(request, number: str) -> tuple[Unit, CredentialOrder]:
    """The signed-in contact's current unit and its (or its earlier editions') order
    ``number``; 404 for any other."""
    unit = current_unit(request)
    order = order_of_units(units_in_reach(unit), number)
    if order is None:
        raise Http404(_("No such order."))
    return unit, order


def is_past_order(unit: Unit, order: CredentialOrder) -> bool:
    """Whether ``order`` is of an earlier edition than the contact's current ``unit``."""
    return order.edition_id != unit.edition_id
