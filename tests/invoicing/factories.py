"""Paid orders ready to invoice, and invoices made through the services."""

from decimal import Decimal

from django.utils import timezone

from credentials.models import CredentialOrder
from invoicing.models import Invoice, InvoiceKind
from invoicing.services import invoice_issue, invoice_request
from payments.models import Method, Payment, TransferRemittance
from tests.credentials.factories import order_with_lines

BUYER = {
    "title_kind": "unit",
    "title": "广州示例贸易有限公司",
    "tax_number": "91440101MA5D7X8Y3K",
    "phone": "020-12345678",
    "email": "finance@example.cn",
    "address": "广州市天河区示例路1号",
    "address_phone": "020-87654321",
    "bank_name": "中国银行广州天河支行",
    "bank_account": "6217000012345678",
}


def paid_order(
    unit,
    *,
    lines: int = 1,
    method: str = Method.QR_ALIPAY,
    payer_name: str = "",
    payer_kind: str = "unit",
    fee: Decimal | None = None,
) -> CredentialOrder:
    """An order of ``lines`` visitors, paid by ``method`` (a confirmed payment; a transfer with
    its remittance naming ``payer_name``)."""
    now = timezone.now()
    order = order_with_lines(
        unit,
        lines=lines,
        status=CredentialOrder.Status.PAID,
        paid_at=now,
        **({"fee": fee} if fee is not None else {}),
    )
    payment = Payment.objects.create(
        order=order,
        method=method,
        amount=order.total,
        status=Payment.Status.CONFIRMED,
        confirmed_at=now,
        received_amount=order.total,
    )
    if method == Method.TRANSFER:
        TransferRemittance.objects.create(
            payment=payment,
            payer_kind=payer_kind,
            payer_name=payer_name or unit.name,
            bank_branch="中国银行广州天河支行",
            phone="020-12345678",
            account_number="6217 0000 1234 5678",
            amount=order.total,
            remitted_on=timezone.localdate(),
            voucher="payment-vouchers/voucher.jpg",
        )
    return order


def requested_invoice(order, *, kind=InvoiceKind.ELECTRONIC, **buyer) -> Invoice:
    return invoice_request(
        order=order,
        actor=order.unit.account if order.unit_id else "system",
        kind=kind,
        buyer={**BUYER, **buyer},
    )


def issued_invoice(order, *, kind=InvoiceKind.ELECTRONIC, **buyer) -> Invoice:
    invoice = requested_invoice(order, kind=kind, **buyer)
    invoice_issue(invoice_id=invoice.pk, actor="system")
    return Invoice.objects.get(pk=invoice.pk)
