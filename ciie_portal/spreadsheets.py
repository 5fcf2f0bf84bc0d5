"""Spreadsheets (openpyxl) read and written the same way everywhere.

- ``read_sheet``: an uploaded workbook's first sheet as rows keyed by column, found by their
  titles in row 1; a file that cannot be read as a whole raises ``SpreadsheetError``.
- ``RowReport``: one refused row of an upload and why — (column title, message) pairs.
- ``sheet_workbook``: a sheet of titles and rows, optionally with a notes (说明) sheet, as bytes.
- ``csv_rows_write``: rows as CSV for Excel.
- ``safe_cell``: what every cell written by the two above goes through, so that no text of a
  unit, a visitor or an address is ever a live formula in the file (CSV/formula injection).
- ``cell_text`` and ``fold``: how a cell is read as text and how texts are compared.

Every CSV and .xlsx the portal writes is written here: tests/test_exports_escape.py fails on a
module that builds a workbook or a CSV writer of its own.
"""

import csv
import io
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

NOTES_SHEET = "说明"
TITLE_FONT = Font(bold=True)
REQUIRED_TITLE_FONT = Font(bold=True, color="C00000")
TITLE_FILL = PatternFill("solid", fgColor="DDEBF7")
FILL_IN_FILL = PatternFill("solid", fgColor="FFF2CC")

#: How a text starts that Excel, LibreOffice or Google Sheets would read as a formula (tab and
#: carriage return are skipped before one): OWASP's list for CSV injection.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: What a cell holds as itself (a bool is an int, a datetime a date); anything else is text.
_NOT_TEXT = (int, float, Decimal, date, time, timedelta)


def safe_cell(value):
    """``value`` as a cell of a file the portal writes: a number, a date or nothing as it is,
    anything else as text — with a single quote before a text that a spreadsheet would take
    for a formula (OWASP's advice): ``=HYPERLINK(…)`` is written ``'=HYPERLINK(…)``.

    Names, addresses and couriers are typed by units and staff; without the quote, a name
    like ``=HYPERLINK("http://…")`` would be a live link or command in the secretary's Excel.
    A negative number stays a number; a text such as ``+86 139…`` or ``-5`` gets the quote.
    """
    if value is None or isinstance(value, _NOT_TEXT):
        return value
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell_text(value) -> str:
    """A cell as text: empty for nothing, 12 not 12.0, dates as ISO dates, no outer spaces,
    and without the quote ``safe_cell`` put before a formula-like text — so that a file the
    portal wrote (the review batch, the parcel list) reads back as it was."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        text = text[1:].strip()
    return text


def fold(text) -> str:
    """How titles, names and values are compared: full-width and half-width alike, no spaces,
    any case."""
    return "".join(unicodedata.normalize("NFKC", str(text or "")).split()).casefold()


# --- Reading -------------------------------------------------------------------------------------


class SpreadsheetError(ValidationError):
    """The file as a whole cannot be read: nothing was imported. ``code`` says why: not_xlsx,
    unreadable, no_sheet, columns, too_many_rows."""


@dataclass
class SheetRow:
    number: int  # the spreadsheet's row number (row 1 holds the titles)
    values: dict[str, str]  # column key → the cell as text (``cell_text``)
    cells: dict[str, object]  # column key → the cell's own value (a date cell stays a date)


def _default_messages() -> dict[str, str]:
    return {
        "not_xlsx": _("The file is not an Excel workbook (.xlsx)."),
        "unreadable": _("The workbook could not be read. Save it again as .xlsx and retry."),
        "no_sheet": _("The workbook has no sheet of visitors."),
        "columns": _("The first row must hold the column titles; missing: %(columns)s."),
        "too_many_rows": _("A file may hold at most %(max)d rows: split it into several files."),
    }


def read_sheet(
    rows_file,
    *,
    columns: Mapping[str, str | Sequence[str]],
    required: Iterable[str] = (),
    max_rows: int | None = None,
    skip_sheets: Sequence[str] = (),
    messages: Mapping[str, str] | None = None,
) -> list[SheetRow]:
    """The rows of the first sheet (after ``skip_sheets``) of an uploaded .xlsx.

    ``columns`` maps each column key to its title, or to a list of titles (the first is the
    usual one, the others are also understood); titles are compared with ``fold``. Columns
    not found count as empty; a ``required`` one that is missing refuses the file. Empty rows
    are skipped. ``messages`` replaces the default message of an error code (see
    ``SpreadsheetError``); "columns" gets ``%(columns)s``, "too_many_rows" ``%(max)d``.
    """
    text = {**_default_messages(), **(messages or {})}
    try:
        workbook = load_workbook(rows_file, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file it cannot read
        raise SpreadsheetError(text["not_xlsx"], code="not_xlsx") from None
    try:
        return _rows_of(workbook, columns, tuple(required), max_rows, skip_sheets, text)
    except SpreadsheetError:
        raise
    except Exception:  # a damaged sheet inside a readable archive
        raise SpreadsheetError(text["unreadable"], code="unreadable") from None
    finally:
        workbook.close()


def _rows_of(workbook, columns, required, max_rows, skip_sheets, text) -> list[SheetRow]:
    sheet = next((s for s in workbook.worksheets if s.title not in skip_sheets), None)
    if sheet is None:
        raise SpreadsheetError(text["no_sheet"], code="no_sheet")
    if hasattr(sheet, "reset_dimensions"):
        # Some programs write wrong sheet dimensions; read every row there is.
        sheet.reset_dimensions()
    lines = sheet.iter_rows(values_only=True)
    header = [fold(cell_text(cell)) for cell in next(lines, ())]
    position = {}
    for key, titles in columns.items():
        wanted = {fold(title) for title in ([titles] if isinstance(titles, str) else titles)}
        found = next((index for index, title in enumerate(header) if title in wanted), None)
        if found is not None:
            position[key] = found
    missing = [_first_title(columns[key]) for key in required if key not in position]
    if missing:
        raise SpreadsheetError(text["columns"] % {"columns": "、".join(missing)}, code="columns")
    rows = []
    for number, line in enumerate(lines, start=2):
        cells = {key: line[index] if index < len(line) else None for key, index in position.items()}
        values = {key: cell_text(value) for key, value in cells.items()}
        if not any(values.values()):
            continue
        if max_rows is not None and len(rows) >= max_rows:
            raise SpreadsheetError(text["too_many_rows"] % {"max": max_rows}, code="too_many_rows")
        rows.append(SheetRow(number=number, values=values, cells=cells))
    return rows


def _first_title(titles: str | Sequence[str]) -> str:
    return titles if isinstance(titles, str) else titles[0]


# --- Reporting -----------------------------------------------------------------------------------


@dataclass
class RowReport:
    """A row of an upload that was refused, and why: (column title, message) pairs; the
    column is "Row" for what concerns the row as a whole. ``label`` names what the row is
    about (a visitor's name, a parcel number) for the person reading the report."""

    number: int  # the spreadsheet's row number
    label: str = ""
    reasons: list[tuple[str, str]] = field(default_factory=list)

    def add(self, column: str | None, message) -> None:
        self.reasons.append((column or _("Row"), str(message)))

    @property
    def messages(self) -> list[str]:
        return [message for _column, message in self.reasons]


# --- Writing -------------------------------------------------------------------------------------


def csv_rows_write(stream, rows: Iterable[Sequence], *, titles: Sequence = ()) -> None:
    """Write CSV for Excel to the text ``stream`` (a response, a StringIO): a BOM (Excel reads
    UTF-8 only after one), the ``titles`` if any, then the ``rows``; every value goes through
    ``safe_cell``."""
    stream.write("\ufeff")
    writer = csv.writer(stream)
    if titles:
        writer.writerow([safe_cell(value) for value in titles])
    writer.writerows([safe_cell(value) for value in row] for row in rows)


def _cell(sheet, value, *, font=None, fill=None, alignment=None, number_format=None):
    """A cell of ``sheet`` holding ``safe_cell(value)``. Text is also typed as text (data type
    "s"): openpyxl writes a str that starts with "=" as a formula unless told otherwise."""
    cell = WriteOnlyCell(sheet, value=safe_cell(value))
    if isinstance(cell.value, str):
        cell.data_type = "s"
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    if alignment is not None:
        cell.alignment = alignment
    if number_format is not None:
        cell.number_format = number_format
    return cell


def sheet_workbook(
    *,
    title: str,
    titles: Sequence[str],
    rows: Iterable[Sequence] = (),
    required: Iterable[str] = (),
    fill_in: Iterable[str] = (),
    text_columns: Iterable[str] = (),
    widths: Mapping[str, float] | None = None,
    formats: Mapping[tuple[int, str], str] | None = None,
    choices: Mapping[str, Sequence[str]] | None = None,
    notes: Sequence[Sequence] = (),
    notes_header: int | None = None,
    notes_widths: Sequence[float] = (),
    notes_title: str = NOTES_SHEET,
) -> bytes:
    """A workbook: one sheet ``title`` with ``titles`` in row 1 (bold, shaded; the ``required``
    ones in red, the ``fill_in`` ones — those the reader is to fill in — shaded yellow) above
    ``rows``, frozen under the titles; and, when ``notes`` are given, a 说明 sheet with those
    lines, where line ``notes_header`` (1-based) is shaded as a header and the lines below it
    are wrapped (every line, without a header); ``notes_title`` names that second sheet.

    ``text_columns`` (titles) are formatted as text so that Excel keeps every digit of what is
    typed there; ``widths`` sets column widths by title (by default 12, or twice a long title);
    ``formats`` sets the number format of single cells, by (row, title); ``choices`` offers a
    drop-down of values in the rows of a column, by title.

    Written row by row (openpyxl's write-only mode): a review batch holds 20,000 visitors.
    Every value goes through ``safe_cell``.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    titles = list(titles)
    required, fill_in, text_columns = set(required), set(fill_in), set(text_columns)
    formats = formats or {}
    # Column widths and formats and the frozen row must come before the first row.
    for index, name in enumerate(titles, start=1):
        letter = get_column_letter(index)
        width = (widths or {}).get(name, max(12, len(name) * 2 + 4))
        sheet.column_dimensions[letter].width = width
        if name in text_columns:
            sheet.column_dimensions[letter].number_format = "@"
    sheet.freeze_panes = "A2"
    sheet.append(
        [
            _cell(
                sheet,
                name,
                font=REQUIRED_TITLE_FONT if name in required else TITLE_FONT,
                fill=FILL_IN_FILL if name in fill_in else TITLE_FILL,
            )
            for name in titles
        ]
    )
    last_row = 1
    for last_row, row in enumerate(rows, start=2):
        cells = []
        for index, value in enumerate(row):
            name = titles[index] if index < len(titles) else None
            text = "@" if name in text_columns else None
            cells.append(_cell(sheet, value, number_format=formats.get((last_row, name), text)))
        sheet.append(cells)
    for name, values in (choices or {}).items():
        if last_row > 1:
            letter = get_column_letter(titles.index(name) + 1)
            choice = DataValidation(type="list", formula1=f'"{",".join(values)}"', allow_blank=True)
            choice.add(f"{letter}2:{letter}{last_row}")
            sheet.data_validations.dataValidation.append(choice)
    if notes:
        _notes_sheet(workbook, notes, notes_header, notes_widths, notes_title)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _notes_sheet(workbook, notes, header, widths, title=NOTES_SHEET) -> None:
    sheet = workbook.create_sheet(title)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    wrap = Alignment(wrap_text=True, vertical="top")
    for number, line in enumerate(notes, start=1):
        if number == header:
            style = {"font": TITLE_FONT, "fill": TITLE_FILL}
        elif header is None or number > header:
            style = {"alignment": wrap}
        else:
            style = {}
        sheet.append([_cell(sheet, value, **style) for value in line])
