"""Invoicing (开票): request, issue, post, reverse (退票).

待开票 (requested) → 已开票 (issued) → 退票中 (returning) → 已退票 (reversed); a request may be
rejected by finance. An electronic invoice — general (数电普票) or special (数电专票) — is issued
by a task after the request commits; its reversal is a red-letter credit note (红字发票): a new
invoice with negated lines, its own number in the same sequence as its kind, referring to the
original — issuing it completes the reversal. A paper special invoice is issued and posted by
finance; its reversal is the unit posting it back and finance confirming receipt. Only a
reversed (or rejected) invoice lets a refund through, and only then can the order be invoiced
again. Which types a unit may ask for is the order's edition's choice (``offered_kinds``); a
special one needs the buyer's full tax details (``tax_details``).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record
from ciie_portal.notices.services import notice_send
from ciie_portal.states import TransitionError
from credentials.models import CredentialOrder
from payments.models import Method, Payment, RefundLine

from .models import (
    ELECTRONIC_KINDS,
    INVOICE_STATES,
    SPECIAL_KINDS,
    Invoice,
    InvoiceCounter,
    InvoiceKind,
    InvoiceLine,
    InvoiceOptions,
    InvoiceProfile,
    TitleKind,
)
from .tax_details import special_buyer

Status = Invoice.Status
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# A demo seller: production sets INVOICE_SELLER to the organiser's real details.
DEFAULT_SELLER = {
    "name": "中国国际进口博览局 (demo)",
    "tax_number": "12100000MB0000000X (demo)",
    "address": "上海市青浦区崧泽大道333号 021-00000000 (demo)",
    "bank": "中国工商银行上海市分行营业部 1001 2345 6789 0123 456 (demo)",
}
DEFAULT_TAX_RATE = Decimal("0.06")
# The goods or service name on the invoice, as the tax bureau's catalogue names it. An invoice is
# a Chinese legal document: its content is Chinese whatever language the page is shown in.
LINE_ITEM = "*会展服务*证件注册费"
# Number layout: edition (2 digits), kind (2 digits), sequence (8 digits) → 100100000001. Each
# kind is its own gap-free series (InvoiceCounter), its credit notes numbered in it too.
KIND_CODES = {
    InvoiceKind.ELECTRONIC: "01",
    InvoiceKind.SPECIAL: "02",
    InvoiceKind.ELECTRONIC_SPECIAL: "03",
}
# Fields of a request that describe the buyer (购买方).
BUYER_FIELDS = (
    "title_kind",
    "title",
    "tax_number",
    "phone",
    "email",
    "address",
    "address_phone",
    "bank_name",
    "bank_account",
)


def seller_details() -> dict:
    seller = getattr(settings, "INVOICE_SELLER", None) or DEFAULT_SELLER
    return {key: str(seller.get(key, "")) for key in ("name", "tax_number", "address", "bank")}


def tax_rate() -> Decimal:
    return Decimal(str(getattr(settings, "INVOICE_TAX_RATE", DEFAULT_TAX_RATE)))


def split_tax(total: Decimal, rate: Decimal) -> tuple[Decimal, Decimal]:
    """A tax-inclusive amount → (amount excl. tax, tax), rounded half up to the fen.

    The tax is what is left, so the two always add up exactly to ``total``.
    """
    excl = (total / (1 + rate)).quantize(CENT, rounding=ROUND_HALF_UP)
    return excl, total - excl


def offered_kinds(edition) -> list[str]:
    """The invoice types ``edition`` offers: its InvoiceOptions, or every type without one."""
    options = InvoiceOptions.objects.filter(edition=edition).first()
    return options.kinds() if options is not None else list(InvoiceKind.values)


# --- What an order's invoice says --------------------------------------------------------------


@dataclass(frozen=True)
class LockedTitle:
    """The title a B2B or bank-transfer payment imposes: the paying unit, not changeable."""

    title_kind: str
    title: str
    tax_number: str = ""


def confirmed_payment(order: CredentialOrder) -> Payment | None:
    return (
        Payment.objects.filter(order=order, status=Payment.Status.CONFIRMED)
        .select_related("remittance")
        .order_by("-confirmed_at", "-pk")
        .first()
    )


def locked_title(order: CredentialOrder) -> LockedTitle | None:
    """B2B网上支付 or 单位转账支付: the invoice title is the payer, filled in and locked.

    B2B: the order's unit (the B2B account is the unit's own). Transfer: the payer named on the
    remittance finance confirmed. Other methods (QR wallets): None, the unit chooses the title.
    """
    payment = confirmed_payment(order)
    if payment is None:
        return None
    unit = order.unit if order.unit_id else None
    if payment.method == Method.B2B and unit is not None:
        return LockedTitle(TitleKind.UNIT, unit.name, unit.uscc or "")
    if payment.method == Method.TRANSFER:
        remittance = getattr(payment, "remittance", None)
        if remittance is None:
            return None
        kind = TitleKind.INDIVIDUAL if remittance.payer_kind == "individual" else TitleKind.UNIT
        same_unit = unit is not None and remittance.payer_name.strip() == unit.name.strip()
        return LockedTitle(kind, remittance.payer_name, (unit.uscc or "") if same_unit else "")
    return None


def invoiceable_lines(order: CredentialOrder) -> list[dict]:
    """One line per paid order line: 证件注册费 with the visitor's name, at the fee paid less any
    refund asked for or made (a line refunded in full is left out). Free lines (VIP, staff)
    are not invoiced."""
    refunded = {
        row["order_line_id"]: row["amount"]
        for row in RefundLine.objects.filter(order_line__order=order, active=True)
        .values("order_line_id")
        .annotate(amount=Sum("amount"))
    }
    lines = []
    for line in order.lines.select_related("visitor").order_by("pk"):
        amount = line.fee - refunded.get(line.pk, ZERO)
        if amount <= 0:
            continue
        lines.append(
            {
                "description": f"{LINE_ITEM}（{line.visitor.name}）",
                "quantity": 1,
                "unit_price": amount,
                "total": amount,
            }
        )
    return lines


def _create_lines(invoice: Invoice, lines: list[dict], rate: Decimal) -> tuple[Decimal, ...]:
    rows = []
    for position, line in enumerate(lines, start=1):
        excl, tax = split_tax(line["total"], rate)
        rows.append(
            InvoiceLine(
                invoice=invoice,
                position=position,
                description=line["description"],
                quantity=line["quantity"],
                unit_price=line["unit_price"],
                total=line["total"],
                amount_excl_tax=excl,
                tax_amount=tax,
            )
        )
    InvoiceLine.objects.bulk_create(rows)
    return rows


def _totals(lines: list[dict], rate: Decimal) -> dict:
    """The invoice's totals are the sums of its lines, so lines and totals always agree."""
    total = excl = tax = ZERO
    for line in lines:
        line_excl, line_tax = split_tax(line["total"], rate)
        total += line["total"]
        excl += line_excl
        tax += line_tax
    return {"total": total, "amount_excl_tax": excl, "tax_amount": tax, "tax_rate": rate}


# --- Request ------------------------------------------------------------------------------------


def invoice_request(
    *,
    order: CredentialOrder,
    actor,
    kind: str,
    buyer: dict,
    remark: str = "",
    save_profile: bool = False,
    profile_unit=None,
    now: datetime | None = None,
) -> Invoice:
    """开票: ask for an invoice of a paid order. An electronic one is issued right after commit.

    Refused for an unpaid order, for an order that already has an invoice not reversed, for a
    type the order's edition does not offer, for a special invoice without the buyer's full
    tax details (a ValidationError naming each field), and when nothing is left to invoice.
    For B2B and transfer payments the title is the payer's, whatever ``buyer`` says. The
    invoice belongs to the order's edition (its numbering too), also for an order of an
    earlier edition (往届订单). ``save_profile`` keeps the details for ``profile_unit`` (the
    contact's current unit), by default for the order's unit.
    """
    if kind not in InvoiceKind.values:
        raise ValidationError(_("Choose the invoice type."))
    now = now or timezone.now()
    buyer = {name: (buyer.get(name) or "").strip() for name in BUYER_FIELDS}
    buyer["title_kind"] = buyer["title_kind"] or TitleKind.UNIT
    with transaction.atomic():
        locked = (
            CredentialOrder.objects.select_for_update(of=("self",))
            .select_related("edition")
            .get(pk=order.pk)
        )
        if locked.status != CredentialOrder.Status.PAID:
            raise ValidationError(
                _("Order %(number)s is not paid: it cannot be invoiced.")
                % {"number": locked.number}
            )
        if Invoice.objects.filter(order=locked).blocking_refund().exists():
            raise ValidationError(
                _("Order %(number)s already has an invoice. Reverse it first to invoice again.")
                % {"number": locked.number}
            )
        if kind not in offered_kinds(locked.edition):
            raise ValidationError(
                {
                    "kind": _("%(edition)s does not offer the %(kind)s.")
                    % {"edition": locked.edition, "kind": InvoiceKind(kind).label}
                }
            )
        fixed = locked_title(locked)
        if fixed is not None:
            buyer["title_kind"], buyer["title"] = fixed.title_kind, fixed.title
        if not buyer["title"]:
            raise ValidationError(_("Enter the invoice title."))
        if kind in SPECIAL_KINDS:
            buyer = special_buyer(kind, buyer)
        lines = invoiceable_lines(locked)
        if not lines:
            raise ValidationError(
                _("Nothing to invoice on order %(number)s.") % {"number": locked.number}
            )
        rate = tax_rate()
        invoice = Invoice(
            edition=locked.edition,
            order=locked,
            kind=kind,
            title_locked=fixed is not None,
            remark=(remark or "").strip(),
            requested_by=actor if getattr(actor, "pk", None) else None,
            requested_at=now,
            **buyer,
            **_totals(lines, rate),
        )
        try:
            with transaction.atomic():
                invoice.save()
        except IntegrityError as error:  # the order lock makes this a bug, not a race
            raise ValidationError(
                _("Order %(number)s already has an invoice.") % {"number": locked.number}
            ) from error
        _create_lines(invoice, lines, rate)
        audit_record(
            actor=actor,
            obj=invoice,
            action="invoice.requested",
            to_state=invoice.status,
            data={
                "order": locked.number,
                "kind": kind,
                "title": invoice.title,
                "title_locked": invoice.title_locked,
                "total": str(invoice.total),
            },
        )
        if save_profile and (profile_unit is not None or locked.unit_id):
            invoice_profile_save(unit=profile_unit or locked.unit, actor=actor, details=buyer)
        if kind in ELECTRONIC_KINDS:
            _issue_later(invoice)
    return invoice


def _issue_later(invoice: Invoice) -> None:
    from ciie_portal.tasks import enqueue_on_commit

    from .tasks import invoice_issue_task

    enqueue_on_commit(invoice_issue_task, invoice.pk)


# --- Issue --------------------------------------------------------------------------------------


def _draw_number(edition, kind: str) -> tuple[int, str]:
    """The next number of (edition, kind), under a lock on its counter row held until commit:
    concurrent issues wait for each other, and a rollback gives the number back — no gaps,
    no duplicates (the unique constraints on invoices stand behind this)."""
    # INSERT … ON CONFLICT DO NOTHING: the first issue of a kind makes the row; racing firsts
    # wait on the unique key and then find it.
    InvoiceCounter.objects.bulk_create(
        [InvoiceCounter(edition=edition, kind=kind)], ignore_conflicts=True
    )
    counter = InvoiceCounter.objects.select_for_update().get(edition=edition, kind=kind)
    counter.last_sequence += 1
    counter.save(update_fields=["last_sequence"])
    sequence = counter.last_sequence
    return sequence, f"{edition.number % 100:02d}{KIND_CODES[kind]}{sequence:08d}"


def invoice_issue(
    *,
    invoice_id: int,
    actor,
    number: str = "",
    issued_on: date | None = None,
    now: datetime | None = None,
) -> Invoice | None:
    """Issue a requested invoice: give it its number and date, freeze it, tell the unit.

    Electronic invoices (general and special) are issued by the task; paper special ones by
    finance, who may enter the number printed on the paper invoice instead of drawing one.
    Issuing a credit note completes the reversal of its original. Returns None when the
    invoice was not awaiting issue (issued meanwhile, rejected): safe to run twice, also at
    once.
    """
    now = now or timezone.now()
    number = (number or "").strip()
    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("edition", "order", "order__unit")
            .filter(pk=invoice_id)
            .first()
        )
        if invoice is None or invoice.status != Status.REQUESTED:
            return None
        if number and invoice.kind != InvoiceKind.SPECIAL:
            raise ValidationError(_("Electronic invoices are numbered by the system."))
        if number:
            if Invoice.objects.filter(
                edition=invoice.edition, kind=invoice.kind, number=number
            ).exists():
                raise ValidationError(
                    _("Invoice number %(number)s is already used.") % {"number": number}
                )
            sequence = None
        else:
            sequence, number = _draw_number(invoice.edition, invoice.kind)
        INVOICE_STATES.move(
            invoice,
            Status.ISSUED,
            actor=actor,
            data={"number": number, "total": str(invoice.total)},
            number=number,
            edition_sequence=sequence,
            issued_at=now,
            issued_on=issued_on or timezone.localdate(now),
            issued_by=actor if getattr(actor, "pk", None) else None,
            seller=seller_details(),
        )
        if invoice.original_id:
            _complete_reversal(invoice, actor=actor, now=now)
        _tell_issued(invoice)
    return invoice


def invoice_issue_electronic(*, invoice_id: int) -> Invoice | None:
    """What the task runs: issue an electronic invoice or credit note awaiting issue."""
    if not Invoice.objects.filter(pk=invoice_id, kind__in=ELECTRONIC_KINDS).exists():
        return None
    return invoice_issue(invoice_id=invoice_id, actor="system")


def invoices_issue_pending(*, older_than: timedelta = timedelta(minutes=5)) -> int:
    """Queue again electronic invoices still awaiting issue after ``older_than`` (their task
    was lost); returns how many. Issuing is safe to run twice, so a slow task is no harm."""
    from ciie_portal.tasks import enqueue_on_commit

    from .tasks import invoice_issue_task

    pending = list(
        Invoice.objects.filter(
            kind__in=ELECTRONIC_KINDS,
            status=Status.REQUESTED,
            requested_at__lte=timezone.now() - older_than,
        ).values_list("pk", flat=True)
    )
    for invoice_id in pending:
        enqueue_on_commit(invoice_issue_task, invoice_id)
    return len(pending)


def _complete_reversal(credit_note: Invoice, *, actor, now: datetime) -> None:
    original = Invoice.objects.select_for_update(of=("self",)).get(pk=credit_note.original_id)
    INVOICE_STATES.move(
        original,
        Status.REVERSED,
        actor=actor,
        reason=_("Red-letter credit note %(number)s issued.") % {"number": credit_note.number},
        data={"credit_note": credit_note.number},
        reversed_at=now,
    )


def _tell_issued(invoice: Invoice) -> None:
    """Email the unit (and the invoice's own address, if another) that the invoice is issued."""
    unit = invoice.order.unit if invoice.order.unit_id else None
    recipients = []
    for address in (unit.contact_email if unit else "", invoice.email):
        if address and address.lower() not in {r.lower() for r in recipients}:
            recipients.append(address)
    params = {
        "unit": unit.name if unit else invoice.title,
        "title": invoice.title,
        "number": invoice.number,
        "order": invoice.order.number,
        "kind": invoice.kind,
        "credit_note": invoice.is_credit_note,
        "original": invoice.original.number if invoice.original_id else "",
        "total": str(invoice.total),
    }
    for index, recipient in enumerate(recipients):
        notice_send(
            key=f"invoice-issued:{invoice.pk}:email:{index}",
            event="invoice_issued",
            channel="email",
            recipient=recipient,
            template="invoice_issued",
            params=params,
        )


# --- Finance: reject, post, confirm a return ---------------------------------------------------


def _locked(invoice_id: int) -> Invoice | None:
    return (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("order", "edition")
        .filter(pk=invoice_id)
        .first()
    )


def invoice_reject(*, invoice_id: int, actor, reason: str) -> bool:
    """Finance refuses a request (wrong details for a special invoice, …); the order can be
    invoiced again. Returns False when the invoice was no longer awaiting issue."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give the reason for rejecting the invoice request."))
    with transaction.atomic():
        invoice = _locked(invoice_id)
        if invoice is None or invoice.status != Status.REQUESTED or invoice.original_id:
            return False
        INVOICE_STATES.move(
            invoice, Status.REJECTED, actor=actor, reason=reason, rejection_reason=reason
        )
    return True


def invoice_ship(*, invoice_id: int, actor, courier: str, tracking_number: str) -> bool:
    """Finance posted a paper invoice: courier and tracking number, shown to the unit (查看物流).

    May be entered again (a mistyped number); each entry is audited. Returns False for an
    invoice that is not an issued paper invoice.
    """
    courier, tracking_number = (courier or "").strip(), (tracking_number or "").strip()
    if not courier or not tracking_number:
        raise ValidationError(_("Enter the courier and the tracking number."))
    with transaction.atomic():
        invoice = _locked(invoice_id)
        if (
            invoice is None
            or invoice.kind != InvoiceKind.SPECIAL
            or invoice.status != Status.ISSUED
        ):
            return False
        previous = {"courier": invoice.courier, "tracking_number": invoice.tracking_number}
        values = {
            "courier": courier,
            "tracking_number": tracking_number,
            "shipped_at": timezone.now(),
        }
        Invoice.objects.filter(pk=invoice.pk, status=Status.ISSUED).update(**values)
        audit_record(
            actor=actor,
            obj=invoice,
            action="invoice.shipped",
            from_state=invoice.status,
            to_state=invoice.status,
            data={"courier": courier, "tracking_number": tracking_number, "previous": previous},
        )
    return True


def invoice_return_confirm(*, invoice_id: int, actor, now: datetime | None = None) -> bool:
    """Finance received the paper invoice the unit posted back: it is reversed."""
    now = now or timezone.now()
    with transaction.atomic():
        invoice = _locked(invoice_id)
        if (
            invoice is None
            or invoice.kind != InvoiceKind.SPECIAL
            or invoice.status != Status.RETURNING
        ):
            return False
        INVOICE_STATES.move(
            invoice,
            Status.REVERSED,
            actor=actor,
            reason=_("Paper invoice received back by finance."),
            return_received_at=now,
            reversed_at=now,
        )
    return True


# --- Reversal (退票) ---------------------------------------------------------------------------


def invoice_reverse(
    *,
    invoice_id: int,
    actor,
    reason: str = "",
    return_courier: str = "",
    return_tracking_number: str = "",
    now: datetime | None = None,
) -> Invoice:
    """退票 of an issued invoice. Electronic (general or special): a red-letter credit note of
    the same kind is made and issued after commit, which completes the reversal; the original
    stays as it was issued. Paper: the unit posted it back (courier and tracking
    number), finance confirms receipt. Returns the credit note, or the paper invoice."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    with transaction.atomic():
        invoice = _locked(invoice_id)
        if invoice is None or invoice.original_id:
            raise ValidationError(_("Only an invoice can be reversed, not a credit note."))
        if invoice.status != Status.ISSUED:
            raise ValidationError(
                _("Invoice %(number)s is %(status)s: it cannot be reversed.")
                % {"number": invoice, "status": invoice.get_status_display()}
            )
        if invoice.kind == InvoiceKind.SPECIAL:
            courier = (return_courier or "").strip()
            tracking = (return_tracking_number or "").strip()
            if not courier or not tracking:
                raise ValidationError(
                    _("Enter the courier and the tracking number of the returned invoice.")
                )
            _move(
                invoice,
                Status.RETURNING,
                actor=actor,
                reason=reason,
                data={"return_courier": courier, "return_tracking_number": tracking},
                return_courier=courier,
                return_tracking_number=tracking,
                return_posted_at=now,
                reversal_reason=reason,
            )
            return invoice
        _move(invoice, Status.RETURNING, actor=actor, reason=reason, reversal_reason=reason)
        credit_note = _credit_note_create(invoice, actor=actor, now=now)
        _issue_later(credit_note)
    return credit_note


def _move(invoice: Invoice, target: str, **kwargs) -> None:
    try:
        INVOICE_STATES.move(invoice, target, **kwargs)
    except TransitionError as error:
        raise ValidationError(str(error)) from error


def _credit_note_create(original: Invoice, *, actor, now: datetime) -> Invoice:
    """The red-letter credit note: the original's buyer and lines, negated."""
    lines = [
        {
            "description": line.description,
            "quantity": -line.quantity,
            "unit_price": line.unit_price,
            "total": -line.total,
        }
        for line in original.lines.all()
    ]
    credit_note = Invoice(
        edition_id=original.edition_id,
        order_id=original.order_id,
        original=original,
        kind=original.kind,
        title_locked=original.title_locked,
        remark=_("Red-letter credit note for invoice %(number)s") % {"number": original.number},
        requested_by=actor if getattr(actor, "pk", None) else None,
        requested_at=now,
        **{name: getattr(original, name) for name in BUYER_FIELDS},
        **_totals(lines, original.tax_rate),
    )
    credit_note.save()
    _create_lines(credit_note, lines, original.tax_rate)
    audit_record(
        actor=actor,
        obj=credit_note,
        action="invoice.credit_note_requested",
        to_state=credit_note.status,
        data={"original": original.number, "total": str(credit_note.total)},
    )
    return credit_note


# --- Saved invoice details (常用发票信息) ------------------------------------------------------


def invoice_profile_save(*, unit, actor, details: dict) -> InvoiceProfile:
    """Save invoice details for the unit to pick later; the same title and tax number again
    updates the saved entry instead of adding a copy."""
    values = {name: (details.get(name) or "").strip() for name in BUYER_FIELDS}
    values["title_kind"] = values["title_kind"] or TitleKind.UNIT
    profile = InvoiceProfile.objects.filter(
        unit=unit, title=values["title"], tax_number=values["tax_number"]
    ).first()
    if profile is None:
        profile = InvoiceProfile.objects.create(unit=unit, **values)
        action = "invoice_profile.created"
    else:
        for name, value in values.items():
            setattr(profile, name, value)
        profile.save()
        action = "invoice_profile.updated"
    audit_record(actor=actor, obj=profile, action=action, data={"title": profile.title})
    return profile


def invoice_profile_delete(*, profile: InvoiceProfile, actor) -> None:
    audit_record(
        actor=actor, obj=profile, action="invoice_profile.deleted", data={"title": profile.title}
    )
    profile.delete()
