"""Celery tasks of credential orders. Registered under their explicit ``name``s (which beat
and queued messages use); ``credentials/tasks.py`` imports them so that workers find them."""

from celery import shared_task

from ciie_portal.tasks import RETRYING


@shared_task(
    name="credentials.tasks.orders_expire",
    acks_late=True,
    soft_time_limit=50,
    time_limit=60,
    **RETRYING,
)
def orders_expire_task():
    """Close unpaid orders whose payment window ended (run every minute by beat).

    Safe to run twice or to overlap: a closed order is no longer pending, and rows another run
    holds are skipped.
    """
    from .services import orders_expire

    return orders_expire()


@shared_task(
    name="credentials.tasks.payment_reminders",
    acks_late=True,
    soft_time_limit=50,
    time_limit=60,
    **RETRYING,
)
def payment_reminders_task():
    """Send the payment reminders due now (run every minute by beat).

    Safe to run twice or to overlap: each reminder's notice key is sent once.
    """
    from .reminders import payment_reminders_send

    return payment_reminders_send()
