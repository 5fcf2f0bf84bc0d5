from celery import shared_task

from ciie_portal.tasks import RETRYING, TRANSIENT_ERRORS


@shared_task(
    name="payments.tasks.sandbox_notify",
    acks_late=True,
    soft_time_limit=30,
    time_limit=60,
    **RETRYING,
)
def sandbox_notify_task(payment_id: int, succeeded: bool):
    """The sandbox gateway notifies the portal, as a real gateway would after the payer paid.

    It goes through the same service as the callback view, with a signed body. Safe to run
    twice: the transaction number is the same, so the second is a repeat notification.
    """
    from django.utils import timezone

    from .models import Payment
    from .providers import SIGNATURE_HEADER, provider_for, sandbox_sign
    from .services import payment_notification_handle

    payment = Payment.objects.select_related("order").get(pk=payment_id)
    provider = provider_for(payment.method)
    body = provider.notification_body(payment, succeeded=succeeded, paid_at=timezone.now())
    payment_notification_handle(
        provider=provider.name, body=body, headers={SIGNATURE_HEADER: sandbox_sign(body)}
    )


@shared_task(
    name="payments.tasks.refund_execute",
    acks_late=True,
    bind=True,
    max_retries=8,
    soft_time_limit=30,
    time_limit=60,
)
def refund_execute_task(self, refund_id: int):
    """Send an approved refund to its gateway. Safe to run twice: the refund number is the
    gateway's idempotency key, and a refund no longer in progress is skipped. Retries with
    backoff while the gateway refuses or cannot be reached; the error is kept on the refund."""
    from .providers import RefundFailed
    from .refunds import refund_execute

    try:
        return refund_execute(refund_id)
    except (RefundFailed, *TRANSIENT_ERRORS) as error:
        raise self.retry(exc=error, countdown=min(60 * 2**self.request.retries, 3600)) from error


@shared_task(
    name="payments.tasks.refunds_resend_pending",
    acks_late=True,
    soft_time_limit=50,
    time_limit=60,
    **RETRYING,
)
def refunds_resend_pending_task():
    """Queue again approved gateway refunds whose task was lost (run by beat)."""
    from .refunds import refunds_resend_pending

    return refunds_resend_pending()


@shared_task(
    name="payments.tasks.payments_expire",
    acks_late=True,
    soft_time_limit=50,
    time_limit=60,
    **RETRYING,
)
def payments_expire_task():
    """Mark gateway payments that were started but never paid as expired (run by beat)."""
    from .services import payments_expire

    return payments_expire()
