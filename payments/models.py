from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ciie_portal.states import StateMachine


class Method(models.TextChoices):
    """How a unit pays. The three wallets are 扫码支付; B2B is the bank gateway (B2B网上支付)."""

    QR_ALIPAY = "qr_alipay", _("Alipay")  # 支付宝
    QR_WECHAT = "qr_wechat", _("WeChat Pay")  # 微信
    QR_UNIONPAY = "qr_unionpay", _("UnionPay")  # 银联
    B2B = "b2b", _("B2B online banking")  # B2B网上支付
    TRANSFER = "transfer", _("Bank transfer")  # 转账支付: a remittance confirmed by finance


QR_METHODS = (Method.QR_ALIPAY, Method.QR_WECHAT, Method.QR_UNIONPAY)


class Payment(models.Model):
    """One attempt to pay an order through a gateway: the payments ledger.

    Never edited by hand nor deleted. Money that arrives but cannot be accepted (wrong amount,
    order closed, deadline passed, paid twice) is kept here ``flagged`` for finance, with the
    amount actually received, instead of being confirmed or dropped.
    """

    class Status(models.TextChoices):
        CREATED = "created", _("Started")
        CONFIRMED = "confirmed", _("Confirmed")
        # A context of its own: the notices' "Failed" means a message that could not be sent.
        FAILED = "failed", pgettext_lazy("payment status", "Failed")
        EXPIRED = "expired", _("Expired")

    order = models.ForeignKey(
        "credentials.CredentialOrder",
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("credential order"),
    )
    method = models.CharField(_("payment method"), max_length=16, choices=Method.choices)
    amount = models.DecimalField(_("amount (CNY)"), max_digits=12, decimal_places=2)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.CREATED, db_index=True
    )
    received_amount = models.DecimalField(
        _("amount received (CNY)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    flagged = models.BooleanField(_("flagged for finance"), default=False, db_index=True)
    flag_reason = models.TextField(_("why it was flagged"), blank=True)
    # NULL, not "": unknown until the gateway answers, and NULLs never collide in the unique key.
    provider_reference = models.CharField(  # noqa: DJ001
        _("gateway transaction number"), max_length=64, null=True, blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    created_at = models.DateTimeField(_("started"), default=timezone.now, editable=False)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One gateway transaction is one payment. NULL (not yet known) never collides.
            models.UniqueConstraint(
                fields=["method", "provider_reference"], name="payment_provider_reference_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="payment_amount_not_negative"),
        ]
        indexes = [models.Index(fields=["order", "status"])]
        permissions = [("confirm_transfer", _("Can confirm or reject bank transfers"))]

    def __str__(self):
        return f"{self.get_method_display()} #{self.pk} ({self.order_id})"


_P = Payment.Status
PAYMENT_STATES = StateMachine(
    name="payment",
    choices=Payment.Status,
    moves={
        _P.CREATED: {_P.CONFIRMED, _P.FAILED, _P.EXPIRED},
        _P.CONFIRMED: set(),  # refunds are their own ledger
        _P.FAILED: set(),
        _P.EXPIRED: set(),
    },
)


class PaymentNotification(models.Model):
    """Every notification a gateway sent, exactly as received, and what was done with it.

    ``(provider, provider_transaction_id)`` is the idempotency key: a repeat of a notification
    already handled only raises ``times_received``. Notifications whose signature did not verify
    carry no trusted transaction id (NULL), so they never block the genuine one.
    """

    class Result(models.TextChoices):
        RECEIVED = "received", _("Received")
        CONFIRMED = "confirmed", _("Payment confirmed")
        FAILED = "failed", _("Payment failed")
        FLAGGED = "flagged", _("Flagged for finance")
        UNKNOWN_PAYMENT = "unknown_payment", _("No such payment")
        INVALID = "invalid", _("Signature or content invalid")

    provider = models.CharField(_("gateway"), max_length=32)
    provider_transaction_id = models.CharField(  # noqa: DJ001 (NULL stays out of the key)
        _("gateway transaction number"), max_length=64, null=True, blank=True
    )
    payment = models.ForeignKey(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("payment"),
    )
    body = models.JSONField(_("body as received"))
    signature_valid = models.BooleanField(_("signature valid"))
    result = models.CharField(
        _("result"), max_length=16, choices=Result.choices, default=Result.RECEIVED
    )
    detail = models.TextField(_("detail"), blank=True)
    times_received = models.PositiveIntegerField(_("times received"), default=1)
    received_at = models.DateTimeField(_("received"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("payment notification")
        verbose_name_plural = _("payment notifications")
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_transaction_id"],
                name="payment_notification_idempotency_key",
            ),
        ]

    def __str__(self):
        return f"{self.provider} {self.provider_transaction_id or '-'}"


class TransferRemittance(models.Model):
    """What the payer says about a bank transfer (汇款信息), with the voucher (汇款凭证).

    One per transfer payment. Finance's decision is the payment's status (and the audit), not a
    field here: confirmed, or failed with the reason in ``flag_reason``.
    """

    class PayerKind(models.TextChoices):
        UNIT = "unit", _("A unit")  # 单位
        INDIVIDUAL = "individual", _("An individual")  # 个人

    payment = models.OneToOneField(
        Payment,
        on_delete=models.PROTECT,
        related_name="remittance",
        verbose_name=_("payment"),
    )
    payer_kind = models.CharField(
        _("paid by"), max_length=16, choices=PayerKind.choices, default=PayerKind.UNIT
    )
    payer_name = models.CharField(_("paying unit or person"), max_length=100)
    bank_branch = models.CharField(_("bank branch"), max_length=100)
    phone = models.CharField(_("telephone"), max_length=30)
    account_number = models.CharField(_("account number"), max_length=40)
    amount = models.DecimalField(_("amount remitted (CNY)"), max_digits=12, decimal_places=2)
    remitted_on = models.DateField(_("remitted on"))
    voucher = models.FileField(
        _("remittance voucher"), upload_to="payment-vouchers/", max_length=200
    )
    submitted_at = models.DateTimeField(_("submitted"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("bank transfer remittance")
        verbose_name_plural = _("bank transfer remittances")
        ordering = ["-submitted_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="transfer_remittance_amount_positive"
            ),
        ]

    def __str__(self):
        return f"{self.payer_name} ¥{self.amount} ({self.payment_id})"

    @property
    def voucher_is_pdf(self) -> bool:
        return self.voucher.name.lower().endswith(".pdf")
