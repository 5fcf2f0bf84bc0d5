import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ciie_portal.records import GuardedModel, GuardedQuerySet
from ciie_portal.states import StateMachine


class Method(models.TextChoices):
    """How a unit pays. The three wallets are 扫码支付; B2B is the bank gateway (B2B网上支付)."""

    QR_ALIPAY = "qr_alipay", _("Alipay")  # 支付宝
    QR_WECHAT = "qr_wechat", _("WeChat Pay")  # 微信
    QR_UNIONPAY = "qr_unionpay", _("UnionPay")  # 银联
    B2B = "b2b", _("B2B online banking")  # B2B网上支付
    TRANSFER = "transfer", _("Bank transfer")  # 转账支付: a remittance confirmed by finance


QR_METHODS = (Method.QR_ALIPAY, Method.QR_WECHAT, Method.QR_UNIONPAY)


class PaymentQuerySet(GuardedQuerySet):
    # What the state machine, acceptance and flagging write (payments/acceptance.py,
    # services.py); method, amount, order, who started it and when never change.
    mutable_fields = frozenset(
        {
            "status",
            "confirmed_at",
            "received_amount",
            "flagged",
            "flag_reason",
            "provider_reference",
        }
    )


class Payment(GuardedModel):
    """One attempt to pay an order through a gateway: the payments ledger.

    Never edited by hand nor deleted (``ciie_portal.records``; on PostgreSQL a trigger refuses
    too). Money that arrives but cannot be accepted (wrong amount, order closed, deadline
    passed, paid twice) is kept here ``flagged`` for finance, with the amount actually
    received, instead of being confirmed or dropped.
    """

    mutable_fields = PaymentQuerySet.mutable_fields

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
        db_index=False,  # (order, status) serves its lookups
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

    objects = PaymentQuerySet.as_manager()

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


def new_refund_number(now=None) -> str:
    """R + Shanghai time to the millisecond + six random digits, like the order numbers."""
    local = timezone.localtime(now or timezone.now())
    stamp = local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"
    return f"R{stamp}{secrets.randbelow(10**6):06d}"


class RefundQuerySet(GuardedQuerySet):
    # Finance's decision and the gateway's answer (payments/refunds.py); the number, order,
    # payment, amount, route, payee and who asked when never change.
    mutable_fields = frozenset(
        {
            "status",
            "decided_by",
            "decided_at",
            "rejection_reason",
            "provider_reference",
            "refunded_at",
            "last_error",
        }
    )


class Refund(GuardedModel):
    """退款: money paid for some lines of an order going back. The refunds ledger.

    Separate from the payments ledger; never edited by hand nor deleted. One refund returns one
    confirmed payment's money for one or more lines (批量退款 makes one refund per order).
    """

    mutable_fields = RefundQuerySet.mutable_fields

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Not refunded")  # 未退款: asked for, awaiting finance
        REFUNDING = "refunding", _("Refunding")  # 退款中: approved, the money is on its way
        REFUNDED = "refunded", _("Refunded")  # 已退款
        REJECTED = "rejected", _("Refund rejected")  # 已驳回, with the reason

    class Route(models.TextChoices):
        ORIGINAL = "original", _("Back the way it was paid")  # 原路退回
        OTHER_ACCOUNT = "other_account", _("To another bank account")  # 退至其他账户

    number = models.CharField(_("refund number"), max_length=24, editable=False)
    order = models.ForeignKey(
        "credentials.CredentialOrder",
        on_delete=models.PROTECT,
        related_name="refunds",
        verbose_name=_("credential order"),
    )
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment")
    )
    amount = models.DecimalField(_("amount (CNY)"), max_digits=12, decimal_places=2)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.REQUESTED, db_index=True
    )
    route = models.CharField(
        _("refund route"), max_length=16, choices=Route.choices, default=Route.ORIGINAL
    )
    payee_name = models.CharField(_("payee name"), max_length=100, blank=True)
    payee_account = models.CharField(_("payee account number"), max_length=40, blank=True)
    payee_bank = models.CharField(_("payee bank"), max_length=100, blank=True)
    payee_bank_code = models.CharField(_("bank code"), max_length=20, blank=True)
    reason = models.TextField(_("why the refund is asked for"), blank=True)
    rejection_reason = models.TextField(_("why the refund was rejected"), blank=True)
    provider_reference = models.CharField(  # noqa: DJ001 (NULL until the gateway answers)
        _("gateway or bank refund reference"), max_length=64, null=True, blank=True
    )
    last_error = models.TextField(_("last error from the gateway"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("asked for by"),
    )
    requested_at = models.DateTimeField(_("asked for"), default=timezone.now, editable=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("refunded"), null=True, blank=True)

    objects = RefundQuerySet.as_manager()

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="refund_number_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(route="original")
                | (~Q(payee_name="") & ~Q(payee_account="") & ~Q(payee_bank="")),
                name="refund_other_account_complete",
            ),
        ]
        indexes = [models.Index(fields=["order", "status"])]
        permissions = [("approve_refund", _("Can approve or reject refunds"))]

    def __str__(self):
        return self.number


class RefundLine(models.Model):
    """One order line in a refund, with the amount returned for it.

    ``active`` is false once the refund is rejected. The database allows one active refund per
    order line, and the service refunds at most the line's fee: a line is never refunded twice.
    """

    refund = models.ForeignKey(
        Refund, on_delete=models.PROTECT, related_name="lines", verbose_name=_("refund")
    )
    order_line = models.ForeignKey(
        "credentials.OrderLine",
        on_delete=models.PROTECT,
        related_name="refund_lines",
        verbose_name=_("order line"),
    )
    amount = models.DecimalField(_("amount (CNY)"), max_digits=12, decimal_places=2)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("refund line")
        verbose_name_plural = _("refund lines")
        ordering = ["refund", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["order_line"],
                condition=Q(active=True),
                name="one_active_refund_per_order_line",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_line_amount_positive"),
        ]

    def __str__(self):
        return f"{self.refund_id}/{self.order_line_id}"


_R = Refund.Status
REFUND_STATES = StateMachine(
    name="refund",
    choices=Refund.Status,
    moves={
        # 未退款 → 退款中 (finance approves) → 已退款; or rejected with a reason.
        _R.REQUESTED: {_R.REFUNDING, _R.REJECTED},
        _R.REFUNDING: {_R.REFUNDED},
        _R.REFUNDED: set(),
        _R.REJECTED: set(),
    },
)


class BankStatement(models.Model):
    """A bank statement file (银行流水) imported by finance: uploaded, columns mapped, imported.

    The file is kept (private) as evidence. Its rows become ``StatementEntry`` rows; a row seen
    before (same checksum), from this file or another, is counted and changes nothing.
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Awaiting column mapping")
        IMPORTED = "imported", _("Imported")

    file = models.FileField(_("statement file"), upload_to="bank-statements/", max_length=200)
    filename = models.CharField(_("file name"), max_length=200)
    sha256 = models.CharField(_("SHA-256 of the file"), max_length=64, db_index=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.UPLOADED
    )
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    rows_total = models.PositiveIntegerField(_("rows in the file"), default=0)
    rows_new = models.PositiveIntegerField(_("new rows"), default=0)
    rows_repeated = models.PositiveIntegerField(_("rows imported before"), default=0)
    rows_matched = models.PositiveIntegerField(_("rows matched to orders"), default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now, editable=False)
    imported_at = models.DateTimeField(_("imported"), null=True, blank=True)

    class Meta:
        verbose_name = _("bank statement")
        verbose_name_plural = _("bank statements")
        ordering = ["-uploaded_at", "-pk"]

    def __str__(self):
        return self.filename


class StatementEntryQuerySet(GuardedQuerySet):
    # Matching (payments/statements.py): what the row was matched to, by whom, when, and the
    # note; the row as the bank wrote it (date, amount, payer, references) never changes.
    mutable_fields = frozenset({"match", "payment", "note", "matched_by", "matched_at"})


class StatementEntry(GuardedModel):
    """One incoming transfer from a bank statement, and what it was matched to.

    ``checksum`` (SHA-256 of the row's normalised content) is unique: importing the same file
    twice, or an overlapping statement, adds nothing. Unmatched entries are finance's queue.
    Never deleted; only the matching changes.
    """

    mutable_fields = StatementEntryQuerySet.mutable_fields

    class Match(models.TextChoices):
        UNMATCHED = "unmatched", _("Not matched")  # the queue
        MATCHED = "matched", _("Matched to an order")
        IGNORED = "ignored", _("Not an order payment")

    statement = models.ForeignKey(
        BankStatement,
        on_delete=models.PROTECT,
        related_name="entries",
        verbose_name=_("bank statement"),
    )
    checksum = models.CharField(_("row checksum"), max_length=64, editable=False)
    booked_on = models.DateField(_("booked on"))
    amount = models.DecimalField(_("amount (CNY)"), max_digits=12, decimal_places=2)
    payer_name = models.CharField(_("payer"), max_length=200, blank=True)
    payer_account = models.CharField(_("payer account"), max_length=60, blank=True)
    reference = models.CharField(_("remittance reference (附言)"), max_length=200, blank=True)
    bank_reference = models.CharField(_("bank transaction number"), max_length=64, blank=True)
    raw = models.JSONField(_("row as read"), default=dict)
    match = models.CharField(
        _("matching"),
        max_length=16,
        choices=Match.choices,
        default=Match.UNMATCHED,
        db_index=True,
    )
    payment = models.OneToOneField(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="statement_entry",
        verbose_name=_("payment"),
    )
    note = models.TextField(_("note"), blank=True)
    matched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("matched by"),
    )
    matched_at = models.DateTimeField(_("matched"), null=True, blank=True)

    objects = StatementEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("bank statement entry")
        verbose_name_plural = _("bank statement entries")
        ordering = ["-booked_on", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["checksum"], name="statement_entry_checksum_unique"),
        ]

    def __str__(self):
        return f"{self.booked_on} ¥{self.amount} {self.payer_name}"
