from django.db.models import Count, Q

from .models import Unit, Visitor


def units_of_account(*, user, edition):
    """The units a contact holds in ``edition``, with visitor counts, in one query."""
    return (
        Unit.objects.filter(account=user, edition=edition)
        .select_related("delegation")
        .annotate(
            visitor_count=Count("visitors"),
            unsubmitted_count=Count("visitors", filter=Q(visitors__status=Visitor.Status.SAVED)),
        )
        .order_by("created_at")
    )
