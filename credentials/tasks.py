from celery import shared_task


@shared_task(
    name="credentials.tasks.orders_expire",
    acks_late=True,
    soft_time_limit=50,
    time_limit=60,
)
def orders_expire_task():
    """Close unpaid orders whose payment window ended (run every minute by beat).

    Safe to run twice or to overlap: a closed order is no longer pending, and rows another run
    holds are skipped.
    """
    from .services import orders_expire

    return orders_expire()


# Credential production and revocation (Celery finds tasks through this module).
from .tasks_production import *  # noqa: E402, F401, F403
