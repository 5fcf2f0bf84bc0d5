"""How long the end of an edition takes: export and shred of a full edition's personal data.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ciie python benchmarks/shred.py
        [--visitors 400000] [--photos 2000] [--chunk 500] [--keep]

In a database of its own (``<DATABASE_URL's database>_shred_<random>``, created and migrated
here, dropped at the end unless ``--keep``) it builds an edition that ended 400 days ago: N
visitors with sealed ID numbers, mobiles, emails and birth dates (``--photos`` of them with a
photo file), one unit per 200 visitors with a contact and a delivery address, and an audit entry
for every tenth visitor. Then it runs the shred job in this process as the Celery task would
(``ciie_portal.retention.shred_job_run``, chunks of ``--chunk``): first the encrypted export,
then every part. It prints the time of each, visitors shredded per second, and the floor — one
``UPDATE`` that blanks the same visitors' mobiles, emails and birth dates in a single statement
(rolled back), measured in the same run — with the shred's ratio to it. It checks that no ID
number, mobile or photo of the edition is left.
"""

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.payment_notifications import (  # noqa: E402
    database_create,
    database_drop,
    with_database,
)


def build(n: int, photos: int):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from ciie_portal import crypto
    from ciie_portal.models import AuditEntry, Edition
    from registration.models import DeliveryAddress, Unit, Visitor

    ended = timezone.localdate() - timedelta(days=400)
    now = timezone.now() - timedelta(days=420)
    edition = Edition.objects.create(
        number=900, name="第900届 shred benchmark", starts_on=ended - timedelta(days=5),
        ends_on=ended, registration_opens_at=now - timedelta(days=100),
        registration_closes_at=now, transfer_deadline=now, online_payment_deadline=now,
    )  # fmt: skip
    units = Unit.objects.bulk_create(
        Unit(edition=edition, region="mainland", category="enterprise", name=f"单位{u}",
             uscc="", contact_name=f"联系人{u}", contact_mobile=f"139{u:08d}",
             contact_email=f"contact{u}@example.com")
        for u in range(max(n // 200, 1))
    )  # fmt: skip
    DeliveryAddress.objects.bulk_create(
        DeliveryAddress(unit=unit, recipient=f"收件人{i}", mobile=f"137{i:08d}",
                        address=f"某路{i}号", postcode="200000")
        for i, unit in enumerate(units)
    )  # fmt: skip
    photo = b"\xff\xd8\xff\xe0" + secrets.token_bytes(4000)
    batch = []
    for i in range(n):
        sealed = crypto.seal(f"E{i:09d}")
        name = ""
        if i < photos:
            name = default_storage.save(f"visitor-photos/bench{i}.jpg", ContentFile(photo))
        batch.append(
            Visitor(
                edition=edition, unit=units[i % len(units)], person_type="foreign",
                name=f"访客{i}", id_type="passport", id_number_encrypted=sealed.encrypted,
                id_number_index=sealed.index, id_number_masked=sealed.masked,
                birth_date=date(1980, 1, 1) + timedelta(days=i % 9000), mobile=f"138{i:08d}",
                email=f"v{i}@example.com", photo=name, status="submitted",
                reference=f"S{i:09d}",
            )
        )  # fmt: skip
        if len(batch) == 5000:
            Visitor.objects.bulk_create(batch)
            batch = []
    Visitor.objects.bulk_create(batch)
    from django.contrib.contenttypes.models import ContentType

    visitor_type = ContentType.objects.get_for_model(Visitor)
    ids = list(Visitor.objects.filter(edition=edition).values_list("pk", flat=True)[::10])
    for start in range(0, len(ids), 5000):
        AuditEntry.objects.bulk_create(
            AuditEntry(content_type=visitor_type, object_id=str(pk), object_repr=f"访客{pk}",
                       action="visitor.saved", actor_repr="bench", data={"mobile": "x"})
            for pk in ids[start : start + 5000]
        )  # fmt: skip
    return edition


def floor_seconds(edition) -> float:
    """One statement blanking the edition's visitors' contact data (rolled back)."""
    from django.db import connection, transaction

    with transaction.atomic():
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE registration_visitor SET mobile = '', email = '', birth_date = NULL "
                "WHERE edition_id = %s",
                [edition.pk],
            )
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=400_000)
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--keep", action="store_true", help="keep the database and the folder")
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "")
    if urlsplit(base_url).scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (a database is created there).")

    folder = Path(tempfile.mkdtemp(prefix="ciie-shred-"))
    name = f"{urlsplit(base_url).path.lstrip('/') or 'ciie'}_shred_{folder.name[-6:].lower()}"
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    database_create(base_url, name)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="ciie_portal.settings",
        DATABASE_URL=with_database(base_url, name),
        PRIVATE_MEDIA_ROOT=str(folder / "private"),
        CIIE_VAR_DIR=str(folder / "var"),
        OUTBOX_DIR=str(folder / "outbox"),
        CIIE_ALLOW_LOCAL_KEYS="true",
        LOG_LEVEL="WARNING",
    )
    for key in ("CELERY_BROKER_URL", "CACHE_URL"):
        os.environ.pop(key, None)
    try:
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.files.storage import default_storage
        from django.core.management import call_command
        from django.db import connection

        from ciie_portal.models import ShredJob
        from ciie_portal.retention import _export, shred_job_run, shred_preview
        from registration.models import Visitor

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        edition = build(args.visitors, args.photos)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(
            f"built {args.visitors} visitors ({args.photos} with photos) in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        floor = min(floor_seconds(edition) for _ in range(3))

        started = time.perf_counter()
        organiser = get_user_model().objects.create(username="shred-bench", is_staff=True)
        job = ShredJob.objects.create(
            edition=edition,
            started_by=organiser,
            preview={p["name"]: p["count"] for p in shred_preview(edition)},
        )
        preview_s = time.perf_counter() - started
        started = time.perf_counter()
        _export(job)
        export_s = time.perf_counter() - started
        job.refresh_from_db()
        started = time.perf_counter()
        outcome = shred_job_run(job_id=job.pk, chunk=args.chunk)
        shred_s = time.perf_counter() - started

        visitors = Visitor.objects.filter(edition=edition)
        left = {
            "ID numbers": visitors.exclude(id_number_encrypted="").count(),
            "mobiles": visitors.exclude(mobile="").count(),
            "photo files": sum(
                default_storage.exists(f"visitor-photos/bench{i}.jpg") for i in range(args.photos)
            ),
        }
        size = default_storage.size(job.archive) / 2**20
        print(f"preview:  {preview_s:8.2f} s")
        print(f"export:   {export_s:8.2f} s  ({size:.0f} MiB encrypted)")
        print(
            f"shred:    {shred_s:8.2f} s  ({outcome}; {args.visitors / shred_s:,.0f} visitors/s, "
            f"chunks of {args.chunk})"
        )
        print(
            f"floor:    {floor:8.2f} s  one UPDATE of the same visitors; shred / floor = "
            f"{shred_s / floor:.1f}"
        )
        print("left:     " + ", ".join(f"{count} {what}" for what, count in left.items()))
        ok = outcome == "done" and not any(left.values())
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"kept: database {name}, folder {folder}")
        else:
            database_drop(base_url, name)
            shutil.rmtree(folder, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
