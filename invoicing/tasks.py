from celery import shared_task

from ciie_portal.tasks import RETRYING


@shared_task(
    name="invoicing.tasks.invoice_issue",
    acks_late=True,
    soft_time_limit=30,
    time_limit=60,
    **RETRYING,
)
def invoice_issue_task(invoice_id: int):
    """Issue an electronic invoice or red-letter credit note once its request has committed.

    Safe to run twice: the invoice's row lock and status make the second run do nothing.
    """
    from .services import invoice_issue_electronic

    invoice_issue_electronic(invoice_id=invoice_id)


@shared_task(name="invoicing.tasks.invoices_issue_pending", acks_late=True, **RETRYING)
def invoices_issue_pending_task():
    """A periodic sweep: queue again electronic invoices whose task was lost."""
    from .services import invoices_issue_pending

    return invoices_issue_pending()
