"""The review file (人员信息审核): its columns, the export workbook, and reading the results back.

The export is the one place the visitors' ID numbers leave the database in clear; the file
itself is not kept (``models.ReviewBatch``).
"""

from __future__ import annotations

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ciie_portal.spreadsheets import (
    NOTES_SHEET,
    SpreadsheetError,
    fold,
    read_sheet,
    sheet_workbook,
)
from delegations.bulk import LABELS
from registration.models import Visitor, WatchlistMatch

from .models import ReviewBatch, ReviewResult

V = Visitor.Status
Outcome = ReviewResult.Outcome

# --- The file format -----------------------------------------------------------------------------

#: Column key → the column's title in row 1 of the export. The reviewer fills in the last two.
COLUMNS = {
    "batch": "批次号",
    "reference": "人员编号",
    "name": "姓名",
    "person_type": "人员类型",
    "id_type": "证件类型",
    "id_number": "证件号码",
    "nationality": "国籍/地区",
    "sex": "性别",
    "birth_date": "出生日期",
    "unit": "单位名称",
    "delegation": "所属交易团",
    # Security's own file only: the reasons of the watchlist entries the visitor matched.
    "watchlist": "关注名单",
    "result": "审核结果",
    "reason": "不通过原因",
}
#: English titles are understood too (an overseas reviewer's copy of the file).
COLUMN_ALIASES = {
    "batch": "batch",
    "reference": "reference",
    "name": "name",
    "id_number": "ID number",
    "result": "result",
    "reason": "reason",
}
#: The columns a result file must have.
REQUIRED_COLUMNS = ("reference", "id_number", "result")
#: The columns of the delegations' read-only list (no result to fill in).
LIST_COLUMNS = [key for key in COLUMNS if key not in ("batch", "watchlist", "result", "reason")]

RESULT_PASSED = "通过"
RESULT_FAILED = "不通过"
#: What the result column may say, compared without spaces and case.
RESULT_VALUES = {
    "通过": Outcome.PASSED,
    "审核通过": Outcome.PASSED,
    "passed": Outcome.PASSED,
    "pass": Outcome.PASSED,
    "不通过": Outcome.FAILED,
    "审核不通过": Outcome.FAILED,
    "failed": Outcome.FAILED,
    "fail": Outcome.FAILED,
}

SHEET_TITLE = "人员信息审核"
MAX_EXPORT = 20000
MAX_IMPORT_ROWS = 20000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


RESULT_OUTCOMES = {fold(text): outcome for text, outcome in RESULT_VALUES.items()}
# The Chinese labels of the spreadsheet, as the bulk registration file writes them.
_CHINESE = {column: {value: label for label, value in LABELS[column].items()} for column in LABELS}


#: The file as a whole cannot be read: nothing was imported.
ReviewFileError = SpreadsheetError


# --- Export --------------------------------------------------------------------------------------


def _country_names(codes: set[str]) -> dict[str, str]:
    with translation.override("zh-hans"):
        from django_countries import countries

        return {code: str(countries.name(code)) for code in codes if code}


def _cells(visitor: Visitor, *, batch_code: str, countries: dict, watchlist: dict) -> dict:
    nationality = str(visitor.nationality or "")
    if not nationality and visitor.person_type == "mainland":
        nationality = "CN"
    unit = visitor.unit
    return {
        "batch": batch_code,
        "reference": visitor.reference,
        "name": visitor.name,
        "person_type": _CHINESE["person_type"].get(visitor.person_type, visitor.person_type),
        "id_type": _CHINESE["id_type"].get(visitor.id_type, visitor.id_type),
        "id_number": visitor.id_number,  # decrypted: this file is what the check needs
        "nationality": countries.get(nationality, "中国" if nationality == "CN" else nationality),
        "sex": _CHINESE["sex"].get(visitor.sex, ""),
        "birth_date": visitor.birth_date.isoformat() if visitor.birth_date else "",
        "unit": unit.name,
        "delegation": unit.delegation.name if unit.delegation_id else "",
        "watchlist": "; ".join(watchlist.get(visitor.pk, ())),
        "result": "",
        "reason": "",
    }


def _watchlist_reasons(visitors: list[Visitor]) -> dict[int, list[str]]:
    """Visitor id → the reasons of the watchlist entries they matched
    (``registration.watchlist``)."""
    reasons: dict[int, list[str]] = {}
    matches = WatchlistMatch.objects.filter(visitor_id__in=[v.pk for v in visitors])
    for visitor_id, reason in matches.order_by("pk").values_list("visitor_id", "entry__reason"):
        reasons.setdefault(visitor_id, []).append(reason)
    return reasons


#: Column widths; the others are 12.
WIDTHS = {
    "name": 14,
    "id_number": 22,
    "unit": 32,
    "delegation": 18,
    "watchlist": 24,
    "reason": 30,
}


def review_workbook(visitors: list[Visitor], *, batch: ReviewBatch | None = None) -> bytes:
    """The spreadsheet of ``visitors``: with a batch, the reviewer's file (result and reason
    columns to fill in, a drop-down for the result); without, a delegation's read-only list."""
    columns = list(COLUMNS) if batch is not None else LIST_COLUMNS
    countries = _country_names({str(v.nationality) for v in visitors} | {"CN"})
    code = batch.code if batch is not None else ""
    watchlist = _watchlist_reasons(visitors) if batch is not None else {}
    rows = (
        [values[column] for column in columns]
        for values in (
            _cells(v, batch_code=code, countries=countries, watchlist=watchlist) for v in visitors
        )
    )
    return sheet_workbook(
        title=SHEET_TITLE,
        titles=[COLUMNS[column] for column in columns],
        rows=rows,
        fill_in=[COLUMNS["result"], COLUMNS["reason"]],
        # Excel must keep every character of these two.
        text_columns=[COLUMNS["reference"], COLUMNS["id_number"]],
        widths={COLUMNS[column]: WIDTHS.get(column, 12) for column in columns},
        choices={COLUMNS["result"]: (RESULT_PASSED, RESULT_FAILED)} if batch is not None else None,
        notes=[[line] for line in _notes(batch=batch, count=len(visitors))],
        notes_widths=(100,),
    )


def _notes(*, batch, count: int) -> list[str]:
    if batch is not None:
        return [
            _("Review batch %(code)s: %(count)d visitor(s), exported %(when)s by %(user)s.")
            % {
                "code": batch.code,
                "count": count,
                "when": timezone.localtime(batch.exported_at).strftime("%Y-%m-%d %H:%M"),
                "user": batch.exported_by.get_username(),
            },
            _(
                "Write the result of each visitor in the column “审核结果”: 通过 (passed) or "
                "不通过 (failed). A failed visitor needs a reason in “不通过原因”; the unit "
                "sees it."
            ),
            _(
                "Leave the result empty for visitors not yet checked: those rows are skipped "
                "and can be imported later."
            ),
            _(
                "Do not change the columns “人员编号” and “证件号码”: each row is matched to its "
                "visitor by both. A row that matches no visitor, names two different visitors "
                "or appears twice is reported and changes nothing."
            ),
            _(
                "The file holds ID numbers in clear: keep it safe and delete it once the "
                "results are imported."
            ),
        ]
    return [
        _("Visitors awaiting review: %(count)d. This list is for reading only.") % {"count": count},
        _("The file holds ID numbers in clear: keep it safe and delete it after use."),
    ]


# --- Import: reading -----------------------------------------------------------------------------


def review_file_read(rows_file) -> list[dict]:
    """The rows of the result file's first sheet (not 说明): column key → text, plus ``row``
    (the spreadsheet's row number). Empty rows are skipped."""
    sheet_rows = read_sheet(
        rows_file,
        columns={
            key: (title, *([COLUMN_ALIASES[key]] if key in COLUMN_ALIASES else []))
            for key, title in COLUMNS.items()
        },
        required=REQUIRED_COLUMNS,
        max_rows=MAX_IMPORT_ROWS,
        skip_sheets=(NOTES_SHEET,),
        messages={
            "not_xlsx": _("The file is not an Excel workbook (.xlsx): upload the exported file."),
            "columns": _(
                "The first row must hold the column titles of the export; missing: %(columns)s."
            ),
        },
    )
    return [{**row.values, "row": row.number} for row in sheet_rows]
