"""银行流水: finance imports the bank's statement file and transfers are matched to orders.

The flow is upload → column mapping → import → matching:

- ``statement_upload`` keeps the file (private), reads its header row and guesses which column
  is which (the mapping last used for the same header row, else the header names).
- ``statement_import`` reads every row with the mapping finance confirmed, refuses the whole file
  with the row and column of every unreadable value, keeps only incoming credits, and inserts
  the rows in one transaction. Each row's checksum is unique: a row imported before, from this
  file or an overlapping one, is counted as repeated and changes nothing.
- ``entries_match`` (right after the import, and again on demand) matches each entry of the queue
  to an order by the order number in the reference, the amount and the payer. Money that cannot
  be accepted is recorded on a flagged payment or left in the queue with the reason: never
  dropped, never accepted silently.
- ``statement_entry_match`` and ``statement_entry_ignore`` are finance's hands on the queue.
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
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ciie_portal.audit import audit_record, audit_record_bulk
from ciie_portal.states import StateMachine, TransitionError
from credentials.models import CredentialOrder
from credentials.orders.services import order_mark_paid, order_payer_refusal

from .models import (
    PAYMENT_STATES,
    BankStatement,
    Method,
    Payment,
    StatementEntry,
    TransferRemittance,
)
from .services import _transfer_locked, _transfer_refusal, method_deadline, transfer_confirm

MAX_FILE_BYTES = 10 * 1024 * 1024
#: Rows looked at for the delimiter and the header row (banks put the account and the period
#: above the column titles).
PREAMBLE_ROWS = 30
#: At most this many unreadable values are listed when a file is refused.
MAX_ERRORS = 30
MAX_AMOUNT = Decimal("9999999999.99")

_S = BankStatement.Status
STATEMENT_STATES = StateMachine(
    name="bank_statement",
    choices=BankStatement.Status,
    moves={_S.UPLOADED: {_S.IMPORTED}, _S.IMPORTED: set()},
)

_M = StatementEntry.Match
ENTRY_STATES = StateMachine(
    name="statement_entry",
    choices=StatementEntry.Match,
    field="match",
    moves={
        # The queue: matched to an order (by the portal or by finance), or set aside by finance.
        _M.UNMATCHED: {_M.MATCHED, _M.IGNORED},
        _M.MATCHED: set(),
        _M.IGNORED: set(),
    },
)


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


def columns_guess(headers: list[str]) -> tuple[dict[str, int], str]:
    """The mapping last used for this header row, else the one the header names suggest.
    Returns the mapping and where it came from ("remembered" or "headers")."""
    previous = (
        BankStatement.objects.filter(status=_S.IMPORTED, mapping__header_key=header_key(headers))
        .order_by("-imported_at", "-pk")
        .values_list("mapping", flat=True)
        .first()
    )
    if previous:
        columns = {
            key: index
            for key, index in (previous.get("columns") or {}).items()
            if key in FIELDS_BY_KEY and isinstance(index, int) and 0 <= index < len(headers)
        }
        if all(key in columns for key in REQUIRED):
            return columns, "remembered"
    return columns_guess_from_headers(headers), "headers"


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


# --- Rows → entries ----------------------------------------------------------------------------


@dataclass
class Parsed:
    entries: list[StatementEntry] = field(default_factory=list)
    rows: int = 0  # data rows read (blank and total lines not counted)
    outgoing: int = 0  # debits and other rows without money coming in: skipped
    errors: list[str] = field(default_factory=list)


_TOTALS = re.compile(r"^(合计|总计|小计|本页合计|本期合计|累计|total|sum)", re.IGNORECASE)


def _checksum(values: list[str]) -> str:
    return hashlib.sha256("\x1f".join(values).encode()).hexdigest()


def rows_parse(table: Table, columns: dict[str, int]) -> Parsed:
    """Every data row → an unsaved entry with its checksum, or the reason it cannot be read."""
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
        entry = StatementEntry(
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
        parsed.entries.append(entry)
    return parsed


def _refusal_message(errors: list[str]) -> ValidationError:
    shown = errors[:MAX_ERRORS]
    if len(errors) > MAX_ERRORS:
        shown.append(_("… and %(n)d more.") % {"n": len(errors) - MAX_ERRORS})
    return ValidationError(
        [_("Nothing was imported: correct these values and upload the file again."), *shown],
        code="rows",
    )


# --- Upload and import --------------------------------------------------------------------------


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def statement_upload(*, upload, actor) -> BankStatement:
    """Keep the uploaded file (private) and guess its mapping; nothing is imported yet."""
    if upload.size > MAX_FILE_BYTES:
        raise ValidationError(_("The file is larger than 10 MB."), code="size")
    data = upload.read()
    table = table_read(data)
    headers = table.headers
    columns, source = columns_guess(headers)
    upload.seek(0)
    statement = BankStatement(
        filename=(upload.name or "statement.csv")[-200:],
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by=_user(actor),
        mapping={
            "encoding": table.encoding,
            "delimiter": table.delimiter,
            "header_row": table.header_row,
            "headers": headers,
            "header_key": header_key(headers),
            "columns": columns,
            "guessed_from": source,
        },
    )
    statement.file.save(f"statement-{statement.sha256[:12]}.csv", upload, save=False)
    statement.save()
    audit_record(
        actor=actor,
        obj=statement,
        action="bank_statement.uploaded",
        to_state=statement.status,
        data={"filename": statement.filename, "sha256": statement.sha256},
    )
    return statement


def statement_table(statement: BankStatement) -> Table:
    with statement.file.open("rb") as handle:
        data = handle.read()
    mapping = statement.mapping
    return table_read(
        data,
        encoding=mapping.get("encoding", ""),
        delimiter=mapping.get("delimiter", ""),
        header_row=mapping.get("header_row"),
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


@dataclass
class ImportReport:
    statement: BankStatement
    rows: int
    new: int
    repeated: int
    outgoing: int
    matching: MatchReport


def statement_import(*, statement_id: int, columns: dict, actor) -> ImportReport:
    """Import the statement's rows with ``columns`` (field → column index), then match them.

    All or nothing: one unreadable value refuses the file (ValidationError listing each row and
    column). A row whose checksum is already known, from any statement, is counted as repeated
    and changes nothing, so importing the same file twice, or overlapping statements, is safe.
    """
    statement = BankStatement.objects.get(pk=statement_id)
    if statement.status != _S.UPLOADED:
        raise ValidationError(_("This statement was already imported."), code="imported")
    # The file is read before the transaction: no slow I/O while rows are locked.
    table = statement_table(statement)
    chosen = columns_check(columns, table.headers)
    parsed = rows_parse(table, chosen)
    if parsed.errors:
        raise _refusal_message(parsed.errors)

    now = timezone.now()
    with transaction.atomic():
        locked = BankStatement.objects.select_for_update().get(pk=statement_id)
        if locked.status != _S.UPLOADED:
            raise ValidationError(_("This statement was already imported."), code="imported")
        for entry in parsed.entries:
            entry.statement = locked
        # The unique checksum decides what is new, also against an import running at the same
        # time: the rows that went in are the ones that now belong to this statement.
        StatementEntry.objects.bulk_create(parsed.entries, batch_size=500, ignore_conflicts=True)
        new_entries = list(StatementEntry.objects.filter(statement=locked).order_by("pk"))
        counts = {
            "rows_total": parsed.rows,
            "rows_new": len(new_entries),
            "rows_repeated": len(parsed.entries) - len(new_entries),
            "rows_matched": 0,
        }
        STATEMENT_STATES.move(
            locked,
            _S.IMPORTED,
            actor=actor,
            data={**counts, "skipped_outgoing": parsed.outgoing},
            mapping={**locked.mapping, "columns": chosen},
            imported_at=now,
            **counts,
        )
        audit_record_bulk(actor=actor, objects=new_entries, action="statement_entry.imported")

    matching = entries_match(entry_ids=[entry.pk for entry in new_entries], actor=actor)
    locked.refresh_from_db()
    return ImportReport(
        statement=locked,
        rows=parsed.rows,
        new=len(new_entries),
        repeated=len(parsed.entries) - len(new_entries),
        outgoing=parsed.outgoing,
        matching=matching,
    )


def statement_outgoing(statement: BankStatement) -> int:
    """Rows skipped as money going out (debits): what is neither new nor repeated."""
    return max(statement.rows_total - statement.rows_new - statement.rows_repeated, 0)


# --- Matching ----------------------------------------------------------------------------------


@dataclass
class MatchReport:
    confirmed: int = 0  # payment confirmed, order paid
    linked: int = 0  # the transfer was confirmed by finance before: the entry is its evidence
    flagged: int = 0  # money recorded on a flagged payment, not accepted
    queued: int = 0  # left for finance, with the reason in the note
    skipped: int = 0  # no longer in the queue (matched meanwhile)

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def matched(self) -> int:
        return self.confirmed + self.linked + self.flagged


def _queue(entry: StatementEntry, note: str) -> str:
    """The entry stays in the queue; the note tells finance why."""
    if entry.note != note:
        StatementEntry.objects.filter(pk=entry.pk, match=_M.UNMATCHED).update(note=note)
        entry.note = note
    return "queued"


def _link(entry, payment, *, actor, now, note: str, reason: str = "") -> None:
    ENTRY_STATES.move(
        entry,
        _M.MATCHED,
        actor=actor,
        reason=reason or note,
        data={"payment": payment.pk, "order": payment.order.number, "amount": str(entry.amount)},
        payment=payment,
        note=note,
        matched_by=_user(actor),
        matched_at=now,
    )


def _flagged_payment(entry, order, reason: str, *, actor, now) -> Payment:
    """Money for ``order`` that cannot be accepted: recorded on a payment of its own, failed
    and flagged with the amount received and the reason, so finance sees it. It is "failed",
    not "started", so that nobody can confirm it as a transfer awaiting confirmation."""
    payment = Payment.objects.create(
        order=order,
        method=Method.TRANSFER,
        amount=order.total,
        created_by=_user(actor),
        created_at=now,
    )
    audit_record(
        actor=actor,
        obj=payment,
        action="payment.created",
        to_state=payment.status,
        data={"order": order.number, "method": Method.TRANSFER, "statement_entry": entry.pk},
    )
    PAYMENT_STATES.move(
        payment,
        Payment.Status.FAILED,
        actor=actor,
        reason=reason,
        flagged=True,
        flag_reason=reason,
        received_amount=entry.amount,
    )
    audit_record(
        actor=actor,
        obj=payment,
        action="payment.flagged",
        from_state=payment.status,
        to_state=payment.status,
        reason=reason,
        data={"statement_entry": entry.pk, "amount": str(entry.amount), "due": str(order.total)},
    )
    return payment


def _late(entry: StatementEntry, order: CredentialOrder) -> str:
    reasons = []
    if entry.booked_on > timezone.localdate(method_deadline(order, Method.TRANSFER)):
        reasons.append(_("Paid after the deadline for this payment method."))
    if entry.booked_on > timezone.localdate(order.expires_at):
        reasons.append(_("Paid after the order's payment window ended."))
    return " ".join(reasons)


def _settle(entry, order, *, actor, now, check_payer: bool, reason: str = "") -> str:
    """Apply ``entry``'s money, whose amount is the order's total, to ``order``. Both rows are
    locked by the caller. Returns the outcome (see ``MatchReport``)."""
    awaiting = (
        Payment.objects.filter(order=order, method=Method.TRANSFER, status=Payment.Status.CREATED)
        .order_by("-created_at", "-pk")
        .first()
    )
    remittance = TransferRemittance.objects.filter(payment=awaiting).first() if awaiting else None
    if awaiting is not None and remittance is not None:
        if check_payer and not same_payer(entry.payer_name, remittance.payer_name):
            return _queue(
                entry,
                _("The payer “%(payer)s” is not the one of the remittance, “%(remitter)s”.")
                % {"payer": entry.payer_name, "remitter": remittance.payer_name},
            )
        payment = _transfer_locked(awaiting.pk)
        refusal = _transfer_refusal(payment, remittance)
        if refusal and payment.flagged and refusal in payment.flag_reason:
            return _queue(entry, refusal)  # flagged on an earlier run: once is enough
        result = transfer_confirm(payment_id=payment.pk, actor=actor, now=now)
        if result != "confirmed":
            return _queue(
                entry,
                refusal
                or _("The transfer of order %(number)s was no longer awaiting confirmation.")
                % {"number": order.number},
            )
        payment.refresh_from_db()
        _link(
            entry,
            payment,
            actor=actor,
            now=now,
            note=_("Transfer confirmed from the bank statement."),
            reason=reason,
        )
        return "confirmed"

    if order.status == CredentialOrder.Status.PAID:
        # Finance may have confirmed the transfer by hand before the statement came in: then
        # this row is that money, not a second payment.
        earlier = (
            Payment.objects.filter(
                order=order,
                method=Method.TRANSFER,
                status=Payment.Status.CONFIRMED,
                received_amount=entry.amount,
                statement_entry__isnull=True,
            )
            .select_related("order")
            .order_by("confirmed_at", "pk")
            .first()
        )
        if earlier is not None:
            remitted = TransferRemittance.objects.filter(payment=earlier).first()
            if check_payer and remitted and not same_payer(entry.payer_name, remitted.payer_name):
                return _queue(
                    entry,
                    _("The payer “%(payer)s” is not the one of the remittance, “%(remitter)s”.")
                    % {"payer": entry.payer_name, "remitter": remitted.payer_name},
                )
            _link(
                entry,
                earlier,
                actor=actor,
                now=now,
                note=_("The transfer had been confirmed before the statement was imported."),
                reason=reason,
            )
            return "linked"
        refusal = _("The order was already paid by another payment.")
    elif order.status in (CredentialOrder.Status.CANCELLED, CredentialOrder.Status.CLOSED):
        refusal = _("The order was %(status)s before the transfer was confirmed.") % {
            "status": order.get_status_display()
        }
    else:
        refusal = " ".join(filter(None, [_late(entry, order), order_payer_refusal(order)]))
    if refusal:
        payment = _flagged_payment(entry, order, refusal, actor=actor, now=now)
        _link(entry, payment, actor=actor, now=now, note=refusal, reason=reason)
        return "flagged"

    # Pending, in time, and no remittance: the bank's row is the evidence.
    payment = Payment.objects.create(
        order=order,
        method=Method.TRANSFER,
        amount=order.total,
        created_by=_user(actor),
        created_at=now,
    )
    audit_record(
        actor=actor,
        obj=payment,
        action="payment.created",
        to_state=payment.status,
        data={"order": order.number, "method": Method.TRANSFER, "statement_entry": entry.pk},
    )
    PAYMENT_STATES.move(
        payment,
        Payment.Status.CONFIRMED,
        actor=actor,
        reason=_("Bank transfer found in the bank statement."),
        confirmed_at=now,
        received_amount=entry.amount,
    )
    order_mark_paid(order=order, actor=actor, paid_at=now)
    _link(
        entry,
        payment,
        actor=actor,
        now=now,
        note=_("Transfer confirmed from the bank statement."),
        reason=reason,
    )
    return "confirmed"


def _entry_locked(entry_id: int) -> StatementEntry | None:
    return StatementEntry.objects.select_for_update(of=("self",)).filter(pk=entry_id).first()


def _order_locked(number: str) -> CredentialOrder | None:
    return (
        CredentialOrder.objects.select_for_update(of=("self",))
        .select_related("edition")
        .filter(number=number)
        .first()
    )


def _why_not(entry: StatementEntry, orders: dict) -> str:
    """Why ``entry`` cannot be matched automatically, from what was read without locks; "" when
    it is a candidate (the locked path checks again)."""
    numbers = order_numbers_in(entry.reference)
    if not numbers:
        return _("No order number in the reference.")
    if len(numbers) > 1:
        return _("Several order numbers in the reference: %(numbers)s.") % {
            "numbers": ", ".join(sorted(numbers))
        }
    number = next(iter(numbers))
    order = orders.get(number)
    if order is None:
        return _("No order %(number)s.") % {"number": number}
    if entry.amount != order.total:
        return _("%(received)s CNY received, %(due)s CNY due for order %(number)s.") % {
            "received": entry.amount,
            "due": order.total,
            "number": number,
        }
    return ""


def _entry_match_locked(entry_id: int, *, actor, now) -> str:
    with transaction.atomic():
        entry = _entry_locked(entry_id)
        if entry is None or entry.match != _M.UNMATCHED or entry.payment_id:
            return "skipped"
        numbers = order_numbers_in(entry.reference)
        order = _order_locked(next(iter(numbers))) if len(numbers) == 1 else None
        orders = {order.number: order} if order else {}
        why = _why_not(entry, orders)
        if why:
            return _queue(entry, why)
        return _settle(entry, order, actor=actor, now=now, check_payer=True)


def entries_match(*, entry_ids, actor) -> MatchReport:
    """Match the queued entries among ``entry_ids`` to orders (see the module's docstring).

    Safe to run twice and at the same time as another run: each entry is settled in its own
    transaction under a lock on the entry, then on the order, and an entry already matched is
    skipped. Entries that cannot be candidates are noted in bulk without locks.
    """
    report = MatchReport()
    now = timezone.now()
    entries = list(
        StatementEntry.objects.filter(pk__in=list(entry_ids), match=_M.UNMATCHED).order_by("pk")
    )
    numbers = set().union(*(order_numbers_in(e.reference) for e in entries)) if entries else set()
    orders = {o.number: o for o in CredentialOrder.objects.filter(number__in=numbers)}
    notes: dict[str, list[int]] = {}
    candidates = []
    for entry in entries:
        why = _why_not(entry, orders)
        if not why:
            candidates.append(entry.pk)
            continue
        report.queued += 1
        if why != entry.note:
            notes.setdefault(why, []).append(entry.pk)
    for note, ids in notes.items():
        StatementEntry.objects.filter(pk__in=ids, match=_M.UNMATCHED).update(note=note)
    for entry_id in candidates:
        try:
            report.add(_entry_match_locked(entry_id, actor=actor, now=now))
        except (ValidationError, TransitionError) as error:
            # Another request changed the order or the payment under us: keep the entry queued.
            message = " ".join(getattr(error, "messages", [str(error)]))
            StatementEntry.objects.filter(pk=entry_id, match=_M.UNMATCHED).update(note=message)
            report.queued += 1
    statements_count_matched(
        StatementEntry.objects.filter(pk__in=[e.pk for e in entries]).values("statement_id")
    )
    return report


def statements_count_matched(statement_ids) -> None:
    """Refresh ``rows_matched`` of the given statements in one UPDATE."""
    matched = (
        StatementEntry.objects.filter(statement=OuterRef("pk"), match=_M.MATCHED)
        .values("statement")
        .annotate(n=Count("pk"))
        .values("n")
    )
    BankStatement.objects.filter(pk__in=statement_ids).update(
        rows_matched=Coalesce(Subquery(matched), Value(0))
    )


# --- Finance's hands on the queue ---------------------------------------------------------------


def _entry_in_queue(entry_id: int) -> StatementEntry:
    entry = _entry_locked(entry_id)
    if entry is None or entry.match != _M.UNMATCHED or entry.payment_id:
        raise ValidationError(
            _("This bank statement entry is no longer in the queue."), code="not_queued"
        )
    return entry


def statement_entry_match(*, entry_id: int, order_number: str, actor, reason: str) -> str:
    """Finance matches a queued entry to an order by hand, with the reason (audited).

    The payer and the reference are finance's judgement; the amount is not: money that is not
    the order's total is recorded on a flagged payment, never confirmed. Returns the outcome
    ("confirmed", "linked", "flagged" or "queued" when a transfer awaiting confirmation could
    not be confirmed — the note says why).
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give the reason for matching by hand."), code="reason")
    number = re.sub(r"\s+", "", order_number or "").upper()
    if not re.fullmatch(r"V\d{23}", number):
        raise ValidationError(_("An order number is V followed by 23 digits."), code="order_number")
    now = timezone.now()
    with transaction.atomic():
        entry = _entry_in_queue(entry_id)
        order = _order_locked(number)
        if order is None:
            raise ValidationError(_("No order %(number)s.") % {"number": number}, code="order")
        if entry.amount != order.total:
            refusal = _("%(received)s CNY received, %(due)s CNY due.") % {
                "received": entry.amount,
                "due": order.total,
            }
            payment = _flagged_payment(entry, order, f"{refusal} {reason}", actor=actor, now=now)
            _link(entry, payment, actor=actor, now=now, note=refusal, reason=reason)
            outcome = "flagged"
        else:
            outcome = _settle(entry, order, actor=actor, now=now, check_payer=False, reason=reason)
        if outcome == "queued":
            audit_record(
                actor=actor,
                obj=entry,
                action="statement_entry.match_refused",
                from_state=entry.match,
                to_state=entry.match,
                reason=reason,
                data={"order": number, "why": entry.note},
            )
    statements_count_matched([entry.statement_id])
    return outcome


def statement_entry_ignore(*, entry_id: int, note: str, actor) -> bool:
    """Not an order payment (a refund from a supplier, interest…): out of the queue, with the
    note. Returns False when the entry was no longer in the queue."""
    note = (note or "").strip()
    if not note:
        raise ValidationError(_("Say what this money is."), code="note")
    with transaction.atomic():
        entry = _entry_locked(entry_id)
        if entry is None or entry.match != _M.UNMATCHED or entry.payment_id:
            return False
        ENTRY_STATES.move(
            entry,
            _M.IGNORED,
            actor=actor,
            reason=note,
            note=note,
            matched_by=_user(actor),
            matched_at=timezone.now(),
        )
    return True
