"""银行流水: finance imports the bank's statement file and transfers are matched to orders.

Reading the file (encodings, columns, values, checksums) is ``payments.statement_files``; whether
money may be accepted for an order is ``payments.acceptance``, as for every other payment.

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

import hashlib
import re
from dataclasses import asdict, dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record, audit_record_bulk
from ciie_portal.states import StateMachine, TransitionError
from credentials.models import CredentialOrder
from credentials.orders.services import order_reopen_refusal

from .acceptance import (
    AMOUNT,
    DEADLINE,
    GRACE,
    ORDER,
    PAYER,
    PAYMENT,
    WINDOW,
    money_refusals,
    payment_accept,
    payment_flag,
    payment_record,
    remittance_refusal,
)
from .grace import booked_in_time, grace_over
from .models import BankStatement, Method, Payment, StatementEntry, TransferRemittance
from .services import _transfer_locked, transfer_confirm
from .statement_files import (
    FIELDS_BY_KEY,
    MAX_FILE_BYTES,
    REQUIRED,
    Table,
    columns_check,
    columns_guess_from_headers,
    header_key,
    order_numbers_in,
    rows_parse,
    rows_refusal,
    same_payer,
    table_read,
)

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


# --- The mapping last used for the same header row ----------------------------------------------


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
        raise rows_refusal(parsed.errors)

    now = timezone.now()
    with transaction.atomic():
        locked = BankStatement.objects.select_for_update().get(pk=statement_id)
        if locked.status != _S.UPLOADED:
            raise ValidationError(_("This statement was already imported."), code="imported")
        entries = [StatementEntry(statement=locked, **asdict(row)) for row in parsed.credits]
        # The unique checksum decides what is new, also against an import running at the same
        # time: the rows that went in are the ones that now belong to this statement.
        StatementEntry.objects.bulk_create(entries, batch_size=500, ignore_conflicts=True)
        new_entries = list(StatementEntry.objects.filter(statement=locked).order_by("pk"))
        counts = {
            "rows_total": parsed.rows,
            "rows_new": len(new_entries),
            "rows_repeated": len(parsed.credits) - len(new_entries),
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
        repeated=len(parsed.credits) - len(new_entries),
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


def _payment_record(entry, order, *, actor, now) -> Payment:
    return payment_record(
        order=order,
        method=Method.TRANSFER,
        actor=actor,
        now=now,
        data={"statement_entry": entry.pk},
    )


def _flagged_payment(entry, order, reason: str, *, actor, now) -> Payment:
    """Money for ``order`` that cannot be accepted: recorded on a payment of its own, failed
    and flagged with the amount received and the reason, so finance sees it. It is "failed",
    not "started", so that nobody can confirm it as a transfer awaiting confirmation."""
    payment = _payment_record(entry, order, actor=actor, now=now)
    payment_flag(
        payment=payment,
        reason=reason,
        received_amount=entry.amount,
        actor=actor,
        fail=True,
        data={"statement_entry": entry.pk, "amount": str(entry.amount), "due": str(order.total)},
    )
    return payment


#: A bank row reports its first concern only: the amount, else the order's state, else lateness
#: and then who pays (``acceptance.money_refusals`` checks them all, in its own order).
_CONCERNS = ((AMOUNT,), (PAYMENT,), (ORDER,), (DEADLINE, WINDOW, GRACE, PAYER))


def _closed_in_grace(entry: StatementEntry, order: CredentialOrder, now) -> bool:
    """The order was closed when its window ended, but the bank booked this money on or before
    the transfer deadline and in the window, and finance's grace is not over: it may still pay
    the order (``payments.grace``)."""
    return (
        order.status == CredentialOrder.Status.CLOSED
        and booked_in_time(order, entry.booked_on)
        and not grace_over(order, now)
    )


def _refusal(entry: StatementEntry, order: CredentialOrder, *, reopen: bool = False) -> str:
    """Why ``entry``'s money cannot be accepted for ``order`` (locked), or "" if it can.
    ``reopen``: the order's being closed is no reason (``_closed_in_grace``)."""
    refusals = money_refusals(
        order=order, amount=entry.amount, method=Method.TRANSFER, paid_on_or_at=entry.booked_on
    )
    if reopen:
        refusals = [refusal for refusal in refusals if refusal.kind != ORDER]
    for kinds in _CONCERNS:
        texts = [refusal.text for kind in kinds for refusal in refusals if refusal.kind == kind]
        if texts:
            return " ".join(texts)
    return ""


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
        refusal = remittance_refusal(payment, remittance, entry.booked_on)
        if refusal and payment.flagged and refusal in payment.flag_reason:
            return _queue(entry, refusal)  # flagged on an earlier run: once is enough
        result = transfer_confirm(
            payment_id=payment.pk, actor=actor, now=now, value_date=entry.booked_on
        )
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

    reopen = _closed_in_grace(entry, order, now)
    refusal = _refusal(entry, order, reopen=reopen)
    if not refusal and reopen:
        refusal = order_reopen_refusal(order)
    if refusal:
        payment = _flagged_payment(entry, order, refusal, actor=actor, now=now)
        _link(entry, payment, actor=actor, now=now, note=refusal, reason=reason)
        return "flagged"

    # Pending (or closed, the money booked in time and the grace not over), and no remittance:
    # the bank's row is the evidence.
    payment = _payment_record(entry, order, actor=actor, now=now)
    payment_accept(
        payment=payment,
        received_amount=entry.amount,
        actor=actor,
        confirmed_at=now,
        paid_at=now,
        reason=_("Bank transfer booked by the deadline, paid within finance's grace.")
        if reopen
        else _("Bank transfer found in the bank statement."),
        reopen=reopen,
    )
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
            refusal = _refusal(entry, order)  # the amount, reported first
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
