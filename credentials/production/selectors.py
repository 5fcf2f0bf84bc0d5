"""Which visitors a production selection holds and which of them can be produced."""

from django.db.models import Exists, OuterRef, QuerySet

from credentials.entry.models import SecurityHold
from delegations.gates import of_approved_units
from delegations.models import Delegation
from registration.models import Visitor

from .models import (
    LATIN_NAME_PATTERN,
    Credential,
    NameScript,
)


def selection_visitors(
    *, edition_id: int, delegation: Delegation | None = None, label: str = "", script: str = ""
) -> QuerySet:
    """The visitors of a selection, in any state (revocation looks at all of them)."""
    visitors = Visitor.objects.filter(edition_id=edition_id)
    if delegation is not None:
        visitors = visitors.filter(unit__delegation__in=Delegation.objects.subtree_of(delegation))
    if label:
        visitors = visitors.filter(label=label)
    if script == NameScript.LATIN:
        visitors = visitors.filter(name__regex=LATIN_NAME_PATTERN)
    elif script == NameScript.NON_LATIN:
        visitors = visitors.exclude(name__regex=LATIN_NAME_PATTERN)
    return visitors


def producible(visitors: QuerySet) -> QuerySet:
    """Those of ``visitors`` of approved units who passed review, hold no active credential
    and are not on security hold (the review decision gates production too:
    ``delegations.gates``; a lifted hold makes them producible again)."""
    return (
        of_approved_units(visitors)
        .filter(status=Visitor.Status.REVIEW_PASSED, entry_period__isnull=False)
        .exclude(label="")
        .filter(
            ~Exists(
                Credential.objects.filter(
                    visitor_id=OuterRef("pk"), status=Credential.Status.ACTIVE
                )
            )
        )
        .filter(
            ~Exists(
                SecurityHold.objects.filter(visitor_id=OuterRef("pk"), released_at__isnull=True)
            )
        )
    )


def producible_count(
    *, edition_id: int, delegation: Delegation | None = None, label: str = "", script: str = ""
) -> int:
    return producible(
        selection_visitors(edition_id=edition_id, delegation=delegation, label=label, script=script)
    ).count()
