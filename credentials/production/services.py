"""证件制作: batch production of credentials, their revocation, and the print batches.

**A run** (:func:`production_job_run`, in a Celery task) first revokes the active credentials of
its selection whose card data no longer matches the visitor (see below), counts what is left to
make, then works in chunks of ``job.chunk_size`` visitors. Each chunk:

1. lists the next producible visitors (reviewed, no active credential) and reserves as many
   credential numbers in a short transaction of its own (:class:`CredentialCounter`), so that
   two jobs never wait for each other's rendering;
2. in one transaction: locks those visitors (``SKIP LOCKED``: a concurrent job takes others),
   reads them again (a new statement sees what another job committed meanwhile), signs their
   QR payloads, renders each card and the batch's sheets and manifest, stores the files,
   creates the print batch and the credentials, and counts the job's progress;
3. looks at the job's stop flag before the next chunk.

Nothing is ever made twice: the partial unique index allows one active credential per visitor,
and a rerun (or a resumed job) only sees visitors without one. A chunk that fails leaves
nothing behind but a gap in the numbers (its files are deleted).

**Card data** is what is printed: name, unit, delegation, label, entry days and photo. Each
credential keeps a snapshot and a hash of it. Whenever the hash of the visitor's current data
differs — a label upgrade, a corrected name, a new photo — the credential is revoked (with the
reason and the time) and the visitor becomes producible again; so is a credential whose visitor
is no longer in 审核通过 (e.g. cancelled, 注销). This is checked at the start of every run over
its selection, and on demand by :func:`credentials_revoke_changed` (call it where card data
changes: the revocation then reaches the gate at once instead of at the next run).
"""

import hashlib
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record
from ciie_portal.states import TransitionError
from ciie_portal.tasks import enqueue_on_commit
from delegations.models import Delegation
from registration.models import Label, Visitor

from .cards import (
    CardData,
    manifest_csv,
    print_photo,
    qr_code,
    render_card,
    render_sheets,
    sheet_position,
)
from .models import (
    CREDENTIAL_STATES,
    JOB_STATES,
    PRINT_BATCH_STATES,
    Credential,
    CredentialCounter,
    NameScript,
    PrintBatch,
    ProductionJob,
)
from .selectors import producible, revoked_numbers_cache_key, selection_visitors
from .signing import credential_number, sign_payload

logger = logging.getLogger(__name__)

CHUNK_SIZE = 100
# A running job that has not finished a chunk for this long lost its worker: it may be taken
# over (resumed) from the admin.
STALE_AFTER = timedelta(minutes=15)
# Rows per revocation statement (and per audit INSERT).
REVOKE_SLICE = 1000
# Chunks that failed on a constraint (a concurrent job won a race) are tried again this often.
CHUNK_ATTEMPTS = 3

Job = ProductionJob.Status
_PASSED = Visitor.Status.REVIEW_PASSED


def _job_actor(job: ProductionJob) -> str:
    """Who the audit log names for what a job does by itself (its starter is on its record)."""
    return f"production-job:{job.pk}"


# --- Card data ------------------------------------------------------------------------------

# The card data, as read from the visitor (through values()) and as kept on the credential.
CARD_FIELDS = {
    "name": ("visitor__name", "name"),
    "unit_name": ("visitor__unit__name", "unit_name"),
    "delegation_name": ("visitor__unit__delegation__name", "delegation_name"),
    "label": ("visitor__label", "label"),
    "first_day": ("visitor__entry_period__first_day", "first_day"),
    "last_day": ("visitor__entry_period__last_day", "last_day"),
}


def card_data_hash(*, name, unit_name, delegation_name, label, first_day, last_day, photo) -> str:
    """SHA-256 of everything printed on the card (the photo by its stored file name: a new
    photo is always a new file)."""
    parts = [
        name or "",
        unit_name or "",
        delegation_name or "",
        label or "",
        first_day.isoformat() if first_day else "",
        last_day.isoformat() if last_day else "",
        photo or "",
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def visitor_card_data(visitor: Visitor) -> dict:
    """The card data of a visitor loaded with ``unit__delegation`` and ``entry_period``."""
    period = visitor.entry_period
    delegation = visitor.unit.delegation
    return {
        "name": visitor.name,
        "unit_name": visitor.unit.name,
        "delegation_name": delegation.name if delegation else "",
        "label": visitor.label,
        "first_day": period.first_day if period else None,
        "last_day": period.last_day if period else None,
        "photo": visitor.photo.name if visitor.photo else "",
    }


# --- Selections -----------------------------------------------------------------------------


def _job_selection(job: ProductionJob) -> QuerySet:
    return selection_visitors(
        edition_id=job.edition_id, delegation=job.delegation, label=job.label, script=job.script
    )


# --- Revocation -----------------------------------------------------------------------------


def _revoke_ids(ids: list[int], *, reason: str, actor) -> int:
    """Revoke these credentials (those still active), audited, in slices."""
    if not ids:
        return 0
    now = timezone.now()
    revoked = 0
    editions: set[int] = set()
    with transaction.atomic():
        for start in range(0, len(ids), REVOKE_SLICE):
            moved = CREDENTIAL_STATES.move_many(
                Credential.objects.filter(pk__in=ids[start : start + REVOKE_SLICE]),
                Credential.Status.REVOKED,
                actor=actor,
                reason=reason,
                revoked_at=now,
                revoked_reason=reason[:300],
            )
            revoked += len(moved)
            editions.update(credential.edition_id for credential in moved)
        for edition_id in editions:
            # Now, for reads in this transaction; and after commit, in case another request
            # cached the old list meanwhile.
            cache.delete(revoked_numbers_cache_key(edition_id))
            transaction.on_commit(
                lambda edition_id=edition_id: cache.delete(revoked_numbers_cache_key(edition_id))
            )
    return revoked


def credentials_revoke(*, credentials: QuerySet, reason: str, actor) -> int:
    """Revoke credentials by hand (lost card, withdrawn visitor): the visitors become
    producible again. Returns how many were active and are now revoked."""
    if not reason.strip():
        raise ValidationError(_("Give the reason for revoking."))
    ids = list(
        credentials.filter(status=Credential.Status.ACTIVE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return _revoke_ids(ids, reason=reason.strip(), actor=actor)


_FIELD_NAMES = {
    "name": "name",
    "unit_name": "unit",
    "delegation_name": "delegation",
    "label": "label",
    "first_day": "entry days",
    "last_day": "entry days",
}


def credentials_revoke_stale(*, visitors: QuerySet, actor, reason: str = "") -> int:
    """Revoke the active credentials of ``visitors`` whose card data changed since they were
    made, or whose visitor's review no longer stands (e.g. cancelled). ``reason`` replaces the
    reason written otherwise (which names the fields that changed). Returns how many."""
    fields = [value for pair in CARD_FIELDS.values() for value in pair]
    rows = (
        Credential.objects.filter(status=Credential.Status.ACTIVE, visitor__in=visitors)
        .order_by("pk")
        .values("pk", "card_data_hash", "visitor__status", "visitor__photo", *fields)
    )
    by_reason: dict[str, list[int]] = defaultdict(list)
    for row in rows.iterator(chunk_size=2000):
        if row["visitor__status"] != _PASSED:
            by_reason[reason or _("The visitor's review no longer stands")].append(row["pk"])
            continue
        current = {key: row[source] for key, (source, _kept) in CARD_FIELDS.items()}
        if card_data_hash(**current, photo=row["visitor__photo"]) == row["card_data_hash"]:
            continue
        changed = sorted(
            {
                _FIELD_NAMES[key]
                for key, (source, kept) in CARD_FIELDS.items()
                if row[source] != row[kept]
            }
        ) or ["photo"]
        by_reason[
            reason or _("Card data changed: %(fields)s") % {"fields": ", ".join(changed)}
        ].append(row["pk"])
    return sum(_revoke_ids(ids, reason=text, actor=actor) for text, ids in by_reason.items())


def credentials_revoke_changed(
    visitor_ids: Iterable[int] | QuerySet, reason: str, *, actor=None
) -> int:
    """Revoke the active credentials of these visitors whose card data no longer matches them
    (label upgraded, name, unit, entry days or photo changed) or whose review no longer
    stands; each such visitor gets a new credential on the next production run.

    Call it after the change, in the same transaction. Visitors whose card is still right keep
    it, so calling it too often costs one query and changes nothing.
    """
    if isinstance(visitor_ids, QuerySet):
        visitors = Visitor.objects.filter(pk__in=visitor_ids.values("pk"))
    else:
        visitors = Visitor.objects.filter(pk__in=list(visitor_ids))
    return credentials_revoke_stale(visitors=visitors, actor=actor, reason=reason)


# --- Jobs -----------------------------------------------------------------------------------


def _check_selection(*, label: str, script: str, chunk_size: int) -> None:
    if label and label not in Label.values:
        raise ValidationError(_("Choose a label."))
    if script and script not in NameScript.values:
        raise ValidationError(_("Choose a name script."))
    if not (4 <= chunk_size <= 1000 and chunk_size % 4 == 0):
        raise ValidationError(_("Credentials per print batch: a multiple of 4 between 4 and 1000."))


def production_job_start(
    *,
    edition,
    actor,
    delegation: Delegation | None = None,
    label: str = "",
    script: str = "",
    chunk_size: int = CHUNK_SIZE,
) -> ProductionJob:
    """Queue a production job over the reviewed visitors of a selection."""
    from .tasks import production_job_run_task

    _check_selection(label=label, script=script, chunk_size=chunk_size)
    with transaction.atomic():
        job = ProductionJob.objects.create(
            edition=edition,
            delegation=delegation,
            label=label,
            script=script,
            chunk_size=chunk_size,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        audit_record(
            actor=actor,
            obj=job,
            action="production_job.queued",
            to_state=job.status,
            data={
                "edition": edition.number,
                "delegation": delegation.pk if delegation else None,
                "label": label,
                "script": script,
                "chunk_size": chunk_size,
            },
        )
        enqueue_on_commit(production_job_run_task, job.pk)
    return job


def production_job_stop(*, job: ProductionJob, actor) -> ProductionJob:
    """Ask a job to stop: a queued job stops at once, a running one after its current chunk."""
    with transaction.atomic():
        job = ProductionJob.objects.select_for_update().get(pk=job.pk)
        if job.is_finished:
            raise ValidationError(_("This job has already finished."))
        ProductionJob.objects.filter(pk=job.pk).update(stop_requested=True)
        job.stop_requested = True
        if job.status == Job.QUEUED:
            JOB_STATES.move(job, Job.STOPPED, actor=actor, finished_at=timezone.now())
        elif job.status == Job.RUNNING:
            JOB_STATES.move(job, Job.STOPPING, actor=actor)
    return job


def job_is_stale(job: ProductionJob, now=None) -> bool:
    last = job.heartbeat_at or job.started_at or job.created_at
    return last is not None and (now or timezone.now()) - last > STALE_AFTER


def production_job_resume(*, job: ProductionJob, actor) -> ProductionJob:
    """Run a stopped, failed or finished job again (it skips what it already made), or hand a
    running job whose worker died to a new worker."""
    from .tasks import production_job_run_task

    with transaction.atomic():
        job = ProductionJob.objects.select_for_update().get(pk=job.pk)
        if job.status in (Job.STOPPED, Job.DONE, Job.FAILED):
            JOB_STATES.move(
                job, Job.QUEUED, actor=actor, stop_requested=False, error="", finished_at=None
            )
        elif job.status in (Job.RUNNING, Job.STOPPING) and job_is_stale(job):
            audit_record(actor=actor, obj=job, action="production_job.taken_over")
        elif job.status != Job.QUEUED:
            raise ValidationError(_("This job is running: stop it first."))
        enqueue_on_commit(production_job_run_task, job.pk)
    return job


def _move_job(job_id: int, target: str, *, actor, **also_set) -> bool:
    """Move the job to ``target`` from whatever state it is in now, if that move is allowed."""
    for _attempt in range(3):
        job = ProductionJob.objects.get(pk=job_id)
        if job.status == target:
            return False
        if not JOB_STATES.can(job.status, target):
            return False
        try:
            JOB_STATES.move(job, target, actor=actor, **also_set)
            return True
        except TransitionError:
            continue  # someone moved it meanwhile (asked it to stop): read it again
    return False


def production_job_run(
    *,
    job_id: int,
    time_budget: float | None = None,
    on_chunk: Callable[[ProductionJob], None] | None = None,
) -> str:
    """Make the job's credentials, chunk by chunk, until none is left, it is asked to stop,
    or ``time_budget`` seconds have passed.

    Returns "done", "stopped", "failed", "continue" (time is up: run it again to go on) or
    "skipped" (the job was not queued or running). ``on_chunk`` is called with the job after
    every chunk.
    """
    began = time.monotonic()
    job = ProductionJob.objects.select_related("edition", "delegation").get(pk=job_id)
    actor = _job_actor(job)
    if job.status == Job.QUEUED:
        now = timezone.now()
        try:
            JOB_STATES.move(job, Job.RUNNING, actor=actor, started_at=now, heartbeat_at=now)
        except TransitionError:
            return "skipped"  # another worker took it
        try:
            _prepare(job, actor=actor)
        except Exception as error:
            return _failed(job, error, actor=actor)
    elif job.status not in (Job.RUNNING, Job.STOPPING):
        return "skipped"
    storage = default_storage
    # Visitors are taken in the order of their ids; ``after`` is the last id looked at, so that
    # each chunk starts where the previous one ended instead of stepping over everything made
    # so far. Once past the end, one more pass from the start picks up what was skipped (rows
    # another job held, whose chunk then failed).
    after = 0
    try:
        while True:
            if ProductionJob.objects.filter(pk=job.pk, stop_requested=True).exists():
                _move_job(job.pk, Job.STOPPED, actor=actor, finished_at=timezone.now())
                return "stopped"
            if time_budget is not None and time.monotonic() - began > time_budget:
                return "continue"
            made, last = _chunk_with_retries(job, storage, after=after)
            if made is None:
                if after:
                    after = 0
                    continue
                ProductionJob.objects.filter(pk=job.pk).update(total=F("done"))
                _move_job(job.pk, Job.DONE, actor=actor, finished_at=timezone.now())
                return "done"
            after = last
            if on_chunk is not None:
                job.refresh_from_db()
                on_chunk(job)
    except Exception as error:
        return _failed(job, error, actor=actor)


def _prepare(job: ProductionJob, *, actor) -> None:
    """Start of a run: revoke what changed, count what is to be made."""
    revoked = credentials_revoke_stale(visitors=_job_selection(job), actor=actor)
    remaining = producible(_job_selection(job)).count()
    ProductionJob.objects.filter(pk=job.pk).update(
        revoked=F("revoked") + revoked, total=F("done") + remaining
    )


def _failed(job: ProductionJob, error: Exception, *, actor) -> str:
    logger.exception("Production job %s failed", job.pk)
    text = f"{type(error).__name__}: {error}"[:2000]
    _move_job(job.pk, Job.FAILED, actor=actor, finished_at=timezone.now(), error=text)
    return "failed"


def _chunk_with_retries(job: ProductionJob, storage, *, after: int) -> tuple[int | None, int]:
    for attempt in range(CHUNK_ATTEMPTS):
        try:
            return _produce_chunk(job, storage, after=after)
        except IntegrityError:
            # Another job made a credential for one of these visitors between our read and
            # our insert (or took the same number): nothing was kept; try the next chunk.
            if attempt == CHUNK_ATTEMPTS - 1:
                raise
            logger.info("Production job %s: chunk lost a race, trying again", job.pk)
    return 0, after


def _reserve_sequences(edition_id: int, count: int) -> int:
    """Reserve ``count`` credential sequence numbers; returns the first. Its own short
    transaction: the counter row is locked only for the UPDATE."""
    with transaction.atomic():
        # INSERT … ON CONFLICT DO NOTHING: the first job of the edition makes the row.
        CredentialCounter.objects.bulk_create(
            [CredentialCounter(edition_id=edition_id)], ignore_conflicts=True
        )
        CredentialCounter.objects.filter(edition_id=edition_id).update(
            last_sequence=F("last_sequence") + count
        )
        last = CredentialCounter.objects.values_list("last_sequence", flat=True).get(
            edition_id=edition_id
        )
    return last - count + 1


def _produce_chunk(job: ProductionJob, storage, *, after: int = 0) -> tuple[int | None, int]:
    """Make one print batch of the visitors after id ``after``; returns how many credentials
    it made (None: none left to make, 0: other jobs took them) and the last id looked at."""
    candidates = producible(_job_selection(job))
    with transaction.atomic():
        # A quick look, skipping the visitors another job is making right now (their rows are
        # locked): the locks taken here end with this statement's transaction.
        ids = [
            visitor.pk
            for visitor in candidates.filter(pk__gt=after)
            .select_for_update(skip_locked=True, of=("self",))
            .only("pk")
            .order_by("pk")[: job.chunk_size]
        ]
    if not ids:
        return None, after
    first_sequence = _reserve_sequences(job.edition_id, len(ids))
    saved: list[str] = []
    try:
        with transaction.atomic():
            locked = [
                visitor.pk
                for visitor in Visitor.objects.filter(pk__in=ids)
                .select_for_update(skip_locked=True)
                .only("pk")
                .order_by("pk")
            ]
            # Read again, in a new statement: it sees credentials another job committed while
            # we were locking. Nobody else can make one for these visitors until we commit.
            visitors = list(
                candidates.filter(pk__in=locked)
                .select_related("unit__delegation", "entry_period")
                .order_by("pk")
            )
            if not visitors:
                return 0, ids[-1]
            _make_batch(job, visitors, first_sequence, storage, saved)
    except BaseException:
        for name in saved:
            try:
                storage.delete(name)
            except OSError:
                logger.warning("Production job %s: could not delete %s", job.pk, name)
        raise
    return len(visitors), ids[-1]


def _make_batch(job, visitors, first_sequence: int, storage, saved: list[str]) -> PrintBatch:
    edition = job.edition
    numbers = [credential_number(edition.number, first_sequence + i) for i in range(len(visitors))]
    batch_number = f"PB{numbers[0]}"
    folder = f"credentials/{edition.number}/{batch_number}"
    credentials, cards, rows = [], [], []
    for index, visitor in enumerate(visitors):
        sequence, number = first_sequence + index, numbers[index]
        data = visitor_card_data(visitor)
        payload = sign_payload(
            edition_number=edition.number,
            sequence=sequence,
            first_day=data["first_day"],
            last_day=data["last_day"],
        )
        card = CardData(
            number=number,
            edition_name=edition.name,
            name=data["name"],
            unit=data["unit_name"],
            delegation=data["delegation_name"],
            label=data["label"],
            first_day=data["first_day"],
            last_day=data["last_day"],
            qr_payload=payload,
            photo=print_photo(storage, data["photo"]),
        )
        qr = qr_code(payload)
        card_name = storage.save(f"{folder}/{number}.pdf", ContentFile(render_card(card, qr)))
        saved.append(card_name)
        cards.append((card, qr))
        credentials.append(
            Credential(
                edition=edition,
                visitor=visitor,
                sequence=sequence,
                number=number,
                label=data["label"],
                first_day=data["first_day"],
                last_day=data["last_day"],
                name=data["name"],
                unit_name=data["unit_name"],
                delegation_name=data["delegation_name"],
                card_data_hash=card_data_hash(**data),
                qr_payload=payload,
                job=job,
                card_pdf=card_name,
            )
        )
        sheet, slot = sheet_position(index)
        rows.append(
            {
                "position": index + 1,
                "sheet": sheet,
                "slot": slot,
                "number": number,
                "name": data["name"],
                "unit": data["unit_name"],
                "delegation": data["delegation_name"],
                "label": data["label"],
                "first_day": data["first_day"].isoformat(),
                "last_day": data["last_day"].isoformat(),
                "pickup": visitor.pickup,
                "visitor_reference": visitor.reference,
            }
        )
    sheet_pdf = render_sheets(cards, title=batch_number)
    manifest = manifest_csv(rows)
    sheet_name = storage.save(f"{folder}/{batch_number}-sheets.pdf", ContentFile(sheet_pdf))
    saved.append(sheet_name)
    manifest_name = storage.save(f"{folder}/{batch_number}-manifest.csv", ContentFile(manifest))
    saved.append(manifest_name)
    batch = PrintBatch.objects.create(
        number=batch_number,
        edition=edition,
        job=job,
        sheet_pdf=sheet_name,
        sheet_sha256=hashlib.sha256(sheet_pdf).hexdigest(),
        manifest=manifest_name,
        manifest_sha256=hashlib.sha256(manifest).hexdigest(),
        cards=len(credentials),
        sheets=math.ceil(len(credentials) / 4),
        first_number=numbers[0],
        last_number=numbers[-1],
    )
    for credential in credentials:
        credential.print_batch = batch
    Credential.objects.bulk_create(credentials, batch_size=500)
    # The credentials these replace (revoked for changed card data, a cancelled batch, …).
    Credential.objects.filter(
        visitor_id__in=[visitor.pk for visitor in visitors],
        status=Credential.Status.REVOKED,
        replaced_by__isnull=True,
    ).update(
        replaced_by=Subquery(
            Credential.objects.filter(
                visitor_id=OuterRef("visitor_id"), status=Credential.Status.ACTIVE
            ).values("pk")[:1]
        )
    )
    ProductionJob.objects.filter(pk=job.pk).update(
        done=F("done") + len(credentials), batches=F("batches") + 1, heartbeat_at=timezone.now()
    )
    audit_record(
        actor=_job_actor(job),
        obj=batch,
        action="print_batch.made",
        to_state=batch.status,
        data={"job": job.pk, "cards": batch.cards, "first": numbers[0], "last": numbers[-1]},
    )
    return batch


# --- Print batches --------------------------------------------------------------------------


def print_batch_confirm_printed(*, batch: PrintBatch, actor) -> int:
    """The printer printed the batch. Returns how many of its credentials were revoked since
    it was made (their printed cards must be destroyed, not issued)."""
    PRINT_BATCH_STATES.move(
        batch, PrintBatch.Status.PRINTED, actor=actor, printed_at=timezone.now()
    )
    return batch.credentials.filter(status=Credential.Status.REVOKED).count()


def print_batch_cancel(*, batch: PrintBatch, actor, reason: str) -> int:
    """Cancel a batch that was not printed: its credentials are revoked (a sheet printed anyway
    is refused at the gate) and their visitors get new credentials on the next run. Returns
    how many credentials were revoked."""
    if not reason.strip():
        raise ValidationError(_("Give the reason for cancelling the print batch."))
    with transaction.atomic():
        PRINT_BATCH_STATES.move(
            batch,
            PrintBatch.Status.CANCELLED,
            actor=actor,
            reason=reason.strip(),
            cancelled_at=timezone.now(),
        )
        ids = list(
            batch.credentials.filter(status=Credential.Status.ACTIVE)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        return _revoke_ids(
            ids,
            reason=_("Print batch %(batch)s cancelled: %(reason)s")
            % {"batch": batch.number, "reason": reason.strip()},
            actor=actor,
        )


STATUS_COLUMNS = [
    "position",
    "number",
    "name",
    "unit",
    "delegation",
    "label",
    "first_day",
    "last_day",
    "status",
    "revoked_at",
    "revoked_reason",
    "replaced_by",
]


def print_batch_status_csv(batch: PrintBatch) -> bytes:
    """The batch's manifest as it stands now: every card printed in it, with its status (a
    revoked card stays listed, as revoked, with what replaced it)."""
    rows = []
    credentials = (
        batch.credentials.select_related("replaced_by")
        .order_by("sequence")
        .iterator(chunk_size=500)
    )
    for index, credential in enumerate(credentials):
        rows.append(
            {
                "position": index + 1,
                "number": credential.number,
                "name": credential.name,
                "unit": credential.unit_name,
                "delegation": credential.delegation_name,
                "label": credential.label,
                "first_day": credential.first_day.isoformat(),
                "last_day": credential.last_day.isoformat(),
                "status": credential.status,
                "revoked_at": timezone.localtime(credential.revoked_at).isoformat(
                    timespec="seconds"
                )
                if credential.revoked_at
                else "",
                "revoked_reason": credential.revoked_reason,
                "replaced_by": credential.replaced_by.number if credential.replaced_by else "",
            }
        )
    return manifest_csv(rows, STATUS_COLUMNS)
