"""Which visitors the review sees: those awaiting review (待审核), within what a user may see."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from delegations.gates import of_approved_units
from delegations.models import Delegation
from delegations.selectors import scope_to_user
from registration.models import Visitor

V = Visitor.Status

# --- Who sees which visitors ---------------------------------------------------------------------


def can_list_for_delegation(user) -> bool:
    """A delegation secretary: a read-only list of their subtree's visitors awaiting review."""
    return (
        user.is_active
        and user.is_staff
        and user.has_perm("registration.view_visitor")
        and getattr(user, "secretary", None) is not None
    )


def pending_review_visitors(
    *,
    edition,
    user=None,
    delegation: Delegation | None = None,
    person_types: Iterable[str] = (),
    only_new: bool = False,
) -> QuerySet:
    """The visitors awaiting review (待审核) of ``edition``, oldest first.

    With ``user`` the rows are limited to what that user may see (a secretary: their subtree);
    ``delegation`` limits them to that delegation and its sub-delegations; ``only_new`` leaves
    out visitors already in a review batch.
    """
    # Only approved units' visitors are sent to the security review (delegations.gates).
    visitors = of_approved_units(Visitor.objects.filter(edition=edition, status=V.PENDING_REVIEW))
    if user is not None:
        visitors = scope_to_user(visitors, user, delegation_field="unit__delegation")
    if delegation is not None:
        visitors = visitors.filter(unit__delegation__in=Delegation.objects.subtree_of(delegation))
    if person_types:
        visitors = visitors.filter(person_type__in=list(person_types))
    if only_new:
        visitors = visitors.filter(review_batches__isnull=True)
    return visitors.select_related("unit__delegation").order_by("pk")
