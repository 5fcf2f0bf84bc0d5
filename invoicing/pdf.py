"""The invoice as a PDF (reportlab), rendered from the frozen record.

Rendered on demand rather than stored: an issued invoice never changes (its number, date,
buyer, seller as at issue, lines and amounts are all in the database), and the canvas is made
with ``invariant=1`` so that the same record always gives the same bytes. Nothing to back up
besides the database, no file that could go missing or be served to the wrong unit from a
public URL; the view checks who asks before rendering.

The document is in Chinese whatever the page language: a Chinese VAT invoice is a legal
document whose wording is fixed, so its labels are constants here, not translated messages.
Its title is that of its kind (``TITLES``): 电子发票（普通发票） for a 数电普票,
电子发票（增值税专用发票） for a 数电专票, 增值税专用发票 for the copy of a paper one; a
credit note's is prefixed 红字. The buyer's tax details a special invoice carries are printed
whole, wrapped, never cut short.
"""

import io
import logging
from decimal import Decimal

from django.utils import timezone
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from ciie_portal.pdf_fonts import cjk_font as shared_cjk_font

from .models import Invoice, InvoiceKind
from .numerals import NEGATIVE_RED_LETTER, amount_in_words

logger = logging.getLogger(__name__)


MARGIN = 36
RED = (0.75, 0.1, 0.1)
BLACK = (0, 0, 0)
TITLES = {
    InvoiceKind.ELECTRONIC: "电子发票（普通发票）",
    InvoiceKind.ELECTRONIC_SPECIAL: "电子发票（增值税专用发票）",
    InvoiceKind.SPECIAL: "增值税专用发票",
}
# Under the title of a paper invoice's copy: the paper one posted to the buyer is the invoice.
PAPER_COPY_NOTE = "纸质发票信息副本，以寄送的纸质发票为准"
PARTY_LINE = 12


def cjk_font() -> str:
    """The registered CJK font's name (see ciie_portal.pdf_fonts)."""
    return shared_cjk_font().name


def _money(value) -> str:
    return f"{value:,.2f}"


def _price(value) -> str:
    """A unit price: to the cent, or with the decimals it has (up to 8)."""
    return _money(value) if value == value.quantize(Decimal("0.01")) else f"{value:,f}"


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """``text`` in lines of at most ``width`` points, broken between any two characters (as
    Chinese is), so that nothing is cut off."""
    lines, line = [], ""
    for char in text:
        if line and pdfmetrics.stringWidth(line + char, font, size) > width:
            lines.append(line)
            line = char.lstrip()
        else:
            line += char
    return [*lines, line] if line or not lines else lines


def _fit(text: str, font: str, size: float, width: float) -> str:
    """Cut ``text`` to ``width`` points, with an ellipsis if it had to be cut."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


class _Sheet:
    """A landscape A4 page in the layout of a 数电票, with page breaks for long invoices."""

    COLUMNS = [  # (heading, x of the column's left edge, alignment)
        ("项目名称", 0, "left"),
        ("数量", 330, "right"),
        ("单价", 430, "right"),
        ("金额", 530, "right"),
        ("税率", 590, "right"),
        ("税额", 690, "right"),
    ]

    def __init__(self, invoice: Invoice):
        self.invoice = invoice
        self.font = cjk_font()
        self.buffer = io.BytesIO()
        self.width, self.height = landscape(A4)
        self.canvas = canvas.Canvas(self.buffer, pagesize=(self.width, self.height), invariant=1)
        self.canvas.setTitle(f"发票 {invoice.number or ''}")
        self.canvas.setAuthor(invoice.seller.get("name", ""))
        self.colour = RED if invoice.is_credit_note else BLACK
        self.page = 1

    def text(self, x, y, value, *, size=10, align="left", colour=None):
        c = self.canvas
        c.setFillColorRGB(*(colour or BLACK))
        c.setFont(self.font, size)
        value = str(value)
        if align == "right":
            c.drawRightString(x, y, value)
        elif align == "centre":
            c.drawCentredString(x, y, value)
        else:
            c.drawString(x, y, value)

    def header(self) -> float:
        invoice, c = self.invoice, self.canvas
        title = TITLES.get(invoice.kind, TITLES[InvoiceKind.ELECTRONIC])
        if invoice.is_credit_note:
            title = "红字" + title
        top = self.height - MARGIN
        self.text(self.width / 2, top - 10, title, size=18, align="centre", colour=self.colour)
        c.setStrokeColorRGB(*self.colour)
        c.line(self.width / 2 - 140, top - 16, self.width / 2 + 140, top - 16)
        if invoice.kind == InvoiceKind.SPECIAL:
            self.text(self.width / 2, top - 28, PAPER_COPY_NOTE, size=8, align="centre")
        right = self.width - MARGIN
        self.text(right - 200, top, f"发票号码：{invoice.number or '（未开具）'}")
        issued_on = invoice.issued_on.strftime("%Y年%m月%d日") if invoice.issued_on else ""
        self.text(right - 200, top - 14, f"开票日期：{issued_on}")
        if self.page > 1:
            self.text(right - 200, top - 28, f"第 {self.page} 页（续）", size=8)
        return top - 40

    def parties(self, y: float) -> float:
        invoice, c = self.invoice, self.canvas
        seller = invoice.seller
        half = (self.width - 2 * MARGIN) / 2
        buyer_rows = [
            ("名称", invoice.title),
            ("统一社会信用代码/纳税人识别号", invoice.tax_number),
            ("地址、电话", " ".join(filter(None, [invoice.address, invoice.address_phone]))),
            ("开户行及账号", " ".join(filter(None, [invoice.bank_name, invoice.bank_account]))),
        ]
        seller_rows = [
            ("名称", seller.get("name", "")),
            ("统一社会信用代码/纳税人识别号", seller.get("tax_number", "")),
            ("地址、电话", seller.get("address", "")),
            ("开户行及账号", seller.get("bank", "")),
        ]
        columns = [
            (
                left,
                heading,
                [w for label, value in rows for w in self._party_lines(label, value, half)],
            )
            for left, heading, rows in (
                (MARGIN, "购买方信息", buyer_rows),
                (MARGIN + half, "销售方信息", seller_rows),
            )
        ]
        box_height = max(74, 26 + PARTY_LINE * max(len(lines) for _l, _h, lines in columns))
        c.setStrokeColorRGB(*self.colour)
        c.rect(MARGIN, y - box_height, 2 * half, box_height)
        c.line(MARGIN + half, y, MARGIN + half, y - box_height)
        for left, heading, lines in columns:
            self.text(left + 6, y - 12, heading, size=9, colour=self.colour)
            for row, line in enumerate(lines):
                self.text(left + 6, y - 26 - PARTY_LINE * row, line, size=9)
        return y - box_height - 8

    def _party_lines(self, label: str, value: str, width: float) -> list[str]:
        """One row of the buyer or seller, wrapped: a special invoice's tax details are printed
        whole (an address, a bank account cut short would make the invoice useless)."""
        return _wrap(f"{label}：{value}", self.font, 9, width - 12)

    def table_header(self, y: float) -> float:
        left = MARGIN + 6
        for heading, x, align in self.COLUMNS:
            if align == "right":
                self.text(left + x + 70, y, heading, size=9, align="right", colour=self.colour)
            else:
                self.text(left + x, y, heading, size=9, colour=self.colour)
        self.canvas.setStrokeColorRGB(*self.colour)
        self.canvas.line(MARGIN, y - 5, self.width - MARGIN, y - 5)
        return y - 18

    def line_row(self, y: float, line) -> None:
        left = MARGIN + 6
        rate = f"{(self.invoice.tax_rate * 100).normalize():f}%"
        values = [
            _fit(line.description, self.font, 9, 320),
            str(line.quantity),
            _price(line.unit_price_excl_tax),
            _money(line.amount_excl_tax),
            rate,
            _money(line.tax_amount),
        ]
        for (_heading, x, align), value in zip(self.COLUMNS, values, strict=True):
            if align == "right":
                self.text(left + x + 70, y, value, size=9, align="right")
            else:
                self.text(left + x, y, value, size=9)

    def new_page(self) -> float:
        self.canvas.showPage()
        self.page += 1
        return self.table_header(self.header())

    def totals(self, y: float) -> float:
        invoice, left = self.invoice, MARGIN + 6
        self.canvas.setStrokeColorRGB(*self.colour)
        self.canvas.line(MARGIN, y + 8, self.width - MARGIN, y + 8)
        self.text(left, y - 4, "合　　计", size=9)
        self.text(left + 600, y - 4, f"¥{_money(invoice.amount_excl_tax)}", size=9, align="right")
        self.text(left + 760, y - 4, f"¥{_money(invoice.tax_amount)}", size=9, align="right")
        words = amount_in_words(invoice.total, negative_prefix=NEGATIVE_RED_LETTER)
        self.text(left, y - 24, f"价税合计（大写）：{words}", size=10)
        self.text(left + 760, y - 24, f"（小写）¥{_money(invoice.total)}", size=10, align="right")
        return y - 44

    def remarks(self, y: float) -> None:
        invoice = self.invoice
        remarks = [f"订单号：{invoice.order.number}"]
        if invoice.is_credit_note:
            remarks.append(f"被红冲蓝字发票号码：{invoice.original.number}")
        if invoice.remark:
            remarks.append(invoice.remark)
        if invoice.phone or invoice.email:
            remarks.append(" ".join(filter(None, [invoice.phone, invoice.email])))
        self.text(MARGIN + 6, y, "备注：" + "；".join(remarks), size=9)
        issuer = invoice.issued_by.get_username() if invoice.issued_by_id else "系统"
        self.text(MARGIN + 6, y - 16, f"开票人：{issuer}", size=9)
        stamp = timezone.localtime(invoice.issued_at) if invoice.issued_at else None
        if stamp:
            self.text(
                self.width - MARGIN,
                y - 16,
                stamp.strftime("%Y-%m-%d %H:%M:%S"),
                size=8,
                align="right",
            )

    def render(self) -> bytes:
        y = self.table_header(self.parties(self.header()))
        bottom = MARGIN + 80
        for line in self.invoice.lines.all():
            if y < bottom:
                y = self.new_page()
            self.line_row(y, line)
            y -= 14
        if y < bottom:
            y = self.new_page()
        self.remarks(self.totals(y))
        self.canvas.showPage()
        self.canvas.save()
        return self.buffer.getvalue()


def invoice_pdf(invoice: Invoice) -> bytes:
    """The PDF of an issued invoice or credit note."""
    return _Sheet(invoice).render()
