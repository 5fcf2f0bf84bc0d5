from django.db import transaction

from .audit import audit_record
from .models import Edition


def edition_make_current(*, edition: Edition, actor) -> Edition:
    """Make ``edition`` the current one; the previous current edition stops being current."""
    with transaction.atomic():
        # Lock every edition row so that two organisers switching at once cannot leave two
        # current editions (the partial unique index would refuse it anyway).
        previous = list(Edition.objects.select_for_update().filter(is_current=True))
        if [e.pk for e in previous] == [edition.pk]:
            return edition
        Edition.objects.filter(is_current=True).update(is_current=False)
        Edition.objects.filter(pk=edition.pk).update(is_current=True)
        edition.is_current = True
        audit_record(
            actor=actor,
            obj=edition,
            action="edition.make_current",
            from_state=str(previous[0].number) if previous else "",
            to_state=str(edition.number),
        )
    return edition
