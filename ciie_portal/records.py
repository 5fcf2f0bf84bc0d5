"""Records that are never edited once made, nor deleted: credentials and print batches, invoices
and their lines.

A guarded model declares the fields its life may still change (``mutable_fields``, e.g. the
status a state machine moves); everything else is frozen once the row exists. Its queryset
refuses ``update()`` of any other field and ``delete()`` altogether; the model refuses
``save()`` of an existing row unless ``update_fields`` names only mutable fields, and refuses
``delete()``. A queryset and its model may allow different fields: an invoice's state machine
updates its lifecycle fields through the queryset, while an invoice instance is never saved
again at all.

    class PrintBatchQuerySet(GuardedQuerySet):
        mutable_fields = frozenset({"status", "printed_at", "cancelled_at"})

    class PrintBatch(GuardedModel):
        mutable_fields = PrintBatchQuerySet.mutable_fields
        objects = PrintBatchQuerySet.as_manager()
"""

from django.db import models


class ImmutableRecord(Exception):
    """A field of a record that never changes once made was about to be written, or the
    record deleted."""


class GuardedQuerySet(models.QuerySet):
    """UPDATE only the fields a record's life may change; no DELETE at all."""

    mutable_fields: frozenset[str] = frozenset()

    def update(self, **kwargs):
        frozen = set(kwargs) - self.mutable_fields
        if frozen:
            raise ImmutableRecord(
                f"{self.model.__name__}: {', '.join(sorted(frozen))} never change once made."
            )
        return super().update(**kwargs)

    def delete(self):
        raise ImmutableRecord(f"{self.model.__name__} records are never deleted.")

    delete.queryset_only = True


class GuardedModel(models.Model):
    """Insert once; then save only ``update_fields`` within ``mutable_fields``; never delete."""

    mutable_fields: frozenset[str] = frozenset()

    class Meta:
        abstract = True

    def save(self, *args, update_fields=None, **kwargs):
        if not self._state.adding:
            frozen = set(update_fields or ["(all fields)"]) - self.mutable_fields
            if frozen:
                raise ImmutableRecord(
                    f"{type(self).__name__}: {', '.join(sorted(frozen))} never change once made."
                )
        super().save(*args, update_fields=update_fields, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecord(f"{type(self).__name__} records are never deleted.")
