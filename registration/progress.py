"""Steps 7 and 8 of the progress chart (证件制作, 证件发放) are counted by the app that makes
and issues credentials, which builds on this one: registration cannot ask it, so that app
registers a provider here (from its ``AppConfig.ready()``) and the dashboard and the
delegation overview call ``credential_counts``.

A provider takes a queryset of visitors (a unit's, a delegation's) and returns
``{"produced": n, "issued": n, "entered": n}``: how many of them have a valid credential, how
many of those reached their holder, and how many were admitted at the gate at least once.
With no provider (an installation without credentials) all are 0.
"""

from collections.abc import Callable

Counts = dict[str, int]
Provider = Callable[..., Counts]

EMPTY: Counts = {"produced": 0, "issued": 0, "entered": 0}

_providers: list[Provider] = []
_admission_providers: list[Callable] = []


def register_credential_progress(provider: Provider) -> Provider:
    """Register ``provider`` (once, however often ``ready()`` runs); usable as a decorator."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def credential_counts(visitors) -> Counts:
    """Steps 7 and 8 for ``visitors``: the registered providers' counts, added up."""
    counts = dict(EMPTY)
    for provider in _providers:
        for key, value in provider(visitors).items():
            counts[key] = counts.get(key, 0) + value
    return counts


def register_admissions(provider: Callable) -> Callable:
    """Register the provider of gate admissions: ``provider(visitors, edition_id)`` returns
    ``{"by_day": {day: n}, "by_gate": [{"day", "gate", "n", "forced"}], "by_hour": {hour: n}}``
    for those visitors (the app that runs the gate registers it)."""
    if provider not in _admission_providers:
        _admission_providers.append(provider)
    return provider


def admissions(visitors, edition_id: int) -> dict | None:
    """Admissions at the gate of ``visitors`` per day, per day and gate, per hour; None
    without a provider."""
    for provider in _admission_providers:
        return provider(visitors, edition_id)
    return None


_past_order_providers: list[Callable] = []


def register_past_orders(provider: Callable) -> Callable:
    """Register the provider of 往届订单 (the app that makes orders registers it):
    ``provider(units)`` returns ``{unit_id: [order, …]}``, each order with what the dashboard
    shows of it (its lines, payments, invoices and refunds)."""
    if provider not in _past_order_providers:
        _past_order_providers.append(provider)
    return provider


def past_orders(units) -> list[dict]:
    """``[{"unit": unit, "orders": [...]}, …]`` for the earlier editions' ``units``, in their
    order; no orders without a provider."""
    orders: dict = {}
    for provider in _past_order_providers:
        for unit_id, rows in provider(units).items():
            orders.setdefault(unit_id, []).extend(rows)
    return [{"unit": unit, "orders": orders.get(unit.pk, [])} for unit in units]


_deadline_providers: list[Callable] = []


def register_payment_deadline(provider: Callable) -> Callable:
    """Register the provider of the unit's next payment deadline (the app that makes orders
    registers it): ``provider(unit)`` returns ``{"at": datetime, "kind": str, "number": str}``
    or None."""
    if provider not in _deadline_providers:
        _deadline_providers.append(provider)
    return provider


def next_payment_deadline(unit) -> dict | None:
    """The nearest payment deadline of ``unit`` still ahead; None without one (or without a
    provider)."""
    found = [d for d in (provider(unit) for provider in _deadline_providers) if d]
    return min(found, key=lambda d: d["at"]) if found else None


_panel_providers: list[Callable] = []


def register_dashboard_panel(provider: Callable) -> Callable:
    """Register a panel of the unit's dashboard (an app above this one registers it from its
    ``AppConfig.ready()``): ``provider(unit)`` returns None when it has nothing to show, or
    ``{"template": "app/_panel.html", …}``, the template the dashboard includes and the values
    it reads (as ``panel``). Every dashboard asks every provider: one that has nothing to show
    asks the database nothing (per-edition facts come from ``ciie_portal.read_cache``)."""
    if provider not in _panel_providers:
        _panel_providers.append(provider)
    return provider


def dashboard_panels(unit) -> list[dict]:
    """The panels the registered providers show ``unit``, in the order they registered."""
    return [panel for panel in (provider(unit) for provider in _panel_providers) if panel]
