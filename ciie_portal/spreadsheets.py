"""Spreadsheets (openpyxl) read and written the same way everywhere.

- ``read_sheet``: an uploaded workbook's first sheet as rows keyed by column, found by their
  titles in row 1; a file that cannot be read as a whole raises ``SpreadsheetError``.
- ``RowReport``: one refused row of an upload and why — (column title, message) pairs.
- ``sheet_workbook``: a sheet of titles and rows, optionally with a notes (说明) sheet, as bytes.
- ``cell_text`` and ``fold``: how a cell is read as text and how texts are compared.
"""

import io
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

NOTES_SHEET = "说明"
TITLE_FONT = Font(bold=True)
REQUIRED_TITLE_FONT = Font(bold=True, color="C00000")
TITLE_FILL = PatternFill("solid", fgColor="DDEBF7")


def cell_text(value) -> str:
    """A cell as text: empty for nothing, 12 not 12.0, dates as ISO dates, no outer spaces."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


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


def sheet_workbook(
    *,
    title: str,
    titles: Sequence[str],
    rows: Iterable[Sequence] = (),
    required: Iterable[str] = (),
    text_columns: Iterable[str] = (),
    widths: Mapping[str, float] | None = None,
    formats: Mapping[tuple[int, str], str] | None = None,
    notes: Sequence[Sequence] = (),
    notes_header: int | None = None,
    notes_widths: Sequence[float] = (),
) -> bytes:
    """A workbook: one sheet ``title`` with ``titles`` in row 1 (bold, shaded; the ``required``
    ones in red) above ``rows``, frozen under the titles; and, when ``notes`` are given, a
    说明 sheet with those lines, wrapped, where line ``notes_header`` (1-based) is shaded as
    a header.

    ``text_columns`` (titles) are formatted as text so that Excel keeps every digit of what is
    typed there; ``widths`` sets column widths by title (by default 12, or twice a long title);
    ``formats`` sets the number format of single cells, by (row, title).
    """
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    sheet.append(list(titles))
    for row in rows:
        sheet.append(list(row))
    required, text_columns = set(required), set(text_columns)
    for index, name in enumerate(titles, start=1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=1, column=index)
        cell.font = REQUIRED_TITLE_FONT if name in required else TITLE_FONT
        cell.fill = TITLE_FILL
        width = (widths or {}).get(name, max(12, len(name) * 2 + 4))
        sheet.column_dimensions[letter].width = width
        if name in text_columns:
            sheet.column_dimensions[letter].number_format = "@"
            for row_number in range(2, sheet.max_row + 1):
                sheet.cell(row=row_number, column=index).number_format = "@"
    for (row_number, name), number_format in (formats or {}).items():
        sheet.cell(
            row=row_number, column=list(titles).index(name) + 1
        ).number_format = number_format
    sheet.freeze_panes = "A2"
    if notes:
        notes_sheet = workbook.create_sheet(NOTES_SHEET)
        for line in notes:
            notes_sheet.append(list(line))
        if notes_header is not None:
            for cell in notes_sheet[notes_header]:
                cell.font, cell.fill = TITLE_FONT, TITLE_FILL
            wrap = Alignment(wrap_text=True, vertical="top")
            for line in notes_sheet.iter_rows(min_row=notes_header + 1):
                for cell in line:
                    cell.alignment = wrap
        for index, width in enumerate(notes_widths, start=1):
            notes_sheet.column_dimensions[get_column_letter(index)].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
