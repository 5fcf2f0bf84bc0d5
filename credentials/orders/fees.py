"""The fee of a visitor's credential (证件注册费用), and what a unit pays for one order line."""

from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ciie_portal.models import Edition
from registration.models import Label, Visitor
from registration.services import reuse_applies

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
FREE_LABELS = (Label.VIP, Label.STAFF)


def credential_fee(visitor: Visitor, edition: Edition) -> Decimal:
    """What the visitor's credential costs (证件注册费用), in CNY to the fen, whoever pays it.

    VIP and staff cost nothing. Holders of last edition's credential who chose to reuse it
    (证件复用) cost the edition's reuse percentage while reuse still applies to the current card
    data (``registration.services.reuse_applies``: name, unit, delegation, label, photo and entry
    days unchanged); a label upgrade or any such change means a new card at the full fee.
    Everyone else costs the fee of their entry days. For many visitors, select_related
    ``entry_period``, ``unit``, ``previous__unit`` and ``previous__entry_period``.
    """
    if visitor.label in FREE_LABELS:
        return ZERO
    if visitor.entry_period is None:
        raise ValidationError(
            _("%(name)s has no entry days: choose them first.") % {"name": visitor.name}
        )
    fee = Decimal(visitor.entry_period.fee)
    if not visitor.needs_new_credential and reuse_applies(visitor):
        fee = edition.reuse_fee(fee)
    return fee.quantize(CENT, ROUND_HALF_UP)


def line_fee(visitor: Visitor, edition: Edition) -> Decimal:
    """What the unit pays for one visitor: the credential fee (``credential_fee``), or nothing
    when the delegation pays for the visitor (交易团代付: it settles one consolidated order of
    its own, see ``delegation_order_create``)."""
    if visitor.paid_by_delegation:
        return ZERO
    return credential_fee(visitor, edition)
