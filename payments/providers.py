"""Every gateway behind one interface: start a payment, verify a signed notification, refund.

The sandbox providers behave like the real gateways (a page on the gateway's side, an
asynchronous signed notification to the portal's callback URL) so that the whole flow runs on a
development machine and in tests. Real gateways (Alipay, WeChat Pay, UnionPay, the bank's B2B
gateway) implement the same class and replace them in ``PAYMENT_PROVIDERS``.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

from .models import QR_METHODS, Method

SIGNATURE_HEADER = "X-Sandbox-Signature"


class InvalidNotification(Exception):
    """The notification is not signed by the gateway, or says nothing we can use.

    ``signature_valid``: the gateway did sign it (it is malformed), or not."""

    def __init__(self, message: str, *, signature_valid: bool = False):
        super().__init__(message)
        self.signature_valid = signature_valid


# The largest amount a payment can hold (Payment.amount: 12 digits, 2 after the point).
LARGEST_AMOUNT = Decimal("9999999999.99")


def notified_amount(value) -> Decimal:
    """A gateway's amount as money: a finite, non-negative number of yuan with at most two
    decimals that fits a payment. Anything else (NaN, Infinity, 1e400, 0.001, -5, "") raises
    ValueError: the notification is malformed, never a server error."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as error:
        raise ValueError(f"amount {value!r} is not a number") from error
    if not amount.is_finite():
        raise ValueError(f"amount {value!r} is not a finite number")
    if amount < 0 or amount > LARGEST_AMOUNT:
        raise ValueError(f"amount {value!r} is out of range")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"amount {value!r} has more than two decimals")
    return amount.quantize(Decimal("0.01"))


class UnknownProvider(LookupError):
    pass


class RefundFailed(Exception):
    """The gateway refused or could not be reached; the refund stays in progress for a retry."""


@dataclass(frozen=True)
class StartResult:
    redirect_url: str | None = None
    qr_payload: str | None = None


@dataclass(frozen=True)
class Notification:
    """What a verified notification says. ``payment_id`` is our reference echoed back (the
    merchant order number of the gateways' APIs); ``succeeded`` is false for a failed payment."""

    transaction_id: str
    order_number: str
    amount: Decimal
    paid_at: datetime
    payment_id: int
    succeeded: bool = True


class PaymentProvider:
    name: str = ""
    methods: tuple[str, ...] = ()

    def start(self, payment, return_url: str) -> StartResult:
        raise NotImplementedError

    def verify(self, request_body: bytes, headers) -> Notification:
        raise NotImplementedError

    def refund(self, payment, refund) -> str:
        """Return ``refund.amount`` of ``payment`` the way it was paid; returns the gateway's
        refund reference. ``refund.number`` is the idempotency key (the gateways' out_refund_no):
        asking twice refunds once. Raises ``RefundFailed``."""
        raise NotImplementedError


def sandbox_secret() -> bytes:
    return getattr(settings, "PAYMENT_SANDBOX_SECRET", settings.SECRET_KEY).encode()


def sandbox_sign(body: bytes) -> str:
    return hmac.new(sandbox_secret(), body, hashlib.sha256).hexdigest()


class SandboxProvider(PaymentProvider):
    """The gateway's side is a page of this app; its notifications are HMAC-SHA256 signed."""

    def start(self, payment, return_url: str) -> StartResult:
        return StartResult(
            redirect_url=reverse("payments:sandbox", kwargs={"payment_id": payment.pk})
        )

    def notification_body(self, payment, *, succeeded: bool, paid_at: datetime) -> bytes:
        return json.dumps(
            {
                "transaction_id": f"SANDBOX-{payment.method}-{payment.pk}",
                "payment_id": payment.pk,
                "order_number": payment.order.number,
                "amount": str(payment.amount),
                "paid_at": paid_at.isoformat(),
                "status": "success" if succeeded else "failed",
            },
            sort_keys=True,
        ).encode()

    def verify(self, request_body: bytes, headers) -> Notification:
        signature = headers.get(SIGNATURE_HEADER) or ""
        if not hmac.compare_digest(signature, sandbox_sign(request_body)):
            raise InvalidNotification("bad signature")
        try:
            data = json.loads(request_body)
            notice = Notification(
                transaction_id=str(data["transaction_id"]),
                order_number=str(data["order_number"]),
                amount=notified_amount(data["amount"]),
                paid_at=datetime.fromisoformat(data["paid_at"]),
                payment_id=int(data["payment_id"]),
                succeeded=data["status"] == "success",
            )
        except (ValueError, KeyError, TypeError, InvalidOperation, OverflowError) as error:
            raise InvalidNotification(
                f"unreadable notification: {error!r}", signature_valid=True
            ) from error
        if notice.paid_at.tzinfo is None:
            raise InvalidNotification("paid_at has no time zone", signature_valid=True)
        return notice

    def refund(self, payment, refund) -> str:
        """The sandbox refunds at once, and as a gateway would, never more than was paid."""
        paid = payment.received_amount if payment.received_amount is not None else payment.amount
        if payment.status != "confirmed" or refund.amount > paid:
            raise RefundFailed(f"sandbox: cannot refund {refund.amount} of payment {payment.pk}")
        return f"SANDBOX-REFUND-{refund.number}"


class SandboxQrProvider(SandboxProvider):
    name = "sandbox_qr"
    methods = QR_METHODS

    def start(self, payment, return_url: str) -> StartResult:
        return StartResult(
            redirect_url=super().start(payment, return_url).redirect_url,
            qr_payload=self.qr_payload(payment),
        )

    def qr_payload(self, payment) -> str:
        """What the wallet app would read from the code (a real gateway returns it)."""
        return f"sandbox://{payment.method}/pay?payment={payment.pk}&amount={payment.amount}"


class SandboxB2bProvider(SandboxProvider):
    name = "sandbox_b2b"
    methods = (Method.B2B,)


DEFAULT_PROVIDERS = [
    "payments.providers.SandboxQrProvider",
    "payments.providers.SandboxB2bProvider",
]


def providers() -> dict[str, PaymentProvider]:
    """The configured providers by name. The sandbox's only while it is enabled: otherwise
    its callback URLs answer 404 and nobody can pay through it."""
    paths = getattr(settings, "PAYMENT_PROVIDERS", DEFAULT_PROVIDERS)
    found = {}
    for path in paths:
        provider = import_string(path)()
        if isinstance(provider, SandboxProvider) and not sandbox_enabled():
            continue
        found[provider.name] = provider
    return found


def provider_named(name: str) -> PaymentProvider:
    try:
        return providers()[name]
    except KeyError:
        raise UnknownProvider(name) from None


def provider_for(method: str) -> PaymentProvider:
    for provider in providers().values():
        if method in provider.methods:
            return provider
    raise UnknownProvider(method)


def sandbox_enabled() -> bool:
    return getattr(settings, "PAYMENT_SANDBOX_ENABLED", True)
