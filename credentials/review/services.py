"""Visitor review (人员信息审核 / 公安背审) and cancellation (注销).

The security reviewer exports the visitors awaiting review (待审核) as a spreadsheet — the one
place their ID numbers leave the database in clear — and imports the file back with a result per
row: passed (通过), or failed (不通过) with a reason. A result row names its visitor twice, by
reference number and by ID number; a row whose two keys do not name the same visitor awaiting
review is reported and changes nothing, never guessed. Everything else is applied set-based in
one transaction, one UPDATE per outcome, and each unit hears once per import how many of its
visitors passed and failed. Failed visitors become refundable (``payments.refunds``).

The file's format is ``spreadsheet``; who sees which visitors, ``selectors``; cancellation
(注销), ``cancellation``.
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
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal import crypto
from ciie_portal.access_log import access_record_many
from ciie_portal.audit import audit_record
from ciie_portal.notices.services import notice_send_both
from ciie_portal.spreadsheets import fold
from credentials.points.services import points_award_reviews_passed
from delegations.gates import of_approved_units, unit_refusal
from delegations.models import Delegation
from registration.models import VISITOR_STATES, Unit, Visitor
from registration.side_events.services import side_event_signups_release

from .models import ReviewBatch, ReviewResult
from .selectors import pending_review_visitors
from .spreadsheet import (
    MAX_EXPORT,
    RESULT_OUTCOMES,
    review_file_read,
    review_workbook,
)

V = Visitor.Status
Outcome = ReviewResult.Outcome


# --- Export --------------------------------------------------------------------------------------


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
        access_record_many(
            actor=actor, objects=visitors, what="export", via=f"review batch {batch.code}"
        )
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
    access_record_many(actor=actor, objects=visitors, what="export", via="review list (delegation)")
    return len(visitors), review_workbook(visitors)


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
        row.outcome = RESULT_OUTCOMES.get(result, "")
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
                if target == V.REVIEW_FAILED:
                    # A visitor who failed cannot attend: their side-event places go to those
                    # waiting.
                    side_event_signups_release(
                        visitor_ids=[v.pk for v in moved], actor=actor, reason=reason
                    )
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
        # 积分: a passed review completes a visitor's registration (counted once).
        points_award_reviews_passed(
            edition=edition,
            visitor_ids=[
                row.visitor_id
                for row in rows
                if row.visitor_id in moved_ids and row.outcome == Outcome.PASSED
            ],
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
