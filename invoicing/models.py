"""Invoices (发票): requests, electronic and paper VAT invoices, red-letter credit notes.

Three kinds: the electronic general invoice (数电普票) and the electronic special invoice
(数电专票), both issued by the system, and the paper special invoice (纸质专票), issued and
posted by finance where the edition still offers it (``InvoiceOptions``). An issued invoice is
a legal record: numbered without gaps or duplicates per edition and kind, never edited, never
deleted. Every correction is a new document referring to the old one (a red-letter credit note
for an electronic invoice, general or special; a confirmed paper return for a paper one).
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ciie_portal.records import GuardedModel, GuardedQuerySet, ImmutableRecord
from ciie_portal.states import StateMachine

# An attempt to edit or delete an invoice outside the state machine (the portal's one guard).
InvoiceImmutable = ImmutableRecord


class InvoiceKind(models.TextChoices):
    ELECTRONIC = "electronic", _("VAT general invoice (electronic)")  # 增值税普通发票（电子发票）
    # 数电专票: issued by the system like the general one, for the buyer's full tax details.
    ELECTRONIC_SPECIAL = (
        "electronic_special",
        _("VAT special invoice (electronic)"),  # 增值税专用发票（电子发票）
    )
    SPECIAL = "special", _("VAT special invoice (paper)")  # 增值税专用发票（纸质发票）


# Issued by the system (a task after the request commits), reversed by a red-letter credit note.
ELECTRONIC_KINDS = (InvoiceKind.ELECTRONIC, InvoiceKind.ELECTRONIC_SPECIAL)
# Special (专用) invoices: a unit's title and its full tax details, all required.
SPECIAL_KINDS = (InvoiceKind.ELECTRONIC_SPECIAL, InvoiceKind.SPECIAL)
# The longest kind's value, for the columns that hold one.
KIND_LENGTH = 24


class TitleKind(models.TextChoices):
    UNIT = "unit", pgettext_lazy("invoice title", "Unit")  # 单位
    INDIVIDUAL = "individual", pgettext_lazy("invoice title", "Individual")  # 个人


# Fields written by the state machine and the services as an invoice moves along its life. Every
# other field is frozen once the row exists; these change only through INVOICE_STATES.move.
LIFECYCLE_FIELDS = frozenset(
    {
        "status",
        "edition_sequence",
        "number",
        "issued_at",
        "issued_on",
        "issued_by",
        "issued_by_id",
        "seller",
        "courier",
        "tracking_number",
        "shipped_at",
        "return_courier",
        "return_tracking_number",
        "return_posted_at",
        "return_received_at",
        "reversal_reason",
        "reversed_at",
        "rejection_reason",
    }
)


class InvoiceQuerySet(GuardedQuerySet):
    # Only the lifecycle fields may be updated (by the state machine); the rest is frozen.
    mutable_fields = LIFECYCLE_FIELDS

    def ordinary(self):
        """Invoices proper, without the red-letter credit notes."""
        return self.filter(original__isnull=True)

    def credit_notes(self):
        return self.filter(original__isnull=False)

    def blocking_refund(self):
        """Ordinary invoices requested, issued or being returned: no refund until reversed.

        ``order.invoices.blocking_refund().exists()`` is what the refund services ask.
        """
        return self.ordinary().filter(status__in=Invoice.BLOCKING_STATES)


class Invoice(GuardedModel):
    """One invoice (发票) for a paid credential order, or a red-letter credit note (红字发票).

    A credit note has ``original`` set, negative amounts and its own number in the same sequence
    as ordinary invoices of its kind.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Awaiting invoicing")  # 待开票
        ISSUED = "issued", _("Invoiced")  # 已开票
        REJECTED = "rejected", _("Invoice request rejected")  # 已驳回
        RETURNING = "returning", _("Reversal in progress")  # 退票中
        REVERSED = "reversed", _("Reversed")  # 已退票

    BLOCKING_STATES = (Status.REQUESTED, Status.ISSUED, Status.RETURNING)

    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="invoices",
        verbose_name=_("edition"),
    )
    order = models.ForeignKey(
        "credentials.CredentialOrder",
        on_delete=models.PROTECT,
        related_name="invoices",
        verbose_name=_("credential order"),
    )
    original = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_notes",
        verbose_name=_("reversed invoice"),
    )
    kind = models.CharField(_("invoice type"), max_length=KIND_LENGTH, choices=InvoiceKind.choices)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=Status.choices,
        default=Status.REQUESTED,
        db_index=True,
    )
    # Numbering: ``edition_sequence`` is drawn from InvoiceCounter (no gaps, no duplicates);
    # a paper invoice may instead carry the number printed on it, entered by finance.
    edition_sequence = models.PositiveIntegerField(_("sequence number"), null=True, blank=True)
    number = models.CharField(  # noqa: DJ001 (NULL until issued; NULLs never collide)
        _("invoice number"), max_length=32, null=True, blank=True
    )

    # Buyer (购买方), as requested.
    title_kind = models.CharField(
        _("title type"), max_length=16, choices=TitleKind.choices, default=TitleKind.UNIT
    )
    title = models.CharField(_("invoice title"), max_length=200)
    title_locked = models.BooleanField(
        _("title fixed by the payment"),
        default=False,
        help_text=_("B2B and bank transfers: the title is the paying unit."),
    )
    tax_number = models.CharField(_("tax number"), max_length=20, blank=True)
    phone = models.CharField(_("telephone"), max_length=30, blank=True)
    email = models.EmailField(_("email"), blank=True)
    address = models.CharField(_("unit address"), max_length=200, blank=True)
    address_phone = models.CharField(_("unit telephone"), max_length=30, blank=True)
    bank_name = models.CharField(_("bank"), max_length=100, blank=True)
    bank_account = models.CharField(_("bank account"), max_length=40, blank=True)
    remark = models.CharField(_("remark"), max_length=200, blank=True)

    # Amounts (CNY, tax-inclusive total = amount excl. tax + tax; negative on a credit note).
    tax_rate = models.DecimalField(_("tax rate"), max_digits=5, decimal_places=4)
    total = models.DecimalField(_("total incl. tax (CNY)"), max_digits=12, decimal_places=2)
    amount_excl_tax = models.DecimalField(
        _("amount excl. tax (CNY)"), max_digits=12, decimal_places=2
    )
    tax_amount = models.DecimalField(_("tax (CNY)"), max_digits=12, decimal_places=2)

    # Seller (销售方) as it was when the invoice was issued: the record never depends on settings.
    seller = models.JSONField(_("seller"), default=dict, blank=True)

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now, editable=False)
    issued_at = models.DateTimeField(_("issued"), null=True, blank=True)
    issued_on = models.DateField(_("issue date"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)

    # Paper invoices: posted by finance (查看物流) and, for a reversal, posted back by the unit.
    courier = models.CharField(_("courier"), max_length=50, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=50, blank=True)
    shipped_at = models.DateTimeField(_("posted"), null=True, blank=True)
    return_courier = models.CharField(_("return courier"), max_length=50, blank=True)
    return_tracking_number = models.CharField(
        _("return tracking number"), max_length=50, blank=True
    )
    return_posted_at = models.DateTimeField(_("posted back"), null=True, blank=True)
    return_received_at = models.DateTimeField(_("return received"), null=True, blank=True)
    reversal_reason = models.CharField(_("reason for the reversal"), max_length=200, blank=True)
    reversed_at = models.DateTimeField(_("reversed"), null=True, blank=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["edition", "kind", "number"], name="invoice_number_unique"
            ),
            models.UniqueConstraint(
                fields=["edition", "kind", "edition_sequence"], name="invoice_sequence_unique"
            ),
            # One red-letter credit note per invoice.
            models.UniqueConstraint(
                fields=["original"],
                condition=Q(original__isnull=False),
                name="invoice_one_credit_note",
            ),
            # At most one live (not rejected, not reversed) ordinary invoice per order.
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(original__isnull=True, status__in=["requested", "issued", "returning"]),
                name="invoice_one_live_per_order",
            ),
            models.CheckConstraint(
                condition=Q(original__isnull=False) | Q(total__gte=0),
                name="invoice_total_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(original__isnull=True) | Q(total__lte=0),
                name="invoice_credit_note_not_positive",
            ),
            models.CheckConstraint(
                condition=Q(total=models.F("amount_excl_tax") + models.F("tax_amount")),
                name="invoice_amounts_add_up",
            ),
            models.CheckConstraint(
                condition=Q(status="requested") | Q(status="rejected") | Q(number__isnull=False),
                name="invoice_issued_has_number",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "status", "requested_at"]),
        ]
        permissions = [
            ("issue_invoice", _("Can issue, post and reverse invoices")),
        ]

    def __str__(self):
        return self.number or f"#{self.pk}"

    @property
    def is_credit_note(self) -> bool:
        return self.original_id is not None

    @property
    def is_electronic(self) -> bool:
        """Issued by the system (数电普票 or 数电专票), reversed by a red-letter credit note."""
        return self.kind in ELECTRONIC_KINDS

    @property
    def is_paper(self) -> bool:
        return self.kind == InvoiceKind.SPECIAL

    @property
    def is_special(self) -> bool:
        return self.kind in SPECIAL_KINDS


_I = Invoice.Status
INVOICE_STATES = StateMachine(
    name="invoice",
    choices=Invoice.Status,
    moves={
        _I.REQUESTED: {_I.ISSUED, _I.REJECTED},
        # 退票: an electronic invoice waits for its credit note, a paper one for its return.
        _I.ISSUED: {_I.RETURNING},
        _I.RETURNING: {_I.REVERSED},
        _I.REJECTED: set(),
        _I.REVERSED: set(),
    },
)


class InvoiceLine(GuardedModel):
    """One line of an invoice (证件注册费 …), frozen with the invoice."""

    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="lines", verbose_name=_("invoice")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    description = models.CharField(_("item"), max_length=200)
    quantity = models.IntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price incl. tax"), max_digits=12, decimal_places=2)
    total = models.DecimalField(_("amount incl. tax"), max_digits=12, decimal_places=2)
    amount_excl_tax = models.DecimalField(_("amount excl. tax"), max_digits=12, decimal_places=2)
    tax_amount = models.DecimalField(_("tax"), max_digits=12, decimal_places=2)

    objects = GuardedQuerySet.as_manager()  # frozen with the invoice: nothing mutable

    @property
    def unit_price_excl_tax(self) -> Decimal:
        """单价 as a VAT invoice prints it: without tax, like 金额 beside it (金额 ÷ 数量; to the
        cent when it divides evenly, else to 8 decimal places as tax invoices do)."""
        if not self.quantity:
            return self.amount_excl_tax
        exact = self.amount_excl_tax / self.quantity
        cents = exact.quantize(Decimal("0.01"))
        return cents if cents == exact else exact.quantize(Decimal("0.00000001"))

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["invoice", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total=models.F("amount_excl_tax") + models.F("tax_amount")),
                name="invoice_line_amounts_add_up",
            ),
        ]

    def __str__(self):
        return self.description


class InvoiceCounter(models.Model):
    """The last number drawn per (edition, kind); its row is locked while a number is drawn."""

    edition = models.ForeignKey(
        "ciie_portal.Edition",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("edition"),
    )
    kind = models.CharField(_("invoice type"), max_length=KIND_LENGTH, choices=InvoiceKind.choices)
    last_sequence = models.PositiveIntegerField(_("last number drawn"), default=0)

    class Meta:
        verbose_name = _("invoice number counter")
        verbose_name_plural = _("invoice number counters")
        constraints = [
            models.UniqueConstraint(fields=["edition", "kind"], name="invoice_counter_unique"),
        ]

    def __str__(self):
        return f"{self.edition_id}/{self.kind}: {self.last_sequence}"


class InvoiceOptions(models.Model):
    """The invoice types an edition offers. The electronic general invoice is always offered;
    an edition without a row offers every type (the portal's behaviour before these options).
    The 7th edition issues both types electronically: its row turns the paper one off."""

    edition = models.OneToOneField(
        "ciie_portal.Edition",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("edition"),
    )
    electronic_special = models.BooleanField(
        _("electronic VAT special invoices"),
        default=True,
        help_text=_("Issued by the system, like the electronic general invoice."),
    )
    paper_special = models.BooleanField(
        _("paper VAT special invoices"),
        default=True,
        help_text=_("Issued by finance and posted. Requests made before it was turned off stay."),
    )

    class Meta:
        verbose_name = _("invoice types of an edition")
        verbose_name_plural = _("invoice types of editions")

    def __str__(self):
        return str(self.edition)

    def kinds(self) -> list[str]:
        """The offered kinds, in the order of InvoiceKind."""
        offered = {
            InvoiceKind.ELECTRONIC: True,
            InvoiceKind.ELECTRONIC_SPECIAL: self.electronic_special,
            InvoiceKind.SPECIAL: self.paper_special,
        }
        return [kind for kind in InvoiceKind.values if offered[kind]]


class InvoiceProfile(models.Model):
    """常用发票信息: a unit's saved invoice details to pick from. Not a record: editable."""

    unit = models.ForeignKey(
        "registration.Unit",
        on_delete=models.CASCADE,
        related_name="invoice_profiles",
        verbose_name=_("unit"),
    )
    title_kind = models.CharField(
        _("title type"), max_length=16, choices=TitleKind.choices, default=TitleKind.UNIT
    )
    title = models.CharField(_("invoice title"), max_length=200)
    tax_number = models.CharField(_("tax number"), max_length=20, blank=True)
    phone = models.CharField(_("telephone"), max_length=30, blank=True)
    email = models.EmailField(_("email"), blank=True)
    address = models.CharField(_("unit address"), max_length=200, blank=True)
    address_phone = models.CharField(_("unit telephone"), max_length=30, blank=True)
    bank_name = models.CharField(_("bank"), max_length=100, blank=True)
    bank_account = models.CharField(_("bank account"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("saved invoice details")
        verbose_name_plural = _("saved invoice details")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return self.title
