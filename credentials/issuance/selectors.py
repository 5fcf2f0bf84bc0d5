"""证件发放, read: what is ready to issue, what reached its holder, and the unit's credentials
with their parcel or pick-up list."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from credentials.production.models import Credential, PrintBatch
from delegations.models import Delegation
from registration.models import Unit, Visitor

from .models import (
    Parcel,
    ParcelItem,
    PickupItem,
    PickupList,
)

SHIPPED_STATES = (Parcel.Status.SHIPPED, Parcel.Status.DELIVERED)


# --- What is ready to issue --------------------------------------------------------------------


def issuable_credentials(*, edition, pickup: str, delegation: Delegation | None = None):
    """Active, printed credentials of passed visitors who chose ``pickup``, in no parcel or
    pick-up list yet (optionally only the units of ``delegation``'s subtree)."""
    credentials = Credential.objects.filter(
        edition=edition,
        status=Credential.Status.ACTIVE,
        print_batch__status=PrintBatch.Status.PRINTED,
        visitor__status=Visitor.Status.REVIEW_PASSED,
        visitor__pickup=pickup,
    ).filter(
        ~Exists(ParcelItem.objects.filter(credential=OuterRef("pk"))),
        ~Exists(PickupItem.objects.filter(credential=OuterRef("pk"))),
    )
    if delegation is not None:
        credentials = credentials.filter(
            visitor__unit__delegation__in=Delegation.objects.subtree_of(delegation)
        )
    return credentials


def issued_q(prefix: str = "") -> Q:
    """Credentials that reached their holder's side: in a shipped (or delivered) parcel, or on
    a pick-up list handed over to the delegation."""
    return Q(**{f"{prefix}parcel_item__parcel__status__in": SHIPPED_STATES}) | Q(
        **{f"{prefix}pickup_item__pickup_list__status": PickupList.Status.HANDED_OVER}
    )


def issuance_counts(unit: Unit) -> dict[str, int]:
    """For the dashboard (7 证件制作 n, 8 证件发放 n): the unit's active credentials, and how
    many of them were issued. One query."""
    counts = Credential.objects.filter(
        visitor__unit=unit, edition_id=unit.edition_id, status=Credential.Status.ACTIVE
    ).aggregate(produced=Count("pk"), issued=Count("pk", filter=issued_q()))
    return {"produced": counts["produced"], "issued": counts["issued"]}


def credentials_of_unit(unit: Unit) -> QuerySet:
    """The unit's credentials with their parcel or pick-up list, for its issuance page: one
    query however many there are. No ID number in clear."""
    return (
        Credential.objects.filter(visitor__unit=unit, edition_id=unit.edition_id)
        .select_related("visitor", "parcel_item__parcel", "pickup_item__pickup_list__delegation")
        .order_by("visitor__name", "visitor_id", "-pk")
    )


def pickup_list_rows(pickup_list: PickupList) -> QuerySet:
    """The items of a pick-up list for the printed list: visitor, unit, credential."""
    return pickup_list.items.select_related("credential__visitor__unit").order_by(
        "credential__visitor__unit__name", "credential__visitor__name", "pk"
    )
