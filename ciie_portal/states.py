"""State machines: each status field has an explicit map of allowed moves.

A move is a conditional UPDATE (``WHERE pk = … AND status = <old>``), so two requests racing on
the same row cannot both succeed, and every move is written to the audit log.
"""

from collections.abc import Iterable, Mapping

from django.db import models, transaction
from django.utils.translation import gettext as _

from .audit import audit_record, audit_record_bulk


class TransitionError(Exception):
    """A state change that cannot happen; ``str(error)`` is meant for people."""


class IllegalTransition(TransitionError):
    pass


class StaleState(TransitionError):
    """The row was not in the state we read: another request changed it first."""


class StateMachine:
    def __init__(
        self,
        *,
        name: str,
        choices: type[models.TextChoices],
        moves: Mapping[str, Iterable[str]],
        field: str = "status",
    ):
        self.name = name
        self.choices = choices
        self.field = field
        self.moves = {source: frozenset(targets) for source, targets in moves.items()}
        unknown = (set(self.moves) | {t for ts in self.moves.values() for t in ts}) - set(
            choices.values
        )
        if unknown:
            raise ValueError(f"{name}: unknown states in the map: {sorted(unknown)}")

    def label(self, state: str) -> str:
        try:
            return str(self.choices(state).label)
        except ValueError:
            return state

    def can(self, source: str, target: str) -> bool:
        return target in self.moves.get(source, ())

    def sources_of(self, target: str) -> list[str]:
        return [source for source, targets in self.moves.items() if target in targets]

    def check(self, source: str, target: str) -> None:
        if not self.can(source, target):
            raise IllegalTransition(
                _("Cannot change from “%(source)s” to “%(target)s”.")
                % {"source": self.label(source), "target": self.label(target)}
            )

    def _apply(self, obj, target: str, also_set: dict) -> None:
        """Mirror on the Python object what the UPDATE wrote."""
        setattr(obj, self.field, target)
        for name, value in also_set.items():
            setattr(obj, name, value)

    def move(
        self,
        obj: models.Model,
        target: str,
        *,
        actor,
        reason: str = "",
        data: dict | None = None,
        **also_set,
    ) -> None:
        """Move one object to ``target``; also writes ``also_set`` fields in the same UPDATE."""
        source = getattr(obj, self.field)
        self.check(source, target)
        model = type(obj)
        with transaction.atomic():
            updated = model._default_manager.filter(pk=obj.pk, **{self.field: source}).update(
                **{self.field: target}, **also_set
            )
            if not updated:
                raise StaleState(
                    _("This record was changed by someone else meanwhile; reload and try again.")
                )
            self._apply(obj, target, also_set)
            audit_record(
                actor=actor,
                obj=obj,
                action=f"{self.name}.{target}",
                from_state=source,
                to_state=target,
                reason=reason,
                data=data,
            )

    def move_many(
        self, queryset: models.QuerySet, target: str, *, actor, reason: str = "", **also_set
    ) -> list:
        """Move every row of ``queryset`` that may go to ``target``; returns the moved objects.

        Rows in a state that cannot move are left alone (the caller reports the count).
        Locks the rows first so that the audit log names exactly the rows that changed.
        """
        sources = self.sources_of(target)
        with transaction.atomic():
            rows = list(
                queryset.filter(**{f"{self.field}__in": sources})
                .select_for_update(of=("self",))
                .order_by("pk")
            )
            if not rows:
                return []
            previous = {row.pk: getattr(row, self.field) for row in rows}
            queryset.model._default_manager.filter(pk__in=list(previous)).update(
                **{self.field: target}, **also_set
            )
            for row in rows:
                self._apply(row, target, also_set)
            audit_record_bulk(
                actor=actor,
                objects=rows,
                action=f"{self.name}.{target}",
                from_state=previous,
                to_state=target,
                reason=reason,
            )
        return rows
