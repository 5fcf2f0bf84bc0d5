"""Scheduled exports (registration.exports): the hourly claim of those due, and one send."""

from celery import shared_task

from ciie_portal.tasks import RETRYING


@shared_task(
    name="registration.tasks.export_subscriptions_due",
    acks_late=True,
    soft_time_limit=100,
    time_limit=120,
    **RETRYING,
)
def export_subscriptions_due_task() -> int:
    """Claim the scheduled exports due now and queue their sending (beat, hourly at :05)."""
    from .exports import export_subscriptions_due

    return len(export_subscriptions_due())


@shared_task(
    name="registration.tasks.export_subscription_send",
    acks_late=True,
    soft_time_limit=540,
    time_limit=600,
    **RETRYING,
)
def export_subscription_send_task(subscription_id: int, period: str) -> str:
    """Build one subscriber's list now and email it (once per period)."""
    from .exports import export_subscription_send

    return export_subscription_send(subscription_id=subscription_id, period=period)
