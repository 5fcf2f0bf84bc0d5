"""Filters and columns of the visitor lists that the apps built on this one provide.

The unit's visitor list (``/accounts/visitors/``) filters by payment status (按支付状态) and by
order status (按订单状态); the secretaries' list in the admin filters and shows the credential
status (证件状态) and the fee. Those states belong to the apps that take orders, payments and
make credentials, which this app may not import. So each of them registers its filters and
columns here from its ``AppConfig.ready()``, and the lists ask this module.

A filter's ``apply(queryset, value)`` narrows a visitor queryset to ``value`` (one of its
``choices``) with set-based conditions (``Exists`` subqueries), never one query per row.
A column's ``annotate(queryset)`` adds the attribute ``name`` to every visitor of a queryset
with one subquery, so a page of 1 or 200 visitors costs the same queries; ``display(value)``
turns that value into the text shown.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

#: The unit contact's list, ``/accounts/visitors/``.
UNIT_LIST = "unit"
#: The secretaries' and organisers' list, the visitor changelist of the admin.
STAFF_LIST = "staff"


@dataclass(frozen=True)
class VisitorListFilter:
    name: str
    label: str
    choices: Sequence[tuple[str, str]]
    apply: Callable
    lists: frozenset[str]

    def values(self) -> set[str]:
        return {value for value, _label in self.choices}


@dataclass(frozen=True)
class VisitorListColumn:
    name: str
    label: str
    annotate: Callable
    display: Callable


_filters: dict[str, VisitorListFilter] = {}
_columns: dict[str, VisitorListColumn] = {}


def register_visitor_list_filter(
    name: str,
    label: str,
    choices: Sequence[tuple[str, str]],
    apply: Callable,
    *,
    lists: Iterable[str] = (UNIT_LIST, STAFF_LIST),
) -> VisitorListFilter:
    """Offer a filter named ``name`` (its query-string parameter) on the visitor ``lists``.

    Registering the same name again replaces it, so ``ready()`` may run more than once."""
    entry = VisitorListFilter(name, label, tuple(choices), apply, frozenset(lists))
    _filters[name] = entry
    return entry


def visitor_list_filters(list_name: str) -> list[VisitorListFilter]:
    """The filters registered for ``list_name`` (``UNIT_LIST`` or ``STAFF_LIST``)."""
    return [entry for entry in _filters.values() if list_name in entry.lists]


def register_visitor_list_column(
    name: str, label: str, annotate: Callable, display: Callable = str
) -> VisitorListColumn:
    """Offer a column of the staff visitor list: ``annotate(queryset)`` adds ``name`` to each
    visitor, ``display(value)`` shows it (``value`` may be None)."""
    entry = VisitorListColumn(name, label, annotate, display)
    _columns[name] = entry
    return entry


def visitor_list_column(name: str) -> VisitorListColumn | None:
    return _columns.get(name)


def visitor_list_annotate(queryset):
    """``queryset`` with every registered column's value on each visitor."""
    for column in _columns.values():
        queryset = column.annotate(queryset)
    return queryset
