"""The portal's own figures (notices, the outbox, the Celery queues): see ``ciie_portal.ops``."""

from django.db.models import Count, Min
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Notice, OutboxMessage
from .ops import broker
from .ops.figures import Figure, Sample, Scope, register_figure

# Notices not sent yet. Counting sent ones would read every notice of the edition: the sent
# ones are counted as they go, by the delivery counter on /metrics.
UNSENT = [Notice.Status.QUEUED, Notice.Status.SENDING]
OPEN = [*UNSENT, Notice.Status.FAILED]


def _notices_of(scope: Scope):
    if scope.edition_id is None:
        return Notice.objects.filter(edition__isnull=True)
    return Notice.objects.filter(edition_id=scope.edition_id)


def notices(scope: Scope) -> list[Sample]:
    """Notices waiting, being sent or failed, by channel and state (every pair, 0 included)."""
    counts = {
        (row["channel"], row["status"]): row["n"]
        for row in _notices_of(scope)
        .filter(status__in=OPEN)
        .order_by()
        .values("channel", "status")
        .annotate(n=Count("pk"))
    }
    return [
        Sample({"channel": str(channel), "state": str(state)}, counts.get((channel, state), 0))
        for channel in Notice.Channel.values
        for state in OPEN
    ]


def notice_oldest_waiting(scope: Scope) -> list[Sample]:
    """Seconds since the oldest notice still queued or sending was created (0 when none)."""
    oldest = (
        _notices_of(scope).filter(status__in=UNSENT).aggregate(oldest=Min("created_at"))["oldest"]
    )
    if oldest is None:
        return [Sample({}, 0.0)]
    return [Sample({}, max((timezone.now() - oldest).total_seconds(), 0.0))]


def outbox_backlog(scope: Scope) -> list[Sample]:
    """Tasks written to the outbox and not published to the broker yet."""
    return [Sample({}, OutboxMessage.objects.filter(published_at__isnull=True).count())]


def outbox_oldest_waiting(scope: Scope) -> list[Sample]:
    """Seconds the oldest unpublished outbox message has been due (0 when none)."""
    now = timezone.now()
    oldest = (
        OutboxMessage.objects.filter(published_at__isnull=True, publish_after__lte=now)
        .order_by("publish_after")
        .values_list("publish_after", flat=True)
        .first()
    )
    return [Sample({}, max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)]


def celery_queue_length(scope: Scope) -> list[Sample]:
    """Messages waiting in each Celery queue (nothing without a Redis broker)."""
    read = broker.queue_lengths()
    if read is None:
        return []
    lengths, _unacked = read
    return [Sample({"queue": name}, length) for name, length in lengths.items()]


def celery_unacked(scope: Scope) -> list[Sample]:
    """Messages a worker has taken and not acknowledged yet (running or reserved tasks)."""
    read = broker.queue_lengths()
    return [] if read is None else [Sample({}, read[1])]


def _notice_list(query: str):
    def url(scope: Scope) -> str:
        return reverse("admin:ciie_portal_notice_changelist") + query

    return url


def register() -> None:
    register_figure(
        Figure(
            name="notices",
            label=_("Notices waiting, sending or failed"),
            help="Notices of the current edition not sent yet or failed, by channel and state.",
            compute=notices,
            admin_url=_notice_list("?status__exact=failed"),
            unit="count",
        )
    )
    register_figure(
        Figure(
            name="notice_oldest_waiting_seconds",
            label=_("Age of the oldest unsent notice"),
            help="Seconds since the oldest notice still queued or sending was created.",
            compute=notice_oldest_waiting,
            admin_url=_notice_list("?status__exact=queued"),
            unit="seconds",
        )
    )
    register_figure(
        Figure(
            name="outbox_backlog",
            label=_("Tasks not yet handed to the queue"),
            help="Outbox messages not published to the broker yet.",
            compute=outbox_backlog,
            unit="count",
        )
    )
    register_figure(
        Figure(
            name="outbox_oldest_waiting_seconds",
            label=_("Age of the oldest unpublished task"),
            help="Seconds the oldest due outbox message has waited to be published.",
            compute=outbox_oldest_waiting,
            unit="seconds",
        )
    )
    register_figure(
        Figure(
            name="celery_queue_length",
            label=_("Tasks waiting in the Celery queues"),
            help="Messages waiting in each Celery queue of the Redis broker.",
            compute=celery_queue_length,
            unit="count",
        )
    )
    register_figure(
        Figure(
            name="celery_tasks_unacked",
            label=_("Tasks taken by workers, not finished"),
            help="Messages taken by Celery workers and not acknowledged yet.",
            compute=celery_unacked,
            unit="count",
        )
    )


register()
