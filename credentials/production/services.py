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

**The lease**: one run works on a job at a time — the one holding its lease
(``lease_owner``, ``lease_until``). A run takes it with one conditional UPDATE (the lease is
free, ran out, or is its own), renews it after every chunk together with ``heartbeat_at``, lets
it go when its slice of time is up (the next slice takes it at once) and clears it when the job
finishes. A run that cannot take it returns "skipped"; one that finds it taken from it (its
worker was taken for dead) returns "lost" and stops. Times are the database's clock, the same
for every worker host. A worker killed outright (SIGKILL, a lost machine) leaves its lease
behind: once it has run out, :func:`production_jobs_take_over` (a beat task, every 15 seconds)
frees it and queues a new run, and :func:`production_job_resume` lets a person do the same. A
job taken over while stopping stops.

**No file without a row** — a chunk writes its cards, sheets and manifest before its
transaction commits, so a worker killed in between leaves files that no row names. Every chunk
writes into a folder of its own, ``credentials/<edition>/<batch number>``, named after its
first reserved number (never handed out again), and notes that folder on the job
(``chunk_folder``) before writing its first file. A chunk commits only while its run's lease is
live (its last UPDATE checks the lease, and holds the job's row until the commit). So once a
lease has run out, the chunk it was making will never commit: the take-over, holding the job's
row, deletes the noted folder's files unless its print batch exists — before the new run starts,
so a job taken over finishes with no file left without a row. As a backstop (a clean-up that
failed, a job no longer taken over), :func:`print_batch_files_sweep`, run with every take-over,
deletes any batch folder without its print batch once its newest file is older than
:data:`ORPHAN_AGE` and twice the lease: a chunk renews its lease before writing its first file
and commits before that lease ends, so no chunk that may still commit has files that old. (Hence
a chunk must take less time than the lease, ``PRODUCTION_LEASE_SECONDS``: some seconds for 100
cards.) Writing under temporary names and renaming after the commit was not chosen: a crash still
leaves temporary files behind, and a crash between the commit and the rename needs a repair of
its own.

**Card data** is what is printed: name, unit, delegation, label, entry days and photo. Each
credential keeps a snapshot and a hash of it. Whenever the hash of the visitor's current data
differs — a label upgrade, a corrected name, a new photo — the credential is revoked (with the
reason and the time) and the visitor becomes producible again; so is a credential whose visitor
is no longer in 审核通过 (e.g. cancelled, 注销). This is checked at the start of every run over
its selection, and on demand by :func:`credentials_revoke_changed` (call it where card data
changes: the revocation then reaches the gate at once instead of at the next run).
"""

import contextlib
import hashlib
import logging
import math
import os
import re
import secrets
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Now
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
from .selectors import producible, selection_visitors
from .signing import credential_number, sign_payload

logger = logging.getLogger(__name__)

CHUNK_SIZE = 100
# A batch folder without its print batch row is swept once its newest file is this old (and
# twice the lease): no chunk that may still commit has files that old (see above).
ORPHAN_AGE = timedelta(minutes=5)
# Where the files of print batches go: ``credentials/<edition number>/<batch number>/``.
FILES_ROOT = "credentials"
_BATCH_FOLDER = re.compile(r"PB\d+")
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


# --- The lease -------------------------------------------------------------------------------

# The lease a job loses when it finishes.
_NO_LEASE = {"lease_owner": "", "lease_until": None, "chunk_folder": ""}
# The states in which a job is worked on (and so may be taken over).
_WORKED_ON = (Job.RUNNING, Job.STOPPING)


class LeaseLost(Exception):
    """The run no longer holds the job's lease: another run took the job over."""


def lease_length() -> timedelta:
    return timedelta(seconds=settings.PRODUCTION_LEASE_SECONDS)


def lease_owner_new() -> str:
    """A name for one run: its host and process (to find it in the logs) and a random part (the
    same process runs many slices, one after the other)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(6)}"


def _lease_expired() -> Q:
    """Jobs whose worker is gone: its lease ran out. A job without a lease (made before leases
    existed) counts as gone once it showed no sign of life for as long as a lease."""
    return Q(lease_until__lt=Now()) | Q(
        lease_until__isnull=True,
        last_sign_of_life__lt=Now() - lease_length(),
    )


def _with_last_sign_of_life(queryset: QuerySet) -> QuerySet:
    return queryset.annotate(last_sign_of_life=Coalesce("heartbeat_at", "started_at", "created_at"))


def job_lease_expired(job: ProductionJob, now=None) -> bool:
    """Whether a job's worker is gone (the rule of :func:`_lease_expired`, for a job in hand: what
    the admin shows; the services ask the database, whose clock the lease is in)."""
    now = now or timezone.now()
    if job.lease_until is not None:
        return job.lease_until < now
    last = job.heartbeat_at or job.started_at or job.created_at
    return last is not None and now - last > lease_length()


def _lease_take(job_id: int, owner: str) -> bool:
    """Take the lease of a job that is to be worked on, if it is free, ran out or is already
    ours: one conditional UPDATE, so of two runs at once exactly one gets it."""
    return bool(
        ProductionJob.objects.filter(pk=job_id, status__in=(Job.QUEUED, *_WORKED_ON))
        .filter(Q(lease_owner="") | Q(lease_owner=owner) | Q(lease_until__lt=Now()))
        .update(lease_owner=owner, lease_until=Now() + lease_length())
    )


def _lease_renew(job_id: int, owner: str) -> bool:
    """Renew our lease (and the heartbeat); False if it was taken from us."""
    return bool(
        ProductionJob.objects.filter(pk=job_id, lease_owner=owner).update(
            lease_until=Now() + lease_length(), heartbeat_at=Now()
        )
    )


def _lease_release(job_id: int, owner: str, *, next_run: bool = False) -> None:
    """Let the lease go. ``next_run``: a next run is queued; it takes the lease at once, and the
    take-over leaves the job alone for a lease's length, the time that run has to start."""
    ProductionJob.objects.filter(pk=job_id, lease_owner=owner).update(
        lease_owner="", lease_until=Now() + lease_length() if next_run else None
    )


def _job_hand_over(job: ProductionJob, *, actor) -> None:
    """Take a job from its dead worker: free its lease and queue a new run (in the caller's
    transaction, with the job's row locked). The lease is freed for a lease's length, so that
    neither the take-over nor a person hands it over again while the new run starts; if it
    never starts, the job is handed over again after that."""
    from .tasks import production_job_run_task

    if job.chunk_folder:
        _delete_unmade_batch(job.chunk_folder)
    ProductionJob.objects.filter(pk=job.pk).update(
        lease_owner="", lease_until=Now() + lease_length(), chunk_folder=""
    )
    audit_record(
        actor=actor,
        obj=job,
        action="production_job.taken_over",
        from_state=job.status,
        to_state=job.status,
        data={
            "lease_owner": job.lease_owner,
            "lease_until": job.lease_until.isoformat() if job.lease_until else None,
            "heartbeat_at": job.heartbeat_at.isoformat() if job.heartbeat_at else None,
            "chunk_folder": job.chunk_folder,
        },
    )
    enqueue_on_commit(production_job_run_task, job.pk)


def production_jobs_take_over(*, actor="production-take-over") -> list[int]:
    """Hand every job whose worker is gone to a new run: running or stopping jobs whose lease
    ran out, and queued ones whose run took the lease and died before it began. Returns their
    ids. A stopping job taken over stops (the new run sees its stop flag first).

    Safe to run twice at once: the jobs are locked with SKIP LOCKED (the other take-over skips
    them) and handing over renews the lease's time, so a take-over after this one's commit no
    longer finds them.
    """
    with transaction.atomic():
        jobs = list(
            _with_last_sign_of_life(ProductionJob.objects.all())
            .select_for_update(skip_locked=True, of=("self",))
            .filter(
                (Q(status__in=_WORKED_ON) & _lease_expired())
                | (Q(status=Job.QUEUED, lease_until__lt=Now()) & ~Q(lease_owner=""))
            )
            .order_by("pk")
        )
        for job in jobs:
            logger.warning(
                "Production job %s: its worker %s is gone, the job is taken over",
                job.pk,
                job.lease_owner or "(none)",
            )
            _job_hand_over(job, actor=actor)
    return [job.pk for job in jobs]


# --- Runs ------------------------------------------------------------------------------------


def production_job_resume(*, job: ProductionJob, actor) -> ProductionJob:
    """Run a stopped, failed or finished job again (it skips what it already made), or hand a
    running job whose worker is gone (its lease ran out) to a new worker."""
    from .tasks import production_job_run_task

    with transaction.atomic():
        job = ProductionJob.objects.select_for_update().get(pk=job.pk)
        if job.status in (Job.STOPPED, Job.DONE, Job.FAILED):
            JOB_STATES.move(
                job,
                Job.QUEUED,
                actor=actor,
                stop_requested=False,
                error="",
                finished_at=None,
                **_NO_LEASE,
            )
        elif job.status in _WORKED_ON:
            gone = (
                _with_last_sign_of_life(ProductionJob.objects.filter(pk=job.pk))
                .filter(_lease_expired())
                .exists()
            )
            if not gone:
                raise ValidationError(_("This job is running: stop it first."))
            _job_hand_over(job, actor=actor)
            return job
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


def _finish(job: ProductionJob, target: str, owner: str, *, actor, **also_set) -> None:
    """Move the job to a final state; it needs no lease any more."""
    _move_job(job.pk, target, actor=actor, finished_at=timezone.now(), **_NO_LEASE, **also_set)
    _lease_release(job.pk, owner)  # in case the move was not ours to make


def production_job_run(
    *,
    job_id: int,
    time_budget: float | None = None,
    on_chunk: Callable[[ProductionJob], None] | None = None,
) -> str:
    """Make the job's credentials, chunk by chunk, until none is left, it is asked to stop,
    or ``time_budget`` seconds have passed.

    Returns "done", "stopped", "failed", "continue" (time is up: run it again to go on; the
    lease is let go for that run), "skipped" (the job was not queued or running, or another run
    holds its lease) or "lost" (the lease was taken from this run: another run goes on).
    ``on_chunk`` is called with the job after every chunk.
    """
    began = time.monotonic()
    owner = lease_owner_new()
    if not _lease_take(job_id, owner):
        return "skipped"
    job = ProductionJob.objects.select_related("edition", "delegation").get(pk=job_id)
    actor = _job_actor(job)
    if job.status == Job.QUEUED:
        now = timezone.now()
        try:
            JOB_STATES.move(job, Job.RUNNING, actor=actor, started_at=now, heartbeat_at=now)
        except TransitionError:
            _lease_release(job.pk, owner)
            return "skipped"  # stopped meanwhile
        try:
            _prepare(job, actor=actor)
        except Exception as error:
            return _failed(job, error, owner, actor=actor)
    elif job.status not in _WORKED_ON:
        _lease_release(job.pk, owner)
        return "skipped"
    storage = default_storage
    # Visitors are taken in the order of their ids; ``after`` is the last id looked at, so that
    # each chunk starts where the previous one ended instead of stepping over everything made
    # so far. Once past the end, one more pass from the start picks up what was skipped (rows
    # another job held, whose chunk then failed).
    after = 0
    try:
        while True:
            # Renewed before every chunk (so before it writes its first file: see the module's
            # docstring), which is after the previous one.
            if not _lease_renew(job.pk, owner):
                raise LeaseLost
            if ProductionJob.objects.filter(pk=job.pk, stop_requested=True).exists():
                _finish(job, Job.STOPPED, owner, actor=actor)
                return "stopped"
            if time_budget is not None and time.monotonic() - began > time_budget:
                _lease_release(job.pk, owner, next_run=True)
                return "continue"
            made, last = _chunk_with_retries(job, storage, owner, after=after)
            if made is None:
                if after:
                    after = 0
                    continue
                ProductionJob.objects.filter(pk=job.pk).update(total=F("done"))
                _finish(job, Job.DONE, owner, actor=actor)
                return "done"
            after = last
            if on_chunk is not None:
                job.refresh_from_db()
                on_chunk(job)
    except LeaseLost:
        logger.warning(
            "Production job %s: run %s lost its lease (another run took the job over; a print "
            "batch must take less than PRODUCTION_LEASE_SECONDS)",
            job.pk,
            owner,
        )
        return "lost"
    except Exception as error:
        return _failed(job, error, owner, actor=actor)


def _prepare(job: ProductionJob, *, actor) -> None:
    """Start of a run: revoke what changed, count what is to be made."""
    revoked = credentials_revoke_stale(visitors=_job_selection(job), actor=actor)
    remaining = producible(_job_selection(job)).count()
    ProductionJob.objects.filter(pk=job.pk).update(
        revoked=F("revoked") + revoked, total=F("done") + remaining
    )


def _failed(job: ProductionJob, error: Exception, owner: str, *, actor) -> str:
    logger.exception("Production job %s failed", job.pk)
    text = f"{type(error).__name__}: {error}"[:2000]
    _finish(job, Job.FAILED, owner, actor=actor, error=text)
    return "failed"


def _chunk_with_retries(
    job: ProductionJob, storage, owner: str, *, after: int
) -> tuple[int | None, int]:
    for attempt in range(CHUNK_ATTEMPTS):
        try:
            return _produce_chunk(job, storage, owner, after=after)
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


def _produce_chunk(
    job: ProductionJob, storage, owner: str, *, after: int = 0
) -> tuple[int | None, int]:
    """Make one print batch of the visitors after id ``after``, if the run ``owner`` still
    holds the job's lease when it is made; returns how many credentials it made (None: none
    left to make, 0: other jobs took them) and the last id looked at."""
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
    # Noted before the first file is written: should this worker die before the commit, the
    # take-over deletes what it wrote.
    noted = ProductionJob.objects.filter(pk=job.pk, lease_owner=owner).update(
        chunk_folder=_batch_folder(job.edition.number, first_sequence)[1]
    )
    if not noted:
        raise LeaseLost
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
            _make_batch(job, visitors, first_sequence, storage, saved, owner)
    except BaseException:
        for name in saved:
            try:
                storage.delete(name)
            except OSError:
                logger.warning("Production job %s: could not delete %s", job.pk, name)
        raise
    return len(visitors), ids[-1]


def _batch_folder(edition_number: int, first_sequence: int) -> tuple[str, str]:
    """The number of the print batch that starts at this sequence, and the folder of its files."""
    batch_number = f"PB{credential_number(edition_number, first_sequence)}"
    return batch_number, f"{FILES_ROOT}/{edition_number}/{batch_number}"


def _make_batch(
    job, visitors, first_sequence: int, storage, saved: list[str], owner: str
) -> PrintBatch:
    edition = job.edition
    numbers = [credential_number(edition.number, first_sequence + i) for i in range(len(visitors))]
    batch_number, folder = _batch_folder(edition.number, first_sequence)
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
    audit_record(
        actor=_job_actor(job),
        obj=batch,
        action="print_batch.made",
        to_state=batch.status,
        data={"job": job.pk, "cards": batch.cards, "first": numbers[0], "last": numbers[-1]},
    )
    # Last before the commit: the chunk counts only while this run's lease is live (the sweep
    # of files without a row relies on it).
    counted = ProductionJob.objects.filter(
        pk=job.pk, lease_owner=owner, lease_until__gt=Now()
    ).update(
        done=F("done") + len(credentials),
        batches=F("batches") + 1,
        heartbeat_at=timezone.now(),
        chunk_folder="",
    )
    if not counted:
        raise LeaseLost
    return batch


# --- Files without a row ---------------------------------------------------------------------


def _orphan_age() -> timedelta:
    """How old a batch folder without its row must be to be swept: ``ORPHAN_AGE``, and at least
    twice the lease, whatever the lease is set to."""
    return max(ORPHAN_AGE, 2 * lease_length())


def print_batch_files_sweep(*, storage=None) -> list[str]:
    """Delete the files of chunks that never committed and whose job's take-over did not delete
    them: every batch folder under ``credentials/<edition>/`` whose print batch does not exist
    and whose newest file is older than ``ORPHAN_AGE`` and twice the lease (see the module's
    docstring for why that cannot be a chunk that may still commit). Returns the names deleted.

    Costs a listing of each edition's folder and a query per edition when nothing is to be
    deleted: it runs with the take-over, every few seconds.
    """
    storage = storage or default_storage
    # Taken before the files are looked at, and the rows read after: a chunk that commits
    # meanwhile wrote its files less than a lease before (its row is then seen).
    cutoff = timezone.now() - _orphan_age()
    deleted: list[str] = []
    try:
        editions, _files = storage.listdir(FILES_ROOT)
    except FileNotFoundError:
        return deleted  # nothing was ever made
    for edition in sorted(editions):
        if not edition.isdigit():
            continue
        root = f"{FILES_ROOT}/{edition}"
        made = set(
            PrintBatch.objects.filter(edition__number=int(edition)).values_list("number", flat=True)
        )
        old = {}
        for folder in sorted(storage.listdir(root)[0]):
            if not _BATCH_FOLDER.fullmatch(folder) or folder in made:
                continue
            names = _files_of(storage, f"{root}/{folder}")
            try:
                if names and all(storage.get_modified_time(name) < cutoff for name in names):
                    old[folder] = names
            except FileNotFoundError:
                continue  # being deleted by another sweep
        if not old:
            continue
        made = set(PrintBatch.objects.filter(number__in=old).values_list("number", flat=True))
        for folder, names in old.items():
            if folder not in made:
                deleted += _delete_files(storage, f"{root}/{folder}", names)
    if deleted:
        logger.warning(
            "Deleted %s files of print batches that were never made: %s",
            len(deleted),
            ", ".join(sorted({name.rsplit("/", 1)[0] for name in deleted})),
        )
    return deleted


def _delete_unmade_batch(folder: str, storage=None) -> list[str]:
    """The take-over: delete the files a dead run's chunk wrote into ``folder``, unless its
    print batch was made (the chunk committed before the worker died)."""
    storage = storage or default_storage
    if PrintBatch.objects.filter(number=folder.rsplit("/", 1)[-1]).exists():
        return []
    try:
        names = _files_of(storage, folder)
        deleted = _delete_files(storage, folder, names)
    except OSError:
        logger.warning("Could not delete the files in %s: the sweep will", folder, exc_info=True)
        return []
    if deleted:
        logger.warning("Deleted %s files of print batch %s, never made", len(deleted), folder)
    return deleted


def _files_of(storage, folder: str) -> list[str]:
    try:
        return [f"{folder}/{name}" for name in storage.listdir(folder)[1]]
    except FileNotFoundError:
        return []  # the chunk died before its first file


def _delete_files(storage, folder: str, names: list[str]) -> list[str]:
    for name in names:
        storage.delete(name)
    # Remove the emptied folder where the storage has folders (object stores have none).
    with contextlib.suppress(NotImplementedError, OSError):
        os.rmdir(storage.path(folder))
    return names


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
