"""The portal's operational figures: one registry read by ``/metrics``, the operations page
and ``manage.py ops_report``.

Each app registers its figures in its own ``ops_figures.py`` (imported from its
``AppConfig.ready()``) with :func:`register_figure`. A figure computes a few labelled values
for a :class:`Scope` (an edition and, for scoped figures, one delegation) from the database,
Redis or the broker. Every query must be cheap — it runs on every scrape and page refresh:
indexed, limited to the current edition, never a scan of all visitors.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scope:
    # None: the current edition (ciie_portal.context_processors.current_edition()).
    edition_id: int | None
    # None: everything; else only that delegation's part.
    delegation_id: int | None = None


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]  # e.g. {"channel": "sms", "state": "queued"}; {} when none
    value: float


@dataclass(frozen=True)
class Figure:
    name: str  # Prometheus-style, without prefix, e.g. "notices"
    label: str  # human, translatable (gettext_lazy)
    help: str  # one English sentence for the /metrics HELP line
    compute: Callable[[Scope], list[Sample]]
    scoped: bool = False  # True when compute honours Scope.delegation_id
    admin_url: Callable[[Scope], str | None] | None = None  # the admin list that acts on it
    unit: str = ""  # "seconds", "count", "per_second"... for display


_registry: dict[str, Figure] = {}


def register_figure(figure: Figure) -> None:
    """Add ``figure`` (registering a name again replaces the earlier one)."""
    _registry[figure.name] = figure


def figures() -> list[Figure]:
    """Every registered figure, in the order they were registered."""
    return list(_registry.values())


def resolve(scope: Scope) -> Scope:
    """``scope`` with ``edition_id`` filled in (the current edition's; None when there is none)."""
    if scope.edition_id is not None:
        return scope
    from ..context_processors import current_edition

    edition = current_edition()
    return replace(scope, edition_id=edition.pk if edition else None)


def snapshot(scope: Scope) -> dict[str, list[Sample]]:
    """Every figure computed for ``scope`` (by name).

    For a delegation's scope only the figures that honour it (``scoped``) are computed: the
    others are the whole portal's and not that delegation's to see. A figure that fails is
    logged and left out, so one broken figure never hides the others.
    """
    scope = resolve(scope)
    values = {}
    for figure in figures():
        if scope.delegation_id is not None and not figure.scoped:
            continue
        try:
            values[figure.name] = list(figure.compute(scope))
        except Exception:
            logger.exception("Figure %s could not be computed", figure.name)
    return values


def admin_url_of(figure: Figure, scope: Scope) -> str | None:
    """The admin list that acts on ``figure`` for ``scope`` (None when there is none)."""
    if figure.admin_url is None:
        return None
    try:
        return figure.admin_url(resolve(scope))
    except Exception:
        logger.exception("Figure %s: its admin link could not be made", figure.name)
        return None
