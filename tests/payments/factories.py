from datetime import timedelta

from django.utils import timezone

from credentials.models import CredentialOrder
from credentials.services import order_create
from payments.providers import SIGNATURE_HEADER, provider_for, sandbox_sign
from tests.credentials.factories import payable_visitor


def open_for_payment(edition, *, days: int = 30):
    """The test editions' deadlines lie in the past: move the online deadline ahead."""
    edition.online_payment_deadline = timezone.now() + timedelta(days=days)
    edition.transfer_deadline = edition.online_payment_deadline
    edition.save(update_fields=["online_payment_deadline", "transfer_deadline"])
    return edition


def pending_order(unit, *, visitors: int = 1) -> CredentialOrder:
    """An order made as a unit contact makes it: through the credentials service."""
    ids = [payable_visitor(unit).pk for _ in range(visitors)]
    return order_create(unit=unit, visitor_ids=ids, actor=unit.account)


def signed_notification(payment, *, paid_at=None, succeeded=True, **changes):
    """The body and headers the sandbox gateway would send for ``payment``, with ``changes``
    applied to the body before signing (a wrong amount is still correctly signed)."""
    import json

    provider = provider_for(payment.method)
    body = provider.notification_body(
        payment, succeeded=succeeded, paid_at=paid_at or timezone.now()
    )
    if changes:
        data = json.loads(body)
        data.update(changes)
        body = json.dumps(data, sort_keys=True).encode()
    return provider.name, body, {SIGNATURE_HEADER: sandbox_sign(body)}
