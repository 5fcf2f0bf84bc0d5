"""The credential card (A6, portrait) and the printer's sheets (four cards on each A4 page).

Drawn with reportlab. What makes it fast enough for a whole edition (see
benchmarks/produce_credentials.py):

* fonts are registered once per process (:func:`card_fonts`);
* photos go into the PDF as the JPEG they are (DCT pass-through, no decoding), scaled down
  first only when they are much larger than the printed box, and kept in a small cache;
* the QR code is computed once per credential with a fixed mask (segno; choosing the "best"
  mask tries all eight and costs five times more, and any mask is valid for every reader) and
  drawn as one path of whole-module rectangles, used for both the card and the sheet;
* streams are written compressed and binary, not ASCII85 (reportlab's pure-Python encoder was
  the single largest cost);
* a print batch is one canvas for all its sheets.

The card is in Chinese with English underneath whatever the page language: it is a printed
document, like the invoice. Names in Latin script are printed in Helvetica, everything else in
the CJK font; jobs can batch the two apart (``ProductionJob.script``).
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from threading import Lock

import segno
from PIL import Image, UnidentifiedImageError
from reportlab import rl_config
from reportlab.lib.pagesizes import A4, A6
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas as pdf_canvas

from ciie_portal.pdf_fonts import cjk_font
from ciie_portal.spreadsheets import csv_rows_write

from .models import LATIN_NAME_PATTERN, NameScript

logger = logging.getLogger(__name__)

CARD_WIDTH, CARD_HEIGHT = A6  # 105 × 148 mm
SHEET_WIDTH, SHEET_HEIGHT = A4  # 210 × 297 mm
CARDS_PER_SHEET = 4

# --- Fonts ------------------------------------------------------------------------------------

LATIN_FONT = "Helvetica"
LATIN_BOLD_FONT = "Helvetica-Bold"


@dataclass(frozen=True)
class CardFonts:
    cjk: str
    latin: str = LATIN_FONT
    latin_bold: str = LATIN_BOLD_FONT
    embedded: bool = False


@functools.cache
def card_fonts() -> CardFonts:
    """The portal's CJK font (ciie_portal.pdf_fonts: embedded TrueType where installed, else
    the CID font STSong-Light), registered once per process; Helvetica for Latin text."""
    font = cjk_font()
    return CardFonts(cjk=font.name, embedded=font.embedded)


_LATIN_NAME = re.compile(LATIN_NAME_PATTERN)


def name_script(name: str) -> str:
    """NameScript.LATIN when the name is written in Latin letters only, else NON_LATIN."""
    return NameScript.LATIN if _LATIN_NAME.match(name or "") else NameScript.NON_LATIN


# --- Card contents ----------------------------------------------------------------------------

# label: (Chinese, English, colour of the header band)
LABEL_STYLES = {
    "vip": ("贵宾", "VIP", (0.69, 0.12, 0.13)),
    "staff": ("工作人员", "STAFF", (0.05, 0.32, 0.60)),
    "visitor": ("专业观众", "PROFESSIONAL VISITOR", (0.0, 0.45, 0.35)),
}
_DEFAULT_STYLE = ("", "", (0.3, 0.3, 0.3))


class PrintPhoto:
    """A JPEG to embed as it is: reportlab reads ``jpeg_fh()`` and writes its bytes as a
    DCTDecode stream (no decoding), and names the image XObject after ``str()``, so the same
    photo drawn twice in one canvas is stored once."""

    __slots__ = ("key", "data")

    def __init__(self, key: str, data: bytes):
        self.key, self.data = key, data

    def __str__(self) -> str:
        return self.key

    def jpeg_fh(self):
        return io.BytesIO(self.data)


@dataclass(frozen=True)
class CardData:
    number: str
    edition_name: str
    name: str
    unit: str
    delegation: str
    label: str
    first_day: date
    last_day: date
    qr_payload: str
    photo: PrintPhoto | None = None


def entry_days_text(first_day: date, last_day: date) -> str:
    if first_day == last_day:
        return f"{first_day:%Y-%m-%d}"
    if first_day.year == last_day.year:
        return f"{first_day:%Y-%m-%d} — {last_day:%m-%d}"
    return f"{first_day:%Y-%m-%d} — {last_day:%Y-%m-%d}"


# --- Photos -------------------------------------------------------------------------------

# The photo box is 30 × 38.6 mm (35:45): 354 × 456 pixels at 300 dpi. A stored photo up to a
# quarter larger goes in as it is; a larger one is scaled to 300 dpi first.
PHOTO_BOX_MM = (30.0, 30.0 * 45 / 35)
PHOTO_PIXELS = (354, 456)
PASS_THROUGH_MAX_HEIGHT = 570
PHOTO_JPEG_QUALITY = 88
_PHOTO_CACHE_SIZE = 256
_photo_cache: OrderedDict[tuple, PrintPhoto | None] = OrderedDict()
_photo_cache_lock = Lock()


def print_photo(storage, name: str) -> PrintPhoto | None:
    """The visitor's photo (a name in ``storage``) ready for the card; None if unusable."""
    if not name:
        return None
    key = (getattr(storage, "location", ""), name)
    with _photo_cache_lock:
        if key in _photo_cache:
            _photo_cache.move_to_end(key)
            return _photo_cache[key]
    photo = _load_photo(storage, name)
    with _photo_cache_lock:
        _photo_cache[key] = photo
        while len(_photo_cache) > _PHOTO_CACHE_SIZE:
            _photo_cache.popitem(last=False)
    return photo


def _load_photo(storage, name: str) -> PrintPhoto | None:
    try:
        with storage.open(name, "rb") as handle:
            data = handle.read()
        with Image.open(io.BytesIO(data)) as image:
            if (
                image.format == "JPEG"
                and image.mode in ("RGB", "L")
                and (image.height <= PASS_THROUGH_MAX_HEIGHT)
            ):
                return PrintPhoto(f"photo:{name}", data)
            # JPEG decoding at 1/2, 1/4 … of the size is almost free: ask for just enough.
            image.draft("RGB", PHOTO_PIXELS)
            scaled = image.convert("RGB")
            scaled.thumbnail(
                (PHOTO_PIXELS[0] * 2, PHOTO_PIXELS[1]), Image.Resampling.BICUBIC, reducing_gap=2.0
            )
            buffer = io.BytesIO()
            scaled.save(buffer, format="JPEG", quality=PHOTO_JPEG_QUALITY)
            return PrintPhoto(f"photo:{name}", buffer.getvalue())
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as error:
        logger.warning("Credential card: photo %s unusable: %s", name, error)
        return None


# --- QR codes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QrCode:
    """PDF path operators for the dark modules, in module units (1 module = 1 unit)."""

    size: int
    operators: str


_DARK_RUN = re.compile(rb"\x01+")


def qr_code(payload: str) -> QrCode:
    """The QR code of a payload: error correction M, mask pattern fixed (see module doc)."""
    matrix = segno.make(payload, error="m", micro=False, mask=0, boost_error=False).matrix
    size = len(matrix)
    parts = []
    for row_index, row in enumerate(matrix):
        y = size - 1 - row_index
        # One rectangle per run of dark modules in the row.
        for run in _DARK_RUN.finditer(bytes(row)):
            parts.append(f"{run.start()} {y} {run.end() - run.start()} 1 re")
    parts.append("f")
    return QrCode(size=size, operators="\n".join(parts))


# --- Drawing --------------------------------------------------------------------------------

QR_SIDE = 38 * mm
MARGIN = 8 * mm
RIGHT_COLUMN_X = 43 * mm
RIGHT_COLUMN_WIDTH = CARD_WIDTH - RIGHT_COLUMN_X - 7 * mm
GREY = (0.45, 0.45, 0.45)


def _fit_size(text: str, font: str, size: float, minimum: float, width: float) -> float:
    while size > minimum and pdfmetrics.stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def _wrap(text: str, font: str, size: float, width: float, lines: int) -> list[str]:
    """Greedy line breaking (between any two characters; at a space for Latin text), at most
    ``lines`` lines, the last one cut with an ellipsis."""
    result: list[str] = []
    rest = text.strip()
    while rest and len(result) < lines:
        if pdfmetrics.stringWidth(rest, font, size) <= width:
            result.append(rest)
            return result
        cut = 1
        while cut < len(rest) and pdfmetrics.stringWidth(rest[: cut + 1], font, size) <= width:
            cut += 1
        space = rest.rfind(" ", 0, cut + 1)
        if space > 0 and rest[:cut].isascii():
            cut = space
        result.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest and result:
        last = result[-1]
        while last and pdfmetrics.stringWidth(last + "…", font, size) > width:
            last = last[:-1]
        result[-1] = last + "…"
    return result


def draw_card(c, card: CardData, qr: QrCode, x: float = 0, y: float = 0) -> None:
    """Draw one card with its lower left corner at (x, y)."""
    fonts = card_fonts()
    zh_label, en_label, colour = LABEL_STYLES.get(card.label, _DEFAULT_STYLE)
    width, height = CARD_WIDTH, CARD_HEIGHT
    c.saveState()
    c.translate(x, y)

    # Header band in the label's colour, and a thin band at the foot.
    c.setFillColorRGB(*colour)
    c.rect(0, height - 20 * mm, width, 20 * mm, stroke=0, fill=1)
    c.rect(0, 0, width, 4 * mm, stroke=0, fill=1)
    c.setFillColorRGB(1, 1, 1)
    c.setFont(fonts.cjk, _fit_size(card.edition_name, fonts.cjk, 10, 6, width - 10 * mm))
    c.drawCentredString(width / 2, height - 9 * mm, card.edition_name)
    c.setFont(fonts.latin, 6.5)
    c.drawCentredString(width / 2, height - 15 * mm, "CHINA INTERNATIONAL IMPORT EXPO")

    # The label, big.
    c.setFillColorRGB(*colour)
    c.setFont(fonts.cjk, 15)
    c.drawCentredString(width / 2, height - 29 * mm, zh_label)
    c.setFont(fonts.latin_bold, 7)
    c.drawCentredString(width / 2, height - 33.5 * mm, en_label)

    # Photo, 35:45.
    photo_w, photo_h = PHOTO_BOX_MM[0] * mm, PHOTO_BOX_MM[1] * mm
    photo_x, photo_y = MARGIN, height - 39 * mm - photo_h
    if card.photo is not None:
        c.drawImage(card.photo, photo_x, photo_y, photo_w, photo_h)
    c.setStrokeColorRGB(*GREY)
    c.setLineWidth(0.4)
    c.rect(photo_x, photo_y, photo_w, photo_h, stroke=1, fill=0)

    # Name, unit, delegation beside the photo.
    top = height - 44 * mm
    name_font = fonts.latin_bold if name_script(card.name) == NameScript.LATIN else fonts.cjk
    name_lines = [card.name]
    name_size = _fit_size(card.name, name_font, 17, 10, RIGHT_COLUMN_WIDTH)
    if pdfmetrics.stringWidth(card.name, name_font, name_size) > RIGHT_COLUMN_WIDTH:
        name_lines = _wrap(card.name, name_font, name_size, RIGHT_COLUMN_WIDTH, 2)
    c.setFillColorRGB(0, 0, 0)
    c.setFont(name_font, name_size)
    for line in name_lines:
        c.drawString(RIGHT_COLUMN_X, top, line)
        top -= name_size * 1.15
    top -= 3 * mm
    for caption, value in (("单位 Unit", card.unit), ("交易团 Delegation", card.delegation)):
        if not value:
            continue
        c.setFillColorRGB(*GREY)
        c.setFont(fonts.cjk, 6)
        c.drawString(RIGHT_COLUMN_X, top, caption)
        top -= 4 * mm
        c.setFillColorRGB(0, 0, 0)
        c.setFont(fonts.cjk, 8.5)
        for line in _wrap(value, fonts.cjk, 8.5, RIGHT_COLUMN_WIDTH, 2):
            c.drawString(RIGHT_COLUMN_X, top, line)
            top -= 3.8 * mm
        top -= 1.5 * mm

    # Entry days, across the card under the photo.
    days_y = photo_y - 10 * mm
    c.setFillColorRGB(*GREY)
    c.setFont(fonts.cjk, 6)
    c.drawString(MARGIN, days_y + 5 * mm, "入场日期 Entry days")
    c.setFillColorRGB(0, 0, 0)
    c.setFont(fonts.latin_bold, 12)
    c.drawString(MARGIN, days_y, entry_days_text(card.first_day, card.last_day))

    # Number, bottom left; QR code, bottom right (with its quiet zone inside the card).
    c.setFillColorRGB(*GREY)
    c.setFont(fonts.cjk, 6)
    c.drawString(MARGIN, 30 * mm, "证件号 No.")
    c.setFillColorRGB(0, 0, 0)
    c.setFont(fonts.latin_bold, 15)
    c.drawString(MARGIN, 23 * mm, card.number)
    qr_x, qr_y = width - MARGIN - QR_SIDE, 8 * mm
    module = QR_SIDE / qr.size
    c.addLiteral(f"q {module:.5f} 0 0 {module:.5f} {qr_x:.3f} {qr_y:.3f} cm 0 g\n{qr.operators}\nQ")
    c.restoreState()


_streams_lock = Lock()
_streams_users = 0
_streams_before = None


@contextlib.contextmanager
def _binary_streams():
    """reportlab ASCII85-encodes every stream by default, in pure Python: binary is smaller and
    several times faster. rl_config is process-wide, so the setting is restored only when the
    last thread rendering cards is done."""
    global _streams_users, _streams_before
    with _streams_lock:
        if _streams_users == 0:
            _streams_before = rl_config.useA85
            rl_config.useA85 = 0
        _streams_users += 1
    try:
        yield
    finally:
        with _streams_lock:
            _streams_users -= 1
            if _streams_users == 0:
                rl_config.useA85 = _streams_before


def render_card(card: CardData, qr: QrCode) -> bytes:
    """One card as a one-page A6 PDF."""
    card_fonts()
    buffer = io.BytesIO()
    with _binary_streams():
        c = pdf_canvas.Canvas(buffer, pagesize=A6, invariant=1, pageCompression=1)
        c.setTitle(f"证件 {card.number}")
        draw_card(c, card, qr)
        c.showPage()
        c.save()
    return buffer.getvalue()


# Four cards on A4, two by two; 1 mm of the page's 297 mm is left over, split top and bottom.
_SLOTS = [
    (0, SHEET_HEIGHT - 0.5 * mm - CARD_HEIGHT),
    (CARD_WIDTH, SHEET_HEIGHT - 0.5 * mm - CARD_HEIGHT),
    (0, 0.5 * mm),
    (CARD_WIDTH, 0.5 * mm),
]


def sheet_position(index: int) -> tuple[int, int]:
    """(sheet, slot), both from 1, of the index-th card (from 0) of a print batch."""
    return index // CARDS_PER_SHEET + 1, index % CARDS_PER_SHEET + 1


def render_sheets(cards: list[tuple[CardData, QrCode]], *, title: str = "") -> bytes:
    """The print batch's sheets: one canvas, four cards per A4 page, with cut lines."""
    card_fonts()
    buffer = io.BytesIO()
    with _binary_streams():
        c = pdf_canvas.Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
        if title:
            c.setTitle(title)
        for index, (card, qr) in enumerate(cards):
            slot = index % CARDS_PER_SHEET
            x, y = _SLOTS[slot]
            draw_card(c, card, qr, x, y)
            if slot == CARDS_PER_SHEET - 1 or index == len(cards) - 1:
                _cut_lines(c)
                c.showPage()
        c.save()
    return buffer.getvalue()


def _cut_lines(c) -> None:
    c.saveState()
    c.setStrokeColorRGB(0.75, 0.75, 0.75)
    c.setLineWidth(0.25)
    c.setDash(2, 2)
    c.line(CARD_WIDTH, 0, CARD_WIDTH, SHEET_HEIGHT)
    c.line(0, SHEET_HEIGHT / 2, SHEET_WIDTH, SHEET_HEIGHT / 2)
    c.restoreState()


MANIFEST_COLUMNS = [
    "position",
    "sheet",
    "slot",
    "number",
    "name",
    "unit",
    "delegation",
    "label",
    "first_day",
    "last_day",
    "pickup",
    "visitor_reference",
]


def manifest_csv(rows: list[dict], columns: list[str] = MANIFEST_COLUMNS) -> bytes:
    """The manifest as UTF-8 CSV with a BOM (so that Excel reads the Chinese); a key missing
    from a row is an empty cell."""
    buffer = io.StringIO()
    csv_rows_write(
        buffer, ([row.get(column, "") for column in columns] for row in rows), titles=columns
    )
    return buffer.getvalue().encode("utf-8")
