"""What the operations page (``ciie_portal/admin_ops.py``) shows besides the figures
(``figures.py``) and the charts (``series.py``), filled in by the apps from their
``ops_series.py``:

- **watch lists**: the few rows somebody should act on now — the oldest notice still waiting,
  payments flagged for finance, production jobs that stopped moving — each linking to its admin
  page (:func:`register_watch`);
- **whose part a staff user sees**: the delegation of a secretary (:func:`register_staff_scope`;
  the delegations app, above this one, knows secretaries);
- **names of label values**: ``{"channel": "sms"}`` shown as 短信 (:func:`register_label_names`).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .figures import Scope, resolve

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchRow:
    text: str  # what it is: "短信 registration.submitted"
    since: datetime | None = None  # since when it waits (shown in Beijing time, with its age)
    url: str | None = None  # its admin page
    detail: str = ""  # one more line: an amount, a reason, a progress


@dataclass(frozen=True)
class Watch:
    name: str  # e.g. "stalled_production_jobs"
    label: str  # human, translatable (gettext_lazy)
    rows: Callable[[Scope], list[WatchRow]]  # a few rows, the most urgent first
    scoped: bool = False  # True when rows honours Scope.delegation_id
    # The admin list of all of them (filtered); staff other than organisers see the watch list
    # only if they may open it.
    admin_url: Callable[[Scope], str | None] | None = None
    empty: str = ""  # the text when there is nothing to watch (translatable)


_watches: dict[str, Watch] = {}
_staff_scopes: list[Callable] = []
_label_names: dict[str, dict[str, str]] = {}


def register_watch(watch: Watch) -> None:
    """Add ``watch`` (registering a name again replaces the earlier one)."""
    _watches[watch.name] = watch


def watches() -> list[Watch]:
    return list(_watches.values())


def watch_rows(scope: Scope, names=None) -> dict[str, list[WatchRow]]:
    """The watch lists (those named, or all) for ``scope`` (only the scoped ones for a
    delegation's); a failing one is logged and left out."""
    scope = resolve(scope)
    values = {}
    for watch in watches():
        if names is not None and watch.name not in names:
            continue
        if scope.delegation_id is not None and not watch.scoped:
            continue
        try:
            values[watch.name] = list(watch.rows(scope))
        except Exception:
            logger.exception("Watch list %s could not be read", watch.name)
    return values


def register_staff_scope(delegation_of: Callable) -> None:
    """``delegation_of(user)`` -> the delegation whose part ``user`` sees (a secretary's: an
    object with ``pk``, shown by its ``str()``), or None when it knows none for the user."""
    if delegation_of not in _staff_scopes:
        _staff_scopes.append(delegation_of)


def staff_delegation(user):
    """The delegation whose part ``user`` sees on the page, None when none limits them."""
    for delegation_of in _staff_scopes:
        delegation = delegation_of(user)
        if delegation is not None:
            return delegation
    return None


def register_label_names(key: str, names: dict[str, str]) -> None:
    """How the values of label ``key`` read (values not named are shown as they are). Keys are
    shared by the figures of every app ("state"): a value named already keeps its first name."""
    known = _label_names.setdefault(key, {})
    for value, name in names.items():
        known.setdefault(value, name)


def label_name(key: str, value: str) -> str:
    return str(_label_names.get(key, {}).get(value, value))
