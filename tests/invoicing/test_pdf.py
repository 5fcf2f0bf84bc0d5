"""The invoice PDF: number, buyer, seller, lines, totals in figures and in 大写."""

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from ciie_portal import pdf_fonts
from invoicing import pdf
from invoicing.models import InvoiceKind
from invoicing.services import invoice_reverse
from tests.invoicing.factories import issued_invoice, paid_order


def text_of(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(autouse=True)
def _fresh_font():
    pdf_fonts.cjk_font.cache_clear()
    yield
    pdf_fonts.cjk_font.cache_clear()


def test_the_pdf_shows_number_buyer_seller_and_totals(unit, settings):
    settings.INVOICE_SELLER = {
        "name": "中国国际进口博览局",
        "tax_number": "12100000717800000X",
        "address": "上海市青浦区崧泽大道333号",
        "bank": "示例银行 123",
    }
    invoice = issued_invoice(paid_order(unit, lines=2))
    content = pdf.invoice_pdf(invoice)
    assert content.startswith(b"%PDF-")
    text = text_of(content)
    assert invoice.number in text
    assert "广州示例贸易有限公司" in text and "91440101MA5D7X8Y3K" in text
    assert "中国国际进口博览局" in text and "12100000717800000X" in text
    assert "电子发票（普通发票）" in text
    assert "证件注册费" in text
    assert "377.36" in text and "22.64" in text  # excl. tax and tax of 400.00 at 6 %
    assert "¥400.00" in text
    assert "肆佰元整" in text
    assert invoice.order.number in text


def test_the_same_record_always_gives_the_same_pdf(unit):
    invoice = issued_invoice(paid_order(unit))
    assert pdf.invoice_pdf(invoice) == pdf.invoice_pdf(invoice)


def test_a_red_letter_credit_note_shows_negative_amounts_and_the_original(
    unit, django_capture_on_commit_callbacks
):
    invoice = issued_invoice(paid_order(unit))
    with django_capture_on_commit_callbacks(execute=True):
        credit_note = invoice_reverse(invoice_id=invoice.pk, actor=unit.account)
    credit_note.refresh_from_db()
    text = text_of(pdf.invoice_pdf(credit_note))
    assert "红字" in text
    assert credit_note.number in text and invoice.number in text
    assert "(负数)贰佰元整" in text
    assert "¥-200.00" in text


def test_a_long_invoice_runs_over_several_pages(unit):
    invoice = issued_invoice(paid_order(unit, lines=45, fee=Decimal("100.00")))
    reader = PdfReader(io.BytesIO(pdf.invoice_pdf(invoice)))
    assert len(reader.pages) >= 2
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert text.count("证件注册费") == 45
    assert "肆仟伍佰元整" in text


def test_a_special_invoice_is_titled_as_such(unit):
    invoice = issued_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    assert "增值税专用发票" in text_of(pdf.invoice_pdf(invoice))


def test_without_a_usable_font_file_it_falls_back_to_the_builtin_cid_font(
    unit, settings, monkeypatch
):
    settings.PDF_CJK_FONT = ("/nonexistent/font.ttc", 2)
    monkeypatch.setattr(pdf_fonts, "NOTO_CJK", ("/nonexistent/NotoSansCJK-Regular.ttc", 2))
    monkeypatch.setattr(pdf_fonts, "TRUETYPE_CJK", [])
    assert pdf.cjk_font() == pdf_fonts.FALLBACK_CID_FONT
    invoice = issued_invoice(paid_order(unit))
    assert invoice.number in text_of(pdf.invoice_pdf(invoice))


def test_a_font_reportlab_cannot_embed_is_skipped_not_fatal(tmp_path, settings, monkeypatch):
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font")
    settings.PDF_CJK_FONT = (str(broken), 0)
    monkeypatch.setattr(pdf_fonts, "TRUETYPE_CJK", [])
    # Noto CJK (PostScript outlines) is refused by reportlab too, when it is installed.
    assert pdf.cjk_font() in (pdf_fonts.FONT_NAME, pdf_fonts.FALLBACK_CID_FONT)


def test_the_pdf_embeds_a_truetype_cjk_font_when_one_is_installed(unit):
    font = pdf_fonts.cjk_font()
    if not font.embedded:
        pytest.skip("no TrueType CJK font installed (apt-get install fonts-wqy-microhei)")
    content = pdf.invoice_pdf(issued_invoice(paid_order(unit)))
    assert b"/FontFile2" in content  # the subset of the TrueType font itself


def test_the_unit_price_is_without_tax_like_the_amount_beside_it(unit):
    """On a VAT invoice 单价 and 金额 are both without tax: 200.00 a credential at 6 % is
    188.68 and 188.68, not 200.00 beside 188.68."""
    invoice = issued_invoice(paid_order(unit, lines=1))
    line = invoice.lines.get()
    assert (line.unit_price, line.amount_excl_tax, line.tax_amount) == (
        Decimal("200.00"),
        Decimal("188.68"),
        Decimal("11.32"),
    )
    assert line.unit_price_excl_tax == Decimal("188.68")
    text = text_of(pdf.invoice_pdf(invoice))
    lines = text[text.index("证件注册费") : text.index("¥")]
    assert "200.00" not in lines
    assert lines.count("188.68") == 2, lines  # 单价 and 金额


def test_a_unit_price_that_does_not_divide_evenly_keeps_its_decimals():
    from invoicing.models import InvoiceLine

    line = InvoiceLine(quantity=3, amount_excl_tax=Decimal("100.00"))
    assert line.unit_price_excl_tax == Decimal("33.33333333")
    assert pdf._price(line.unit_price_excl_tax) == "33.33333333"
    assert pdf._price(Decimal("188.68")) == "188.68"
