"""Orders that money is on its way for: an extension point the payments app fills in.

This app closes orders (``services.orders_expire``) and reminds units to pay
(``reminders``), but it cannot see payments, which build on it. The payments app registers, from
its ``AppConfig.ready()``, two providers:

- ``held_open(now)``: the orders that must not be closed at ``now`` although their payment
  window has ended (a remittance submitted before the transfer deadline that finance has not
  decided yet, within the edition's grace for transfers);
- ``awaiting_finance()``: the orders whose payer has said the money is sent and finance has
  not decided (no reminder to pay is sent for them).

Each returns a queryset of ``CredentialOrder`` primary keys (``.values("pk")``), so that the
callers use it as a subquery: one statement, however many orders. With no provider nothing is
held and nothing awaits finance.
"""

from collections.abc import Callable
from datetime import datetime

from django.db.models import Q

_held_open: list[Callable] = []
_awaiting_finance: list[Callable] = []


def register_order_holds(*, held_open: Callable, awaiting_finance: Callable) -> None:
    """Register the two providers (once, however often ``ready()`` runs)."""
    if held_open not in _held_open:
        _held_open.append(held_open)
    if awaiting_finance not in _awaiting_finance:
        _awaiting_finance.append(awaiting_finance)


def held_open_q(now: datetime) -> Q:
    """Orders held open at ``now`` (``Q`` on ``CredentialOrder``; matches nothing without a
    provider)."""
    q = Q(pk__in=[])
    for provider in _held_open:
        q |= Q(pk__in=provider(now))
    return q


def awaiting_finance_q() -> Q:
    """Orders whose money awaits finance's decision (``Q`` on ``CredentialOrder``)."""
    q = Q(pk__in=[])
    for provider in _awaiting_finance:
        q |= Q(pk__in=provider())
    return q
