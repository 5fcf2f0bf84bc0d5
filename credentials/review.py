"""Visitor review (人员信息审核 / 公安背审) and cancellation (注销).

The security reviewer exports the visitors awaiting review (待审核) as a spreadsheet — the one
place their ID numbers leave the database in clear — and imports the file back with a result per
row: passed (通过), or failed (不通过) with a reason. A result row names its visitor twice, by
reference number and by ID number; a row whose two keys do not name the same visitor awaiting
review is reported and changes nothing, never guessed. Everything else is applied set-based in
one transaction, one UPDATE per outcome, and each unit hears once per import how many of its
visitors passed and failed. Failed visitors become refundable (``payments.refunds``).

A visitor is cancelled (注销) by its unit or by staff from 已提交 onward; a cancelled visitor of
a paid order becomes refundable too.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from ciie_portal import crypto
from ciie_portal.audit import audit_record
from ciie_portal.notices.services import notice_send, notice_send_both
from ciie_portal.spreadsheets import cell_text, fold
from delegations.bulk import LABELS
from delegations.gates import of_approved_units, unit_refusal
from delegations.models import Delegation
from delegations.selectors import scope_to_user
from registration.models import VISITOR_STATES, Unit, Visitor

from .models import Credential, CredentialOrder, ReviewBatch, ReviewResult
from .production import credentials_revoke

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
LIST_COLUMNS = [key for key in COLUMNS if key not in ("batch", "result", "reason")]

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
NOTES_SHEET = "说明"
MAX_EXPORT = 20000
MAX_IMPORT_ROWS = 20000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


_RESULTS = {fold(text): outcome for text, outcome in RESULT_VALUES.items()}
_HEADERS = {
    **{fold(title): column for column, title in COLUMNS.items()},
    **{fold(title): column for column, title in COLUMN_ALIASES.items()},
}
# The Chinese labels of the spreadsheet, as the bulk registration file writes them.
_CHINESE = {column: {value: label for label, value in LABELS[column].items()} for column in LABELS}


class ReviewFileError(ValidationError):
    """The file as a whole cannot be read: nothing was imported."""


# --- Who sees which visitors ---------------------------------------------------------------------


def can_list_for_delegation(user) -> bool:
    """A delegation secretary: a read-only list of their subtree's visitors awaiting review."""
    return (
        user.is_active
        and user.is_staff
        and user.has_perm("registration.view_visitor")
        and getattr(user, "secretary", None) is not None
    )


def pending_review_visitors(
    *,
    edition,
    user=None,
    delegation: Delegation | None = None,
    person_types: Iterable[str] = (),
    only_new: bool = False,
) -> QuerySet:
    """The visitors awaiting review (待审核) of ``edition``, oldest first.

    With ``user`` the rows are limited to what that user may see (a secretary: their subtree);
    ``delegation`` limits them to that delegation and its sub-delegations; ``only_new`` leaves
    out visitors already in a review batch.
    """
    # Only approved units' visitors are sent to the security review (delegations.gates).
    visitors = of_approved_units(Visitor.objects.filter(edition=edition, status=V.PENDING_REVIEW))
    if user is not None:
        visitors = scope_to_user(visitors, user, delegation_field="unit__delegation")
    if delegation is not None:
        visitors = visitors.filter(unit__delegation__in=Delegation.objects.subtree_of(delegation))
    if person_types:
        visitors = visitors.filter(person_type__in=list(person_types))
    if only_new:
        visitors = visitors.filter(review_batches__isnull=True)
    return visitors.select_related("unit__delegation").order_by("pk")


# --- Export --------------------------------------------------------------------------------------


def _country_names(codes: set[str]) -> dict[str, str]:
    with translation.override("zh-hans"):
        from django_countries import countries

        return {code: str(countries.name(code)) for code in codes if code}


def _cells(visitor: Visitor, *, batch_code: str, countries: dict) -> dict:
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
        "result": "",
        "reason": "",
    }


def review_workbook(visitors: list[Visitor], *, batch: ReviewBatch | None = None) -> bytes:
    """The spreadsheet of ``visitors``: with a batch, the reviewer's file (result and reason
    columns to fill in, a drop-down for the result); without, a delegation's read-only list."""
    columns = list(COLUMNS) if batch is not None else LIST_COLUMNS
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_TITLE)
    widths = {"name": 14, "id_number": 22, "unit": 32, "delegation": 18, "reason": 30}
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = widths.get(column, 12)
    sheet.freeze_panes = "A2"
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    to_fill = PatternFill("solid", fgColor="FFF2CC")
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=COLUMNS[column])
        cell.font, cell.fill = bold, to_fill if column in ("result", "reason") else fill
        header.append(cell)
    sheet.append(header)
    countries = _country_names({str(v.nationality) for v in visitors} | {"CN"})
    code = batch.code if batch is not None else ""
    for visitor in visitors:
        values = _cells(visitor, batch_code=code, countries=countries)
        row = []
        for column in columns:
            cell = WriteOnlyCell(sheet, value=values[column])
            if column in ("reference", "id_number"):
                cell.number_format = "@"  # Excel must keep every character
            row.append(cell)
        sheet.append(row)
    if batch is not None and visitors:
        result_letter = get_column_letter(columns.index("result") + 1)
        choice = DataValidation(
            type="list", formula1=f'"{RESULT_PASSED},{RESULT_FAILED}"', allow_blank=True
        )
        choice.add(f"{result_letter}2:{result_letter}{len(visitors) + 1}")
        sheet.data_validations.dataValidation.append(choice)
    _notes(workbook, batch=batch, count=len(visitors))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _notes(workbook, *, batch, count: int) -> None:
    notes = workbook.create_sheet(NOTES_SHEET)
    notes.column_dimensions["A"].width = 100
    wrap = Alignment(wrap_text=True, vertical="top")
    if batch is not None:
        lines = [
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
    else:
        lines = [
            _("Visitors awaiting review: %(count)d. This list is for reading only.")
            % {"count": count},
            _("The file holds ID numbers in clear: keep it safe and delete it after use."),
        ]
    for line in lines:
        cell = WriteOnlyCell(notes, value=line)
        cell.alignment = wrap
        notes.append([cell])


def review_batch_export(
    *,
    edition,
    actor,
    delegation: Delegation | None = None,
    person_types: Iterable[str] = (),
    only_new: bool = True,
    limit: int = 5000,
) -> tuple[ReviewBatch, bytes]:
    """Export a review batch: the visitors awaiting review (at most ``limit``), recorded with
    who took them and when. Returns the batch and its spreadsheet.

    The same number of queries for 1 visitor or thousands.
    """
    limit = max(1, min(int(limit), MAX_EXPORT))
    visitors = list(
        pending_review_visitors(
            edition=edition, delegation=delegation, person_types=person_types, only_new=only_new
        )[:limit]
    )
    if not visitors:
        raise ValidationError(_("No visitor awaiting review matches this choice."))
    with transaction.atomic():
        batch = ReviewBatch.objects.create(
            edition=edition,
            delegation=delegation,
            exported_by=actor,
            visitor_count=len(visitors),
        )
        ReviewBatch.visitors.through.objects.bulk_create(
            [ReviewBatch.visitors.through(reviewbatch=batch, visitor=v) for v in visitors],
            batch_size=2000,
        )
        content = review_workbook(visitors, batch=batch)
        batch.file_name = f"人员信息审核_{batch.code}.xlsx"
        batch.file_sha256 = hashlib.sha256(content).hexdigest()
        batch.save(update_fields=["file_name", "file_sha256"])
    return batch, content


def review_batch_file(batch: ReviewBatch) -> bytes:
    """The batch's spreadsheet made again (same visitors and ID numbers; states as of now)."""
    visitors = list(batch.visitors.select_related("unit__delegation").order_by("pk"))
    return review_workbook(visitors, batch=batch)


def delegation_review_list(*, edition, actor) -> tuple[int, bytes]:
    """A secretary's read-only list of their subtree's visitors awaiting review. Recorded in
    the audit log (the file shows ID numbers in clear)."""
    secretary = getattr(actor, "secretary", None)
    if secretary is None:
        raise ValidationError(_("Only a delegation secretary can export this list."))
    visitors = list(pending_review_visitors(edition=edition, user=actor)[:MAX_EXPORT])
    audit_record(
        actor=actor,
        obj=secretary.delegation,
        action="review.list_export",
        data={"visitors": len(visitors), "edition": edition.pk},
    )
    return len(visitors), review_workbook(visitors)


# --- Import: reading -----------------------------------------------------------------------------


def review_file_read(rows_file) -> list[dict]:
    """The rows of the result file's first sheet (not 说明): column key → text, plus ``row``
    (the spreadsheet's row number). Empty rows are skipped."""
    try:
        workbook = load_workbook(rows_file, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file it cannot read
        raise ReviewFileError(
            _("The file is not an Excel workbook (.xlsx): upload the exported file."),
            code="not_xlsx",
        ) from None
    try:
        sheet = next((s for s in workbook.worksheets if s.title != NOTES_SHEET), None)
        if sheet is None:
            raise ReviewFileError(_("The workbook has no sheet of visitors."), code="no_sheet")
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()
        lines = sheet.iter_rows(values_only=True)
        position = {}
        for index, title in enumerate(next(lines, ())):
            column = _HEADERS.get(fold(cell_text(title)))
            if column and column not in position:
                position[column] = index
        missing = [COLUMNS[key] for key in REQUIRED_COLUMNS if key not in position]
        if missing:
            raise ReviewFileError(
                _("The first row must hold the column titles of the export; missing: %(columns)s.")
                % {"columns": "、".join(missing)},
                code="columns",
            )
        rows = []
        for number, cells in enumerate(lines, start=2):
            row = {
                key: cell_text(cells[index]) if index < len(cells) else ""
                for key, index in position.items()
            }
            if not any(row.values()):
                continue
            if len(rows) >= MAX_IMPORT_ROWS:
                raise ReviewFileError(
                    _("A file may hold at most %(max)d rows: split it into several files.")
                    % {"max": MAX_IMPORT_ROWS},
                    code="too_many_rows",
                )
            row["row"] = number
            rows.append(row)
        return rows
    except ReviewFileError:
        raise
    except Exception:  # a damaged sheet inside a readable archive
        raise ReviewFileError(
            _("The workbook could not be read. Save it again as .xlsx and retry."),
            code="unreadable",
        ) from None
    finally:
        workbook.close()


# --- Import: checking ----------------------------------------------------------------------------

APPLY, RECORDED, SKIPPED, REFUSED = "apply", "recorded", "skipped", "refused"


@dataclass
class ReviewRow:
    number: int  # the spreadsheet's row number
    reference: str
    name: str
    outcome: str = ""
    reason: str = ""
    visitor_id: int | None = None
    unit_id: int | None = None
    batch_id: int | None = None
    verdict: str = REFUSED
    problems: list[str] = field(default_factory=list)
    id_index: str = ""  # the blind index of the row's ID number (never the number itself)
    batch_code: str = ""

    def refuse(self, message: str) -> None:
        self.verdict = REFUSED
        self.problems.append(str(message))

    @property
    def outcome_label(self) -> str:
        return str(Outcome(self.outcome).label) if self.outcome else ""


@dataclass
class ReviewReport:
    rows: list[ReviewRow] = field(default_factory=list)
    applied: bool = False
    units_told: int = 0

    def _with(self, verdict: str) -> list[ReviewRow]:
        return [row for row in self.rows if row.verdict == verdict]

    @property
    def to_apply(self) -> list[ReviewRow]:
        return self._with(APPLY)

    @property
    def refused(self) -> list[ReviewRow]:
        return self._with(REFUSED)

    @property
    def recorded(self) -> list[ReviewRow]:
        """Rows whose result was already recorded, the same: nothing to do."""
        return self._with(RECORDED)

    @property
    def skipped(self) -> list[ReviewRow]:
        """Rows without a result yet."""
        return self._with(SKIPPED)

    @property
    def passed_count(self) -> int:
        return sum(1 for row in self.to_apply if row.outcome == Outcome.PASSED)

    @property
    def failed_count(self) -> int:
        return sum(1 for row in self.to_apply if row.outcome == Outcome.FAILED)

    @property
    def total(self) -> int:
        return len(self.rows)


def _batch_pk(code: str) -> int | None:
    text = fold(code).upper().removeprefix("B")
    return int(text) if text.isdigit() else None


def review_results_check(*, rows: list[dict], edition) -> ReviewReport:
    """Match each result row to its visitor and say what importing it would do. Changes nothing.

    A row is applied only if its reference number and its ID number name the same visitor of
    ``edition``, that visitor awaits review and is in no other row of the file, the result is
    通过 or 不通过 (with a reason), and the visitor was exported in a review batch (the one the
    row names, if it names one). A visitor whose result is already recorded the same way is
    reported as such (importing the same file twice changes nothing); differently, refused.

    Two queries whatever the number of rows.
    """
    report = ReviewReport()
    references, indexes = {}, {}
    for raw in rows:
        row = ReviewRow(
            number=raw["row"],
            reference=fold(raw.get("reference", "")).upper(),
            name=raw.get("name", ""),
            reason=" ".join(raw.get("reason", "").split()),
        )
        report.rows.append(row)
        result = fold(raw.get("result", ""))
        row.batch_code = raw.get("batch", "")
        number = crypto.normalize_id(raw.get("id_number", ""))
        if not row.reference or not number:
            row.refuse(_("Give both the reference number and the ID number."))
        else:
            row.id_index = crypto.blind_index(number)
            references.setdefault(row.reference, []).append(row)
            indexes.setdefault(row.id_index, []).append(row)
        if not result:
            if row.reason:
                row.refuse(_("Enter the result: 通过 (passed) or 不通过 (failed)."))
            elif not row.problems:
                row.verdict = SKIPPED
            continue
        row.outcome = _RESULTS.get(result, "")
        if not row.outcome:
            row.refuse(
                _("“%(value)s” is not a result: write 通过 (passed) or 不通过 (failed).")
                % {"value": raw.get("result", "")}
            )
        elif row.outcome == Outcome.FAILED and not row.reason:
            row.refuse(_("A failed visitor needs a reason: the unit is told it."))

    # A visitor named in two rows: neither row can be trusted over the other.
    for same in (*references.values(), *indexes.values()):
        if len(same) > 1:
            for row in same:
                others = ", ".join(str(o.number) for o in same if o is not row)
                row.refuse(
                    _("The same visitor is also in row(s) %(rows)s of this file.")
                    % {"rows": others}
                )

    candidates = [row for row in report.rows if row.verdict != SKIPPED and row.id_index]
    if not candidates:
        return report
    found = list(
        Visitor.objects.filter(edition=edition)
        .filter(
            Q(reference__in={row.reference for row in candidates})
            | Q(id_number_index__in={row.id_index for row in candidates})
        )
        .select_related("review_result", "unit")
    )
    by_reference = {v.reference: v for v in found}
    by_index = {v.id_number_index: v for v in found}
    memberships = defaultdict(set)
    for visitor_id, batch_id in ReviewBatch.visitors.through.objects.filter(
        visitor_id__in=[v.pk for v in found]
    ).values_list("visitor_id", "reviewbatch_id"):
        memberships[visitor_id].add(batch_id)

    for row in candidates:
        visitor, same_id = by_reference.get(row.reference), by_index.get(row.id_index)
        if visitor is None and same_id is None:
            row.refuse(_("No visitor of this edition has this reference number or ID number."))
            continue
        if visitor is None:
            row.refuse(_("The reference number does not match the visitor with this ID number."))
            continue
        if same_id is None:
            row.refuse(_("The ID number does not match the visitor with this reference number."))
            continue
        if visitor.pk != same_id.pk:
            row.refuse(_("The reference number and the ID number belong to different visitors."))
            continue
        row.visitor_id, row.unit_id, row.name = visitor.pk, visitor.unit_id, visitor.name
        if row.verdict == REFUSED and row.problems:
            continue
        _judge(row, visitor, memberships[visitor.pk])
    return report


def _judge(row: ReviewRow, visitor: Visitor, batches: set[int]) -> None:
    """The row names its visitor: may its result be recorded?"""
    recorded = getattr(visitor, "review_result", None)
    if recorded is not None:
        if recorded.outcome == row.outcome:
            row.verdict = RECORDED
        else:
            row.refuse(
                _("A different result is already recorded for this visitor: %(result)s.")
                % {"result": recorded.get_outcome_display()}
            )
        return
    if visitor.status != V.PENDING_REVIEW:
        row.refuse(
            _("The visitor is not awaiting review (status: %(status)s).")
            % {"status": visitor.get_status_display()}
        )
        return
    refusal = unit_refusal(visitor.unit)
    if refusal:
        row.refuse(refusal)
        return
    code = row.batch_code
    if code:
        wanted = _batch_pk(code)
        if wanted is None or wanted not in batches:
            row.refuse(_("The visitor is not in review batch %(code)s.") % {"code": code})
            return
        row.batch_id = wanted
    elif batches:
        row.batch_id = max(batches)  # the latest export that held the visitor
    else:
        row.refuse(_("The visitor was not exported in any review batch."))
        return
    row.verdict = APPLY


# --- Import: applying ----------------------------------------------------------------------------


def review_results_apply(*, report: ReviewReport, edition, actor, source_sha256: str = ""):
    """Record the rows ``report`` found good, in one transaction: one UPDATE per outcome
    (``VISITOR_STATES.move_many``), one INSERT of results, and one SMS and one email per unit
    (“n passed, m failed”).

    A visitor that changed meanwhile (cancelled, or recorded by another import) is not moved;
    its row is refused and reported. Returns ``report`` with the verdicts as applied.
    """
    rows = report.to_apply
    by_visitor = {row.visitor_id: row for row in rows}
    import_id = uuid.uuid4().hex
    with transaction.atomic():
        moved_ids = set()
        for outcome, target, reason in (
            (Outcome.PASSED, V.REVIEW_PASSED, _("Visitor review passed")),
            (Outcome.FAILED, V.REVIEW_FAILED, _("Visitor review failed")),
        ):
            ids = [row.visitor_id for row in rows if row.outcome == outcome]
            if ids:
                moved = VISITOR_STATES.move_many(
                    of_approved_units(Visitor.objects.filter(edition=edition, pk__in=ids)),
                    target,
                    actor=actor,
                    reason=reason,
                )
                moved_ids.update(v.pk for v in moved)
        now = timezone.now()
        ReviewResult.objects.bulk_create(
            [
                ReviewResult(
                    visitor_id=row.visitor_id,
                    batch_id=row.batch_id,
                    outcome=row.outcome,
                    reason=row.reason if row.outcome == Outcome.FAILED else "",
                    recorded_by=actor,
                    recorded_at=now,
                    source_sha256=source_sha256,
                    source_row=row.number,
                )
                for row in rows
                if row.visitor_id in moved_ids
            ],
            batch_size=1000,
        )
        for visitor_id, row in by_visitor.items():
            if visitor_id not in moved_ids:
                row.refuse(_("The visitor is no longer awaiting review: changed meanwhile."))
        report.applied = True
        report.units_told = _tell_units(report.to_apply, import_id=import_id)
    return report


def _tell_units(rows: list[ReviewRow], *, import_id: str) -> int:
    counts = defaultdict(Counter)
    for row in rows:
        counts[row.unit_id][row.outcome] += 1
    units = Unit.objects.filter(pk__in=list(counts)).only("name", "contact_mobile", "contact_email")
    for unit in units:
        params = {
            "unit": unit.name,
            "passed": counts[unit.pk][Outcome.PASSED],
            "failed": counts[unit.pk][Outcome.FAILED],
        }
        notice_send_both(
            key=f"visitor-review:{unit.pk}:{import_id}",
            event="visitor_review_result",
            template="visitor_review_result",
            params=params,
            mobile=unit.contact_mobile,
            email=unit.contact_email,
        )
    return len(counts)


def review_results_import(*, rows_file, edition, actor, dry_run: bool = False) -> ReviewReport:
    """Read, check and (unless ``dry_run``) apply a result file. Raises ``ReviewFileError``
    when the file itself cannot be read."""
    content = rows_file.read()
    rows = review_file_read(io.BytesIO(content))
    report = review_results_check(rows=rows, edition=edition)
    if dry_run or not report.to_apply:
        return report
    return review_results_apply(
        report=report,
        edition=edition,
        actor=actor,
        source_sha256=hashlib.sha256(content).hexdigest(),
    )


# The preview's good rows travel to the apply step signed, never as the file again (which
# holds the ID numbers in clear). The apply step trusts the matching but not the states: the
# UPDATEs only move visitors still awaiting review.
_PLAN_SALT = "credentials.review.plan"
PLAN_MAX_AGE = 3600


def review_plan_dump(report: ReviewReport, *, edition, actor, source_sha256: str) -> str:
    return signing.dumps(
        {
            "edition": edition.pk,
            "user": actor.pk,
            "sha": source_sha256,
            "rows": [
                [r.number, r.visitor_id, r.unit_id, r.batch_id, r.outcome, r.reason, r.name]
                for r in report.to_apply
            ],
        },
        salt=_PLAN_SALT,
        compress=True,
    )


def review_plan_load(token: str, *, edition, actor) -> tuple[ReviewReport, str]:
    try:
        plan = signing.loads(token, salt=_PLAN_SALT, max_age=PLAN_MAX_AGE)
    except signing.BadSignature:
        raise ValidationError(
            _("The preview has expired or was altered: upload the file again.")
        ) from None
    if plan["edition"] != edition.pk or plan["user"] != actor.pk:
        raise ValidationError(_("The preview has expired or was altered: upload the file again."))
    report = ReviewReport(
        rows=[
            ReviewRow(
                number=number,
                reference="",
                name=name,
                outcome=outcome,
                reason=reason,
                visitor_id=visitor_id,
                unit_id=unit_id,
                batch_id=batch_id,
                verdict=APPLY,
            )
            for number, visitor_id, unit_id, batch_id, outcome, reason, name in plan["rows"]
        ]
    )
    return report, plan["sha"]


# --- Cancellation (注销) -------------------------------------------------------------------------


@dataclass
class CancelResult:
    cancelled: list[Visitor]
    #: Unpaid orders that still hold cancelled visitors: unit id → order numbers.
    unpaid_orders: dict[int, list[str]] = field(default_factory=dict)
    skipped: int = 0

    @property
    def count(self) -> int:
        return len(self.cancelled)


def visitors_cancel(*, visitors: QuerySet, actor, reason: str = "") -> CancelResult:
    """注销: cancel visitors from 已提交 onward (saved ones are deleted instead), set-based.

    A cancelled visitor of a paid order becomes refundable (``payments.refunds``). One in an
    unpaid order keeps its line — the order is a financial record and keeps its total — and the
    unit is told it can cancel that order (取消订单) and order the others again; an unpaid
    order's cancelled visitor, if paid after all, is refundable. Each unit gets one email.
    """
    reason = " ".join((reason or "").split())
    # A plain queryset of the chosen rows: an admin list's may carry DISTINCT or joins, which
    # cannot be locked.
    chosen = Visitor.objects.filter(pk__in=visitors.values("pk"))
    with transaction.atomic():
        asked = chosen.count()
        cancelled = VISITOR_STATES.move_many(
            chosen,
            V.CANCELLED,
            actor=actor,
            reason=reason or _("Cancelled (注销)"),
        )
        if not cancelled:
            return CancelResult(cancelled=[], skipped=asked)
        ids = [v.pk for v in cancelled]
        unpaid = defaultdict(list)
        for unit_id, number in (
            CredentialOrder.objects.filter(
                status=CredentialOrder.Status.PENDING_PAYMENT,
                lines__open=True,
                lines__visitor_id__in=ids,
            )
            .values_list("unit_id", "number")
            .distinct()
            .order_by("number")
        ):
            if unit_id is not None:
                unpaid[unit_id].append(number)
        # A cancelled visitor's credential no longer opens the gate (it stays listed, revoked).
        credentials_revoke(
            credentials=Credential.objects.filter(visitor_id__in=ids),
            reason=_("Visitor cancelled (注销)"),
            actor=actor,
        )
        _tell_cancelled(cancelled, unpaid=unpaid, reason=reason)
    return CancelResult(cancelled=cancelled, unpaid_orders=dict(unpaid), skipped=asked - len(ids))


def _tell_cancelled(cancelled: list[Visitor], *, unpaid: dict, reason: str) -> None:
    by_unit = defaultdict(list)
    for visitor in cancelled:
        by_unit[visitor.unit_id].append(visitor.name)
    event = uuid.uuid4().hex
    for unit in Unit.objects.filter(pk__in=list(by_unit)).only("name", "contact_email"):
        if not unit.contact_email:
            continue
        notice_send(
            key=f"visitor-cancelled:{unit.pk}:{event}",
            event="visitor_cancelled",
            channel="email",
            recipient=unit.contact_email,
            template="visitor_cancelled",
            params={
                "unit": unit.name,
                "names": "、".join(by_unit[unit.pk]),
                "count": len(by_unit[unit.pk]),
                "reason": reason,
                "orders": ", ".join(unpaid.get(unit.pk, [])),
            },
        )
