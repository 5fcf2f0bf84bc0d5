"""银行流水 files: reading the bank's statement file, with no database in sight.

Decoding (UTF-8, GBK/GB18030, UTF-16 with its BOM), the delimiter, the row of column titles, the
column each field is in (from the header names), and the values: amounts, dates, debit or credit,
payer names compared normalised, order numbers in a reference, and each row's checksum.
``payments.statements`` keeps the mapping finance last used, imports the rows and matches them.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

MAX_FILE_BYTES = 10 * 1024 * 1024
#: Rows looked at for the delimiter and the header row (banks put the account and the period
#: above the column titles).
PREAMBLE_ROWS = 30
#: At most this many unreadable values are listed when a file is refused.
MAX_ERRORS = 30
MAX_AMOUNT = Decimal("9999999999.99")

# --- The fields of the mapping, and the header names that name them -----------------------------


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    required: bool
    #: Header names, most specific first (compared normalised: no spaces, no unit in brackets).
    aliases: tuple[str, ...]
    help: str = ""


FIELDS = (
    Field(
        "date",
        gettext_lazy("Date"),
        True,
        (
            "交易日期",
            "记账日期",
            "入账日期",
            "到账日期",
            "交易时间",
            "记账时间",
            "日期",
            "transactiondate",
            "bookingdate",
            "postingdate",
            "valuedate",
            "date",
        ),
    ),
    Field(
        "amount",
        gettext_lazy("Amount received"),
        True,
        (
            "贷方金额",
            "贷方发生额",
            "收入金额",
            "来账金额",
            "收入",
            "贷方",
            "交易金额",
            "发生额",
            "金额",
            "creditamount",
            "credit",
            "deposit",
            "deposits",
            "amount",
        ),
        gettext_lazy("The credit column; a negative amount is money going out and is skipped."),
    ),
    Field(
        "payer_name",
        gettext_lazy("Payer"),
        True,
        (
            "对方户名",
            "付款人名称",
            "付款人户名",
            "付款方户名",
            "付款人",
            "付款单位",
            "对方账户名称",
            "对方账户名",
            "对方名称",
            "对方单位",
            "汇款人",
            "payername",
            "payer",
            "counterpartyname",
            "counterparty",
            "remitter",
        ),
    ),
    Field(
        "reference",
        gettext_lazy("Remittance reference"),
        True,
        (
            "附言",
            "交易附言",
            "汇款附言",
            "用途",
            "备注",
            "摘要",
            "reference",
            "remittanceinformation",
            "remarks",
            "remark",
            "memo",
            "purpose",
            "narrative",
            "description",
            "details",
        ),
        gettext_lazy("Where the payer wrote the order number (附言, 用途, 摘要)."),
    ),
    Field(
        "payer_account",
        gettext_lazy("Payer account"),
        False,
        (
            "对方账号",
            "付款账号",
            "付款人账号",
            "付款方账号",
            "对方账户",
            "对方账户账号",
            "payeraccount",
            "counterpartyaccount",
            "fromaccount",
        ),
    ),
    Field(
        "bank_reference",
        gettext_lazy("Bank transaction number"),
        False,
        (
            "交易流水号",
            "流水号",
            "银行流水号",
            "业务流水号",
            "交易参考号",
            "凭证号",
            "凭证号码",
            "transactionid",
            "transactionnumber",
            "transactionreference",
            "bankreference",
            "referencenumber",
            "serialnumber",
        ),
    ),
    Field(
        "direction",
        gettext_lazy("Debit or credit"),
        False,
        (
            "借贷标志",
            "借贷方向",
            "借贷",
            "收支标志",
            "收支方向",
            "收支",
            "交易方向",
            "方向",
            "debit/credit",
            "dr/cr",
            "d/c",
            "direction",
        ),
        gettext_lazy("A column saying 借/贷 (D/C): outgoing rows are skipped."),
    ),
    Field(
        "debit_amount",
        gettext_lazy("Amount paid out"),
        False,
        (
            "借方金额",
            "借方发生额",
            "支出金额",
            "往账金额",
            "支出",
            "借方",
            "debitamount",
            "debit",
            "withdrawal",
            "withdrawals",
        ),
        gettext_lazy("The debit column: rows with money going out are skipped."),
    ),
)
FIELDS_BY_KEY = {f.key: f for f in FIELDS}
REQUIRED = tuple(f.key for f in FIELDS if f.required)


def _header_normal(text: str) -> str:
    """交易金额（元） → 交易金额; "Booking Date" → bookingdate."""
    text = unicodedata.normalize("NFKC", text or "").strip().lower()
    text = re.sub(r"\((元|rmb|cny|人民币)\)$", "", text)
    return re.sub(r"[\s_:\-.*]", "", text)


def columns_guess_from_headers(headers: list[str]) -> dict[str, int]:
    """The column of each field whose header names it; each column serves one field."""
    normal = [_header_normal(h) for h in headers]
    used: set[int] = set()
    guess: dict[str, int] = {}
    # The columns money goes out by claim their headers first: 借方金额 is never the amount.
    order = sorted(FIELDS, key=lambda f: f.key not in ("debit_amount", "direction"))
    for spec in order:
        for alias in spec.aliases:
            index = next(
                (i for i, name in enumerate(normal) if name == alias and i not in used), None
            )
            if index is not None:
                guess[spec.key] = index
                used.add(index)
                break
    return guess


def header_key(headers: list[str]) -> str:
    """The same bank's files share their header row: the key the last mapping is kept under."""
    payload = json.dumps([_header_normal(h) for h in headers], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


# --- Reading the file ---------------------------------------------------------------------------


@dataclass
class Table:
    encoding: str
    delimiter: str
    rows: list[list[str]]  # every row of the file, blank ones included (row n is rows[n - 1])
    header_row: int  # index in ``rows``

    @property
    def headers(self) -> list[str]:
        names = [cell.strip() for cell in self.rows[self.header_row]]
        return [name or _("Column %(n)d") % {"n": i + 1} for i, name in enumerate(names)]

    def data_rows(self):
        """(row number as a spreadsheet shows it, cells) of every non-blank row under the header."""
        width = len(self.rows[self.header_row])
        for index in range(self.header_row + 1, len(self.rows)):
            cells = [cell.strip() for cell in self.rows[index]]
            if not any(cells):
                continue
            yield index + 1, cells + [""] * (width - len(cells))


def _decode(data: bytes) -> tuple[str, str]:
    if data[:4] == b"PK\x03\x04" or data[:8] == bytes.fromhex("D0CF11E0A1B11AE1"):
        raise ValidationError(
            _("This is an Excel workbook, not a CSV file: save it as CSV (comma separated)."),
            code="excel",
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ("utf-16",)  # Excel's "Unicode text"
    else:
        # Chinese banks export GBK; GB18030 is the superset that also reads the rare characters.
        candidates = ("utf-8-sig", "gb18030")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text, "utf-8" if encoding == "utf-8-sig" else encoding
    raise ValidationError(
        _("The file cannot be read as text in UTF-8 or GBK: export the statement as CSV."),
        code="encoding",
    )


def _sniff_delimiter(text: str) -> str:
    """The delimiter that gives most lines the same number (more than one) of columns."""
    lines = [line for line in text.splitlines() if line.strip()][:PREAMBLE_ROWS]
    best, best_score = None, (0, 0)
    for delimiter in (",", ";", "\t"):
        widths = Counter(len(row) for row in csv.reader(lines, delimiter=delimiter))
        widths.pop(1, None)
        widths.pop(0, None)
        if not widths:
            continue
        width, lines_of_that_width = widths.most_common(1)[0]
        score = (lines_of_that_width, width)
        if score > best_score:
            best, best_score = delimiter, score
    if best is None:
        raise ValidationError(
            _("No columns found: the values must be separated by commas, semicolons or tabs."),
            code="delimiter",
        )
    return best


def _find_header(rows: list[list[str]]) -> int:
    """The row of column titles: the first naming two known fields, else the first full row."""
    known = {alias for spec in FIELDS for alias in spec.aliases}
    for index, row in enumerate(rows[:PREAMBLE_ROWS]):
        if sum(_header_normal(cell) in known for cell in row) >= 2:
            return index
    widths = Counter(len(row) for row in rows if len(row) > 1)
    if widths:
        width = widths.most_common(1)[0][0]
        for index, row in enumerate(rows[:PREAMBLE_ROWS]):
            if len(row) == width and sum(bool(cell.strip()) for cell in row) >= 2:
                return index
    raise ValidationError(_("No row of column titles found in the file."), code="header")


def table_read(data: bytes, *, encoding: str = "", delimiter: str = "", header_row=None) -> Table:
    """Read a statement file; the encoding, delimiter and header row are found unless given."""
    if encoding:
        text = data.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    else:
        text, encoding = _decode(data)
    delimiter = delimiter or _sniff_delimiter(text)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise ValidationError(
            _("The file is not a readable CSV file: %(error)s") % {"error": error}, code="csv"
        ) from error
    if header_row is None:
        header_row = _find_header(rows)
    return Table(encoding=encoding, delimiter=delimiter, rows=rows, header_row=header_row)


# --- Values -------------------------------------------------------------------------------------

_THOUSANDS = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?")
_DECIMAL_COMMA = re.compile(r"\d+,\d{1,2}")
_PLAIN = re.compile(r"\d+(\.\d+)?|\.\d+")


def parse_amount(text: str) -> Decimal | None:
    """ "1,200.00", "¥200.00", "200", "-50", "(50.00)" → Decimal; "" → None; else ValueError."""
    value = unicodedata.normalize("NFKC", text or "").strip()
    value = re.sub(r"(?i)^(¥|rmb|cny)|(元|rmb|cny)$", "", value).strip()
    value = value.replace(" ", "").replace("\u00a0", "")
    if not value:
        return None
    negative = False
    if value.startswith("(") and value.endswith(")"):
        negative, value = True, value[1:-1]
    if value and value[0] in "+-":
        negative, value = value[0] == "-", value[1:]
    value = value.removeprefix("¥")
    if _THOUSANDS.fullmatch(value):
        value = value.replace(",", "")
    elif _DECIMAL_COMMA.fullmatch(value):
        value = value.replace(",", ".")
    if not _PLAIN.fullmatch(value):
        raise ValueError(text)
    try:
        amount = Decimal(value)
    except InvalidOperation as error:  # pragma: no cover - the pattern above rules it out
        raise ValueError(text) from error
    if amount != amount.quantize(Decimal("0.01")) or amount > MAX_AMOUNT:
        raise ValueError(text)
    amount = amount.quantize(Decimal("0.01"))
    return -amount if negative else amount


_DATE_SEPARATED = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:$|[\sT])"
)
_DATE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})(?:$|[\sT]|\d{6}$)")


def parse_date(text: str) -> date:
    """2026-11-02, 2026/11/2, 2026.11.02, 2026年11月2日, 20261102 (a time may follow)."""
    value = unicodedata.normalize("NFKC", text or "").strip()
    found = _DATE_SEPARATED.match(value) or _DATE_COMPACT.match(value)
    if not found:
        raise ValueError(text)
    return date(*(int(part) for part in found.groups()))


_INCOMING = {"贷", "贷方", "c", "cr", "credit", "收", "收入", "来账", "入", "入账", "+"}
_OUTGOING = {"借", "借方", "d", "dr", "debit", "支", "支出", "往账", "出", "出账", "-"}


def parse_direction(text: str) -> bool:
    """True for money coming in (贷/C/收入), False for going out (借/D/支出); else ValueError."""
    value = unicodedata.normalize("NFKC", text or "").strip().lower()
    if value in _INCOMING:
        return True
    if value in _OUTGOING:
        return False
    raise ValueError(text)


def _tidy(value: str) -> str:
    return re.sub(r"\s+", " ", value or "").strip()


def _text(value: str) -> str:
    """Full-width and half-width alike (ＡＢＣ１２３ → ABC123, （）→ ()), spaces tidied."""
    return _tidy(unicodedata.normalize("NFKC", value or ""))


def payer_normal(name: str) -> str:
    """Payer names compare without spaces, full-width and half-width alike (（）and () too)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or "")).casefold()


def same_payer(a: str, b: str) -> bool:
    return bool(payer_normal(a)) and payer_normal(a) == payer_normal(b)


ORDER_NUMBER = re.compile(r"V\d{23}(?!\d)", re.IGNORECASE)


def order_numbers_in(reference: str) -> set[str]:
    return {found.upper() for found in ORDER_NUMBER.findall(_text(reference))}


# --- Rows → credits ----------------------------------------------------------------------------


@dataclass
class Row:
    """One incoming credit read from the file: the fields of a statement entry."""

    booked_on: date
    amount: Decimal
    payer_name: str
    payer_account: str
    reference: str
    bank_reference: str
    raw: dict
    checksum: str = ""


@dataclass
class Parsed:
    credits: list[Row] = field(default_factory=list)
    rows: int = 0  # data rows read (blank and total lines not counted)
    outgoing: int = 0  # debits and other rows without money coming in: skipped
    errors: list[str] = field(default_factory=list)


_TOTALS = re.compile(r"^(合计|总计|小计|本页合计|本期合计|累计|total|sum)", re.IGNORECASE)


def _checksum(values: list[str]) -> str:
    return hashlib.sha256("\x1f".join(values).encode()).hexdigest()


def rows_parse(table: Table, columns: dict[str, int]) -> Parsed:
    """Every data row → a ``Row`` with its checksum, or the reason it cannot be read."""
    headers = table.headers
    parsed = Parsed()
    occurrences: Counter = Counter()

    def cell(cells, key):
        index = columns.get(key)
        return cells[index] if index is not None and index < len(cells) else ""

    def error(number, key, value, message):
        parsed.errors.append(
            _("Row %(row)d, column “%(column)s”: %(message)s")
            % {"row": number, "column": headers[columns[key]], "message": message % {"v": value}}
        )

    for number, cells in table.data_rows():
        first = next((c for c in cells if c), "")
        if not cell(cells, "date") and _TOTALS.match(first):
            continue  # the bank's total line at the end
        parsed.rows += 1
        failed = len(parsed.errors)
        try:
            booked_on = parse_date(cell(cells, "date"))
        except ValueError:
            booked_on = None
            error(number, "date", cell(cells, "date"), _("“%(v)s” is not a date (2026-11-02)."))
        incoming = True
        if "direction" in columns:
            try:
                incoming = parse_direction(cell(cells, "direction"))
            except ValueError:
                error(
                    number,
                    "direction",
                    cell(cells, "direction"),
                    _("“%(v)s” is neither debit (借/D) nor credit (贷/C)."),
                )
        amount = debit = None
        try:
            amount = parse_amount(cell(cells, "amount"))
        except ValueError:
            error(number, "amount", cell(cells, "amount"), _("“%(v)s” is not an amount."))
        if "debit_amount" in columns:
            try:
                debit = parse_amount(cell(cells, "debit_amount"))
            except ValueError:
                error(
                    number,
                    "debit_amount",
                    cell(cells, "debit_amount"),
                    _("“%(v)s” is not an amount."),
                )
        if len(parsed.errors) > failed:
            continue
        if not incoming or (amount is not None and amount < 0) or (not amount and debit):
            parsed.outgoing += 1
            continue
        if amount is None:
            error(number, "amount", "", _("the amount is empty."))
            continue
        if amount == 0:
            parsed.outgoing += 1
            continue
        # Kept as the bank wrote them (spaces tidied); compared and summed up normalised.
        entry = Row(
            booked_on=booked_on,
            amount=amount,
            payer_name=_tidy(cell(cells, "payer_name"))[:200],
            payer_account=re.sub(r"\s+", "", cell(cells, "payer_account"))[:60],
            reference=_tidy(cell(cells, "reference"))[:200],
            bank_reference=_tidy(cell(cells, "bank_reference"))[:64],
            raw={"row": number, **dict(zip(headers, cells, strict=False))},
        )
        values = [
            entry.booked_on.isoformat(),
            str(entry.amount),
            _text(entry.payer_name),
            _text(entry.payer_account),
            _text(entry.reference),
            _text(entry.bank_reference),
        ]
        if not values[-1]:
            # Two identical transfers in one file are two transfers: the occurrence tells them
            # apart, and the same file imported again gives the same checksums.
            occurrences[tuple(values)] += 1
            values.append(f"#{occurrences[tuple(values)]}")
        entry.checksum = _checksum(values)
        parsed.credits.append(entry)
    return parsed


def rows_refusal(errors: list[str]) -> ValidationError:
    """The whole file is refused: the first ``MAX_ERRORS`` unreadable values, and how many more."""
    shown = errors[:MAX_ERRORS]
    if len(errors) > MAX_ERRORS:
        shown.append(_("… and %(n)d more.") % {"n": len(errors) - MAX_ERRORS})
    return ValidationError(
        [_("Nothing was imported: correct these values and upload the file again."), *shown],
        code="rows",
    )


def columns_check(columns: dict, headers: list[str]) -> dict[str, int]:
    """The mapping finance chose: every required field, each column once, all in the file."""
    chosen = {}
    for key, index in columns.items():
        if key not in FIELDS_BY_KEY or index in (None, ""):
            continue
        index = int(index)
        if not 0 <= index < len(headers):
            raise ValidationError(_("Choose columns of the file."), code="column")
        chosen[key] = index
    missing = [str(FIELDS_BY_KEY[key].label) for key in REQUIRED if key not in chosen]
    if missing:
        raise ValidationError(
            _("Choose the column of: %(fields)s.") % {"fields": ", ".join(missing)},
            code="required",
        )
    twice = [headers[i] for i, n in Counter(chosen.values()).items() if n > 1]
    if twice:
        raise ValidationError(
            _("Each column can serve one field only: “%(column)s” is chosen twice.")
            % {"column": twice[0]},
            code="twice",
        )
    return chosen
