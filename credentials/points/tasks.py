"""The points catch-up, run by beat (``credentials.tasks.points_catch_up``). Registered under
its explicit name when ``wiring`` imports this module."""

from celery import shared_task

from ciie_portal.tasks import RETRYING


@shared_task(
    name="credentials.tasks.points_catch_up",
    acks_late=True,
    soft_time_limit=240,
    time_limit=300,
    **RETRYING,
)
def points_catch_up_task():
    """Award the events of the current edition that have no points entry yet.

    Safe to run twice or to overlap with itself and with the hooks: each event's source key is
    unique, a second insert writes nothing."""
    from ciie_portal.models import Edition

    from .services import points_catch_up

    found = {}
    for edition in Edition.objects.filter(is_current=True):
        found[edition.number] = points_catch_up(edition=edition)
    return found
