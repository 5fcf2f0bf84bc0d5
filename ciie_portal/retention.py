"""The end of an edition: its personal data exported, then shredded (modelled on pretix's data
shredder).

Each app knows its own personal data and registers a :class:`Shredder` here (from its
``AppConfig.ready()``; this package may not import them): what it would remove (``preview``),
how it writes it into the export (``export``), and how it removes it, a chunk at a time
(``shred``, which returns how many rows it did and 0 once nothing is left). A shred job
(:class:`ShredJob`) runs them in order, in Celery, under a lease: the export first, then every
part to the end, each chunk its own transaction; a killed worker's job is taken over and goes on
where it stopped (rows already shredded are simply not found again). What stays: the accounting
records (orders, payments, refunds, invoices), the counts the overview shows, names (on orders
and invoices), and the audit log — redacted where it names the shredded records.

The export is a ZIP of JSON and files, encrypted with AES-256-GCM in 1 MiB chunks under a key
derived from ``ID_ENCRYPTION_KEY`` (the first, current one); only staff with
``ciie_portal.shred_edition`` download it, and it is deleted ``Edition.archive_days`` after the
shred. ``python manage.py archive_decrypt`` opens it.
"""

import hashlib
import json
import os
import secrets
import socket
import struct
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext as _

from .audit import audit_record
from .models import AuditEntry, Edition, ShredJob
from .records import REDACTED

CHUNK = 500
ARCHIVE_MAGIC = b"CIIEARC1"
ARCHIVE_CHUNK = 1024 * 1024
ARCHIVE_FOLDER = "shred-archives"


# --- The registry --------------------------------------------------------------------------


@dataclass(frozen=True)
class Shredder:
    """One app's part of an edition's personal data."""

    name: str  # e.g. "registration.visitors"
    label: str  # what an organiser reads in the preview
    preview: Callable[[Edition], int]  # how many records it would change
    export: Callable[[Edition, "Archive"], None]
    shred: Callable[[Edition, int], int]  # remove up to n records; how many it did


_shredders: list[Shredder] = []


def register_shredder(shredder: Shredder) -> Shredder:
    """Register (once, however often ``ready()`` runs), in the order of the apps."""
    if all(existing.name != shredder.name for existing in _shredders):
        _shredders.append(shredder)
    return shredder


def shredders() -> list[Shredder]:
    return list(_shredders)


# --- Helpers for the apps' shredders ---------------------------------------------------------


def delete_files(names) -> int:
    """Delete stored files by name (missing ones are fine: a resumed chunk may find them gone)."""
    deleted = 0
    for name in names:
        if name and default_storage.exists(name):
            default_storage.delete(name)
            deleted += 1
    return deleted


def redact_audit(model: type[models.Model], ids) -> int:
    """Redact the audit entries about these records: what they said (names, old and new
    values, reasons) goes, who did what to which record when stays. The database allows this
    one change (ciie_portal.records.redactable_table)."""
    from django.contrib.contenttypes.models import ContentType

    content_type = ContentType.objects.get_for_model(model)
    entries = AuditEntry.objects.filter(
        content_type=content_type, object_id__in=[str(pk) for pk in ids]
    ).exclude(object_repr=REDACTED)
    # The model's own guard refuses updates: this is the one sanctioned rewrite.
    return models.QuerySet.update(
        entries,
        object_repr=REDACTED,
        reason="",
        data={"redacted": timezone.localdate().isoformat()},
    )


def rows(queryset, fields: list[str]) -> list[dict]:
    return list(queryset.values(*fields))


# --- The encrypted archive -------------------------------------------------------------------


def _archive_key() -> bytes:
    return hashlib.sha256(b"ciie-archive\0" + settings.ID_ENCRYPTION_KEYS[0].encode()).digest()


class Archive:
    """The export being written: JSON documents and files into a ZIP on disk."""

    def __init__(self, handle):
        self.zip = zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED)

    def write_json(self, name: str, data) -> None:
        self.zip.writestr(
            name, json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=1)
        )

    def write_file(self, name: str, stored_name: str) -> None:
        if not stored_name or not default_storage.exists(stored_name):
            return
        with default_storage.open(stored_name, "rb") as source, self.zip.open(name, "w") as out:
            while chunk := source.read(ARCHIVE_CHUNK):
                out.write(chunk)


def _encrypt_file(source, target) -> None:
    """AES-256-GCM, chunk by chunk: each chunk sealed with its own nonce and its index (so no
    chunk can be moved or dropped unnoticed), the last one marked."""
    aead = AESGCM(_archive_key())
    target.write(ARCHIVE_MAGIC)
    index = 0
    chunk = source.read(ARCHIVE_CHUNK)
    while True:
        following = source.read(ARCHIVE_CHUNK)
        last = not following
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, chunk, struct.pack(">Q?", index, last))
        target.write(struct.pack(">I", len(sealed)) + nonce + sealed)
        if last:
            return
        chunk, index = following, index + 1


def archive_decrypt(source, target) -> None:
    """Open an export written by :func:`_encrypt_file` (``manage.py archive_decrypt``)."""
    if source.read(len(ARCHIVE_MAGIC)) != ARCHIVE_MAGIC:
        raise ValueError("not an export of this portal")
    aead = AESGCM(_archive_key())
    index = 0
    while header := source.read(4):
        (length,) = struct.unpack(">I", header)
        nonce = source.read(12)
        sealed = source.read(length)
        for last in (False, True):
            try:
                target.write(aead.decrypt(nonce, sealed, struct.pack(">Q?", index, last)))
            except Exception:  # noqa: BLE001 — InvalidTag: try the other marker
                continue
            if last:
                return
            break
        else:
            raise ValueError("the export is damaged or was made with another key")
        index += 1
    raise ValueError("the export is cut short")


def _export(job: ShredJob) -> None:
    """Write the edition's personal data, encrypted, into private storage."""
    edition = job.edition
    with tempfile.TemporaryFile() as plain, tempfile.TemporaryFile() as sealed:
        archive = Archive(plain)
        archive.write_json(
            "README.json",
            {
                "edition": edition.number,
                "name": edition.name,
                "exported_at": timezone.now(),
                "parts": [shredder.name for shredder in shredders()],
            },
        )
        for shredder in shredders():
            shredder.export(edition, archive)
        archive.zip.close()
        plain.seek(0)
        _encrypt_file(plain, sealed)
        sealed.seek(0)
        digest = hashlib.sha256()
        while chunk := sealed.read(ARCHIVE_CHUNK):
            digest.update(chunk)
        sealed.seek(0)
        name = default_storage.save(
            f"{ARCHIVE_FOLDER}/edition-{edition.number}-{secrets.token_hex(8)}.ciiearc",
            sealed,
        )
    ShredJob.objects.filter(pk=job.pk).update(
        archive=name,
        archive_sha256=digest.hexdigest(),
        archive_expires_at=timezone.now() + timedelta(days=edition.archive_days),
        status=ShredJob.Status.SHREDDING,
    )


# --- Jobs ------------------------------------------------------------------------------------


def retention_due(edition: Edition) -> date:
    return edition.ends_on + timedelta(days=edition.retention_days)


def shred_preview(edition: Edition) -> list[dict]:
    """What a shred would change, part by part: shown before an organiser confirms."""
    return [{"name": s.name, "label": s.label, "count": s.preview(edition)} for s in shredders()]


def shred_start(*, edition: Edition, actor, confirm: str) -> ShredJob:
    """Start shredding ``edition`` (the organiser types its number to confirm). Refused for the
    current edition, before the expo has ended, or a second time; queued after commit."""
    from .tasks import enqueue_on_commit, shred_job_run_task

    if not actor.has_perm("ciie_portal.shred_edition"):
        raise ValidationError(_("You may not shred an edition's personal data."))
    if str(confirm).strip() != str(edition.number):
        raise ValidationError(
            _("Type the edition's number (%(number)s) to confirm.") % {"number": edition.number}
        )
    if edition.is_current:
        raise ValidationError(_("The current edition cannot be shredded."))
    if timezone.localdate() <= edition.ends_on:
        raise ValidationError(_("An edition can be shredded only after its expo has ended."))
    with transaction.atomic():
        if ShredJob.objects.filter(edition=edition).exists():
            raise ValidationError(_("This edition's shred has already been started."))
        job = ShredJob.objects.create(
            edition=edition,
            started_by=actor,
            preview={p["name"]: p["count"] for p in shred_preview(edition)},
        )
        audit_record(
            actor=actor,
            obj=edition,
            action="edition.shred_started",
            data={"preview": job.preview, "retention_due": retention_due(edition).isoformat()},
        )
        enqueue_on_commit(shred_job_run_task, job.pk)
    return job


def _lease() -> timedelta:
    return timedelta(seconds=settings.SHRED_LEASE_SECONDS)


def _owner() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(6)}"


def _lease_take(job_id: int, owner: str) -> bool:
    return bool(
        ShredJob.objects.filter(pk=job_id)
        .exclude(status__in=(ShredJob.Status.DONE, ShredJob.Status.FAILED))
        .filter(Q(lease_owner="") | Q(lease_owner=owner) | Q(lease_until__lt=Now()))
        .update(lease_owner=owner, lease_until=Now() + _lease())
    )


def _lease_renew(job_id: int, owner: str) -> bool:
    return bool(
        ShredJob.objects.filter(pk=job_id, lease_owner=owner).update(lease_until=Now() + _lease())
    )


class LeaseLost(Exception):
    pass


def shred_job_run(*, job_id: int, time_budget: float | None = None, chunk: int = CHUNK) -> str:
    """Work on a shred job: "done", "continue" (time is up; run again), or "skipped" (another
    run holds it). Safe to run twice: only the lease holder works, and every chunk removes only
    what is still there."""
    owner = _owner()
    if not _lease_take(job_id, owner):
        return "skipped"
    started = timezone.now()
    job = ShredJob.objects.select_related("edition").get(pk=job_id)
    try:
        if job.status in (ShredJob.Status.QUEUED, ShredJob.Status.EXPORTING):
            ShredJob.objects.filter(pk=job.pk).update(status=ShredJob.Status.EXPORTING)
            _export(job)
            job.refresh_from_db()
        progress = dict(job.progress)
        for shredder in shredders():
            if progress.get(shredder.name, {}).get("finished"):
                continue
            while True:
                done = shredder.shred(job.edition, chunk)
                part = progress.setdefault(shredder.name, {"done": 0, "finished": False})
                part["done"] += done
                part["finished"] = done == 0
                if not _lease_renew(job.pk, owner):
                    raise LeaseLost
                ShredJob.objects.filter(pk=job.pk).update(progress=progress)
                if done == 0:
                    break
                elapsed = (timezone.now() - started).total_seconds()
                if time_budget is not None and elapsed > time_budget:
                    ShredJob.objects.filter(pk=job.pk, lease_owner=owner).update(
                        lease_owner="", lease_until=Now() + _lease()
                    )
                    return "continue"
        with transaction.atomic():
            now = timezone.now()
            ShredJob.objects.filter(pk=job.pk).update(
                status=ShredJob.Status.DONE, finished_at=now, lease_owner="", lease_until=None
            )
            Edition.objects.filter(pk=job.edition_id).update(shredded_at=now)
            audit_record(
                actor="system",
                obj=job.edition,
                action="edition.shredded",
                data={"progress": progress},
            )
        return "done"
    except LeaseLost:
        return "skipped"


def shred_jobs_take_over() -> list[int]:
    """Queue a run for every unfinished job whose worker is gone (its lease ran out)."""
    from .tasks import enqueue_on_commit, shred_job_run_task

    ids = list(
        ShredJob.objects.exclude(status__in=(ShredJob.Status.DONE, ShredJob.Status.FAILED))
        # A dead worker's lease ran out; or no run ever took the job (its queued task lost).
        .filter(
            Q(lease_until__lt=Now())
            | Q(
                lease_until__isnull=True,
                lease_owner="",
                created_at__lt=Now() - timedelta(seconds=30),
            )
        )
        .values_list("pk", flat=True)
    )
    for job_id in ids:
        enqueue_on_commit(shred_job_run_task, job_id)
    return ids


def archive_progress(job: ShredJob) -> int:
    """Percent done: the parts' records done over the preview's counts."""
    if job.status == ShredJob.Status.DONE:
        return 100
    total = sum(job.preview.values()) or 1
    done = sum(
        min(part.get("done", 0), job.preview.get(name, 0)) for name, part in job.progress.items()
    )
    return min(99, round(100 * done / total))


# --- The beat: reminders and expired exports -----------------------------------------------


@dataclass
class Housekeeping:
    reminded: list[int] = field(default_factory=list)
    archives_deleted: list[int] = field(default_factory=list)


def retention_housekeeping(*, today: date | None = None) -> Housekeeping:
    """Daily: tell the organisers once about each edition past its retention date and not yet
    shredded; delete exports whose keeping time is over."""
    from .notices.services import notice_send
    from .roles import ORGANISER

    today = today or timezone.localdate()
    done = Housekeeping()
    for edition in Edition.objects.filter(shredded_at__isnull=True, is_current=False):
        if retention_due(edition) > today:
            continue
        organisers = (
            get_user_model()
            .objects.filter(is_active=True, is_staff=True, groups__name=ORGANISER)
            .exclude(email="")
        )
        with transaction.atomic():
            for user in organisers:
                notice_send(
                    key=f"retention-due:{edition.pk}:{user.pk}",
                    event="retention_due",
                    channel="email",
                    recipient=user.email,
                    template="retention_due",
                    params={
                        "edition": edition.name,
                        "due": retention_due(edition).isoformat(),
                    },
                )
        done.reminded.append(edition.pk)
    for job in ShredJob.objects.filter(
        archive_expires_at__lt=timezone.now(), archive_deleted_at__isnull=True
    ).exclude(archive=""):
        delete_files([job.archive])
        ShredJob.objects.filter(pk=job.pk).update(archive_deleted_at=timezone.now())
        audit_record(actor="system", obj=job.edition, action="edition.export_deleted")
        done.archives_deleted.append(job.pk)
    return done
