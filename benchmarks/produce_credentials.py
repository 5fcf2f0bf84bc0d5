"""Cards per second of batch production (证件制作), against a bare loop that only draws them.

    python benchmarks/produce_credentials.py [--n 10000] [--photos 6] [--chunk 100]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ciie python benchmarks/produce_credentials.py
        [--processes 2] [--keep]

It makes N reviewed visitors (审核通过) in a throwaway edition (number 900 + random), 50 per
unit under one delegation, mostly Chinese names and some Latin ones, all labels, with photos: a
few distinct JPEGs made with Pillow (half at the minimum 413×531, which go into the PDF as they
are, half at 827×1063, which are scaled down once) shared between the visitors. Then it runs
the real production job — ``production_job_start`` queues the Celery task, which runs in-process
(eagerly) after the commit — and times it from start to done: cards per second, each card being
a signed credential, its card PDF, its place on an A4 print sheet and in the manifest, all
stored. In the same run, the floor: a bare loop draws the same cards (same data, same photos,
same QR payloads) with reportlab and the same QR code, and nothing else — no database, no
signing, no sheets, no files. The ratio is the job's rate over the loop's; the targets are
≥ 100 cards/s and a ratio ≥ 0.7.

Without DATABASE_URL it runs on SQLite in a temporary folder (migrated first). With PostgreSQL
it uses that database, deletes everything it made at the end (unless ``--keep``), and
``--processes 2`` spreads the visitors over two delegations and runs one job per delegation,
each in a process of its own, at once (both cores; a job is worked by one run at a time, which
holds its lease).
Files always go to a temporary folder.
"""

import argparse
import io
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATE = 100
TARGET_RATIO = 0.7
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
LATIN = ["Anna Schmidt", "John O'Neill", "María José García", "Lars Øberg", "Chloé Martin"]


def setup_django(private_root: str, var_dir: str | None) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ciie_portal.settings")
    os.environ.setdefault("CIIE_ALLOW_LOCAL_KEYS", "true")
    # DEBUG would keep every SQL statement in memory: production runs without it.
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ["PRIVATE_MEDIA_ROOT"] = private_root
    os.environ["OUTBOX_DIR"] = str(Path(private_root) / "outbox")
    if var_dir:
        os.environ["CIIE_VAR_DIR"] = var_dir
    import logging

    import django

    django.setup()
    from ciie_portal.celery import app

    app.conf.task_always_eager = True
    for name in ("celery", "kombu", "credentials"):
        logging.getLogger(name).setLevel(logging.WARNING)


def make_photos(count: int) -> list[bytes]:
    """Distinct ID-photo-like JPEGs on white: a face, shoulders and some texture."""
    from PIL import Image, ImageDraw, ImageFilter

    photos = []
    rng = random.Random(7)
    for index in range(count):
        width, height = (413, 531) if index % 2 == 0 else (827, 1063)
        image = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(image)
        skin = (rng.randint(170, 230), rng.randint(130, 180), rng.randint(100, 150))
        draw.ellipse((width * 0.28, height * 0.14, width * 0.72, height * 0.6), fill=skin)
        cloth = (rng.randint(0, 90), rng.randint(0, 90), rng.randint(40, 140))
        draw.rectangle((width * 0.1, height * 0.66, width * 0.9, height), fill=cloth)
        for _ in range(400):  # hair and fabric: detail that JPEG must keep
            x, y = rng.random() * width, rng.random() * height * 0.9 + height * 0.1
            shade = rng.randint(20, 90)
            draw.line((x, y, x + rng.randint(-9, 9), y + rng.randint(3, 14)), fill=(shade,) * 3)
        image = image.filter(ImageFilter.SMOOTH)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=92)
        photos.append(buffer.getvalue())
    return photos


def make_data(made: dict, *, token: str, n: int, photos: int, delegations: int = 1) -> None:
    """Fill ``made`` as rows are created, so that a failure half-way still gets cleaned up."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from ciie_portal import crypto
    from ciie_portal.choices import Region, UnitCategory
    from ciie_portal.models import Edition, EntryPeriod
    from delegations.models import Delegation
    from registration.models import IdType, Label, PersonType, Pickup, Unit, Visitor

    taken = set(Edition.objects.filter(number__gte=900).values_list("number", flat=True))
    free = [number for number in range(900, 1000) if number not in taken]
    if not free:
        sys.exit("Editions 900–999 are all taken: delete old benchmark editions first.")
    today, now = timezone.localdate(), timezone.now()
    edition = Edition.objects.create(
        number=random.choice(free),
        name=f"第{token}届 credential benchmark",
        starts_on=today + timedelta(days=30),
        ends_on=today + timedelta(days=35),
        registration_opens_at=now - timedelta(days=100),
        registration_closes_at=now + timedelta(days=10),
        transfer_deadline=now + timedelta(days=5),
        online_payment_deadline=now + timedelta(days=6),
    )
    made["edition"] = edition
    periods = [
        EntryPeriod.objects.create(
            edition=edition, name="全程", first_day=edition.starts_on + timedelta(days=1),
            last_day=edition.ends_on, fee=200,
        ),
        EntryPeriod.objects.create(
            edition=edition, name="后三天", first_day=edition.ends_on - timedelta(days=2),
            last_day=edition.ends_on, fee=100,
        ),
    ]  # fmt: skip
    made["delegations"] = [
        Delegation.objects.create(
            name=f"制证基准交易团 {token}-{i}", code=f"production-bench-{token}-{i}",
            is_active=False,
        )
        for i in range(delegations)
    ]  # fmt: skip
    photo_names = [
        default_storage.save(f"visitor-photos/bench-{i}.jpg", ContentFile(data))
        for i, data in enumerate(make_photos(photos))
    ]
    units = Unit.objects.bulk_create(
        [
            Unit(
                edition=edition,
                delegation=made["delegations"][i % delegations],
                region=Region.MAINLAND,
                category=UnitCategory.ENTERPRISE,
                name=f"上海制证基准国际贸易有限公司{i:04d}",
                status=Unit.Status.APPROVED,
            )
            for i in range(max(1, n // 50))
        ]
    )
    rng = random.Random(11)
    labels = [Label.VIP] + [Label.STAFF] * 2 + [Label.VISITOR] * 17
    rows = []
    for i in range(n):
        sealed = crypto.seal(f"E{token}{i:07d}")
        latin = i % 10 == 0
        name = (
            LATIN[i % len(LATIN)]
            if latin
            else rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", *GIVEN])
        )
        rows.append(
            Visitor(
                edition=edition,
                unit=units[i % len(units)],
                person_type=PersonType.FOREIGN if latin else PersonType.MAINLAND,
                id_type=IdType.PASSPORT,
                id_number_encrypted=sealed.encrypted,
                id_number_index=sealed.index,
                id_number_masked=sealed.masked,
                name=name,
                label=labels[i % len(labels)],
                status=Visitor.Status.REVIEW_PASSED,
                entry_period=periods[i % 7 == 0],
                pickup=Pickup.DELEGATION if i % 3 else Pickup.COURIER,
                photo=photo_names[i % len(photo_names)],
                submitted_at=now,
            )
        )
    Visitor.objects.bulk_create(rows, batch_size=2000)


def _run_job_in_process(job_id: int, private_root: str) -> None:
    """Another worker, on a job of its own (PostgreSQL only)."""
    setup_django(private_root, None)
    from credentials.production.services import production_job_run

    production_job_run(job_id=job_id)


def time_job(edition, delegations, *, chunk: int, processes: int, private_root: str):
    """One job over the edition, or with ``processes`` > 1 one job per delegation, each in a
    process of its own at once (a job is worked by one run at a time: it holds a lease).
    Returns the jobs, the seconds from start to the last one done, and this process's CPU."""
    from django.db import connection, transaction

    from credentials.models import ProductionJob
    from credentials.production.services import production_job_run, production_job_start

    cpu = time.process_time()
    if processes == 1:
        start = time.perf_counter()
        with transaction.atomic():
            job = production_job_start(edition=edition, actor=None, chunk_size=chunk)
        # The task ran eagerly on commit, to the end.
        return (
            [ProductionJob.objects.get(pk=job.pk)],
            time.perf_counter() - start,
            (time.process_time() - cpu),
        )
    # Queue the jobs without running them, then run them in N processes at once.
    from ciie_portal.celery import app

    app.conf.task_always_eager = False
    with transaction.atomic():
        jobs = [
            production_job_start(edition=edition, actor=None, delegation=d, chunk_size=chunk)
            for d in delegations
        ]
    app.conf.task_always_eager = True
    connection.close()
    context = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    others = [
        context.Process(target=_run_job_in_process, args=(job.pk, private_root)) for job in jobs[1:]
    ]
    for process in others:
        process.start()
    production_job_run(job_id=jobs[0].pk)
    for process in others:
        process.join()
    seconds = time.perf_counter() - start
    done = list(ProductionJob.objects.filter(pk__in=[job.pk for job in jobs]))
    return done, seconds, time.process_time() - cpu


def time_bare_loop(edition, count: int) -> tuple[float, float, int]:
    """The floor: draw the same cards with reportlab and the same QR codes, nothing else."""
    from django.core.files.storage import default_storage

    from credentials.models import Credential
    from credentials.production.cards import CardData, print_photo, qr_code, render_card

    rows = list(
        Credential.objects.filter(edition=edition)
        .order_by("sequence")
        .values(
            "number", "name", "unit_name", "delegation_name", "label", "first_day", "last_day",
            "qr_payload", "visitor__photo",
        )[:count]
    )  # fmt: skip
    cards = [
        CardData(
            number=row["number"],
            edition_name=edition.name,
            name=row["name"],
            unit=row["unit_name"],
            delegation=row["delegation_name"],
            label=row["label"],
            first_day=row["first_day"],
            last_day=row["last_day"],
            qr_payload=row["qr_payload"],
            photo=print_photo(default_storage, row["visitor__photo"]),  # cached, as in the job
        )
        for row in rows
    ]
    start, cpu = time.perf_counter(), time.process_time()
    for card in cards:
        render_card(card, qr_code(card.qr_payload))
    return time.perf_counter() - start, time.process_time() - cpu, len(cards)


def clean_up(made: dict) -> None:
    from django.db import transaction

    from credentials.models import Credential, CredentialCounter, PrintBatch, ProductionJob
    from registration.models import Unit, Visitor

    edition = made["edition"]
    with transaction.atomic():
        # The audit log is never edited: its entries of these rows stay.
        Credential.objects.filter(edition=edition).purge()
        PrintBatch.objects.filter(edition=edition).purge()
        ProductionJob.objects.filter(edition=edition).delete()
        CredentialCounter.objects.filter(edition=edition).delete()
        Visitor.objects.filter(edition=edition).delete()
        Unit.objects.filter(edition=edition).delete()
        for delegation in made.get("delegations", []):
            delegation.delete()
        edition.entry_periods.all().delete()
        edition.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="visitors (cards) to make")
    parser.add_argument("--photos", type=int, default=6, help="distinct photos, shared")
    parser.add_argument("--chunk", type=int, default=100, help="cards per print batch")
    parser.add_argument("--bare", type=int, default=2000, help="cards drawn by the bare loop")
    parser.add_argument("--processes", type=int, default=1, help="processes on the job (PG)")
    parser.add_argument("--keep", action="store_true", help="keep the data (PostgreSQL)")
    args = parser.parse_args()
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql"))
    if args.processes > 1 and not on_postgres:
        sys.exit("--processes needs PostgreSQL (SQLite lets one process write at a time).")

    private_root = tempfile.mkdtemp(prefix="production-bench-files-")
    var_dir = None if on_postgres else tempfile.mkdtemp(prefix="production-bench-db-")
    made: dict = {}
    try:
        setup_django(private_root, var_dir)
        from django.core.management import call_command
        from django.db import connection

        from credentials.models import Credential, PrintBatch
        from credentials.production.cards import card_fonts

        if var_dir:
            print("migrating a temporary SQLite database …", flush=True)
            call_command("migrate", verbosity=0)
        token = uuid.uuid4().hex[:6]
        started = time.perf_counter()
        print(f"making {args.n} reviewed visitors with {args.photos} photos …", flush=True)
        make_data(made, token=token, n=args.n, photos=args.photos, delegations=args.processes)
        print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
        fonts = card_fonts()

        jobs, seconds, job_cpu = time_job(
            made["edition"], made["delegations"], chunk=args.chunk, processes=args.processes,
            private_root=private_root,
        )  # fmt: skip
        made_count = Credential.objects.filter(edition=made["edition"]).count()
        batches = PrintBatch.objects.filter(edition=made["edition"]).count()
        states = sorted({job.status for job in jobs})
        if states != ["done"] or made_count != args.n:
            errors = " ".join(job.error for job in jobs if job.error)
            sys.exit(f"jobs {states}: {made_count} of {args.n} credentials made. {errors}")
        rate = args.n / seconds
        bare_seconds, bare_cpu, bare_count = time_bare_loop(made["edition"], min(args.bare, args.n))
        bare_rate = bare_count / bare_seconds
        ratio = rate / bare_rate
        # The machine is shared: CPU time says what each side cost this process, whatever else
        # ran meanwhile (one process only: the others' CPU is not counted).
        cpu_ratio = (bare_cpu / bare_count) / (job_cpu / args.n)
        size = sum(p.stat().st_size for p in Path(private_root).rglob("*.pdf"))

        print(
            f"  database {connection.vendor}, {os.cpu_count()} cores, {args.processes} "
            f"process(es); CJK font {fonts.cjk} "
            f"({'embedded' if fonts.embedded else 'not embedded'})"
        )
        print(
            f"  job: {args.n} credentials, {batches} print batches of {args.chunk}, "
            f"{size / 1e6:.0f} MB of PDF, in {seconds:.1f} s"
        )
        print(f"  bare loop: {bare_count} cards drawn in {bare_seconds:.1f} s")
        if args.processes == 1:
            print(
                f"  CPU time: job {1000 * job_cpu / args.n:.2f} ms/card, bare loop "
                f"{1000 * bare_cpu / bare_count:.2f} ms/card, ratio {cpu_ratio:.2f}"
            )
        if args.processes > 1:
            # Two processes against one bare loop is no like-for-like ratio: give it per process.
            ratio /= args.processes
        print(
            f"production {args.n}: {rate:.0f} cards/s (target ≥ {TARGET_RATE}: "
            f"{'met' if rate >= TARGET_RATE else 'MISSED'}); bare loop {bare_rate:.0f} cards/s; "
            f"ratio {ratio:.2f}{' per process' if args.processes > 1 else ''} "
            f"(target ≥ {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'MISSED'})"
        )
    finally:
        if on_postgres and "edition" in made and not args.keep:
            clean_up(made)
            print("benchmark data deleted", flush=True)
        shutil.rmtree(private_root, ignore_errors=True)
        if var_dir:
            shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
