"""How long 锁定提交 takes for 10,000 visitors, against the floor of one SQL UPDATE.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ciie python benchmarks/lock_visitors.py

In a throwaway edition (number 900 + random) it creates one delegation with two identical sets of
units (200 each) and labelled, submitted visitors (10,000 each: VIP, staff and professional
visitors). It locks the first set with ``delegations.services.visitors_lock`` — Celery runs eagerly
and the SMS and emails go to an outbox in a temporary folder (in memory, see ``outbox_folder`` in
payment_notifications.py), so the time includes delivering the payment notices after commit — and
moves the second set with a single ``UPDATE``. Then it deletes everything it made. PostgreSQL only:
the lock takes row locks and the figure is meant for production's database.
"""

import argparse
import contextlib
import os
import random
import shutil
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from payment_notifications import (  # noqa: E402 - the benchmarks' shared helpers
    describe_outbox,
    outbox_folder,
)

POSTGRES_SCHEMES = ("postgres://", "postgresql://", "pgsql://", "postgis://")
# The lock of 10,000 visitors, notices delivered after commit included: under 2 s, and at most
# 5 times the single UPDATE of the same rows measured in the same run.
TARGET_SECONDS = 2.0
TARGET_RATIO = 5.0


def refuse(message: str) -> None:
    sys.stderr.write(f"{message}\n")
    sys.exit(2)


def setup_django(outbox: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ciie_portal.settings")
    os.environ.setdefault("CIIE_ALLOW_LOCAL_KEYS", "true")
    # Notices go to the outbox in a temporary folder, whatever the environment says.
    os.environ["OUTBOX_DIR"] = outbox
    os.environ["SMS_BACKEND"] = "ciie_portal.notices.backends.OutboxSmsBackend"
    os.environ["EMAIL_BACKEND"] = "ciie_portal.notices.backends.OutboxEmailBackend"
    os.environ.pop("EMAIL_URL", None)
    import logging

    import django

    django.setup()
    from ciie_portal.celery import app

    app.conf.task_always_eager = True
    # One "Task … succeeded" line per notice would bury the figures.
    logging.getLogger("celery").setLevel(logging.WARNING)
    logging.getLogger("kombu").setLevel(logging.ERROR)


def make_data(made: dict, *, token: str, visitors_per_set: int, units_per_set: int) -> None:
    """Fill ``made`` as rows are created, so that a failure half-way still gets cleaned up."""
    from django.utils import timezone

    from ciie_portal import crypto
    from ciie_portal.choices import Region, UnitCategory
    from ciie_portal.models import Edition
    from delegations.models import Delegation
    from registration.models import IdType, Label, PersonType, Unit, Visitor

    taken = set(Edition.objects.filter(number__gte=900).values_list("number", flat=True))
    free = [n for n in range(900, 1000) if n not in taken]
    if not free:
        refuse("Editions 900–999 are all taken: delete old benchmark editions first.")
    number = random.choice(free)
    today = timezone.localdate()
    now = timezone.now()
    edition = Edition.objects.create(
        number=number,
        name=f"lock benchmark {token}",
        starts_on=today + timedelta(days=200),
        ends_on=today + timedelta(days=205),
        registration_opens_at=now - timedelta(days=10),
        registration_closes_at=now + timedelta(days=150),
        transfer_deadline=now + timedelta(days=140),
        online_payment_deadline=now + timedelta(days=145),
    )
    made["edition"] = edition
    delegation = Delegation.objects.create(
        name=f"锁定基准交易团 {token}", code=f"lock-bench-{token}", is_active=False
    )
    made["delegation"] = delegation
    sets = made["sets"] = []
    for s in range(2):
        units = Unit.objects.bulk_create(
            [
                Unit(
                    edition=edition,
                    delegation=delegation,
                    region=Region.MAINLAND,
                    category=UnitCategory.ENTERPRISE,
                    name=f"锁定基准单位 {token}-{s}-{i}",
                    status=Unit.Status.APPROVED,
                    contact_email=f"unit{s}-{i}@{token}.lock-bench.invalid",
                    contact_mobile=f"199{s}{i:07d}",
                )
                for i in range(units_per_set)
            ]
        )
        sets.append([unit.pk for unit in units])
        rows = []
        for i in range(visitors_per_set):
            n = s * visitors_per_set + i
            sealed = crypto.seal(f"E{n:08d}")
            # Every unit gets its mix: 5 % VIP, 10 % staff, the rest professional visitors.
            kind = (i // units_per_set) % 20
            label = Label.VIP if kind == 0 else Label.STAFF if kind < 3 else Label.VISITOR
            rows.append(
                Visitor(
                    edition=edition,
                    unit=units[i % units_per_set],
                    person_type=PersonType.FOREIGN,
                    id_type=IdType.PASSPORT,
                    id_number_encrypted=sealed.encrypted,
                    id_number_index=sealed.index,
                    id_number_masked=sealed.masked,
                    name=f"Bench Visitor {n}",
                    label=label,
                    status=Visitor.Status.SUBMITTED,
                    submitted_at=now,
                )
            )
        Visitor.objects.bulk_create(rows, batch_size=2000)


def time_lock(unit_ids) -> tuple[float, float, dict]:
    """Seconds for visitors_lock up to its commit, and including the notices sent after it."""
    from django.db import transaction

    from delegations.services import visitors_lock
    from registration.models import Visitor

    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        start = time.perf_counter()
        with transaction.atomic():
            result = visitors_lock(
                visitors=Visitor.objects.filter(unit_id__in=unit_ids), actor=None
            )
            in_transaction = time.perf_counter() - start
        total = time.perf_counter() - start
    return in_transaction, total, result


def time_floor(unit_ids) -> tuple[float, int]:
    """The same state change as one UPDATE: no locks read back, no audit, no notices."""
    from django.db import transaction
    from django.db.models import Case, Q, Value, When

    from registration.models import Label, Visitor

    V = Visitor.Status
    start = time.perf_counter()
    with transaction.atomic():
        moved = Visitor.objects.filter(unit_id__in=unit_ids, status=V.SUBMITTED).update(
            status=Case(
                When(
                    Q(label=Label.VISITOR, paid_by_delegation=False), then=Value(V.PENDING_PAYMENT)
                ),
                default=Value(V.PENDING_REVIEW),
            )
        )
    return time.perf_counter() - start, moved


def clean_up(made: dict) -> None:
    from django.db import transaction

    from ciie_portal.models import Notice
    from registration.models import Unit, Visitor

    edition, delegation = made["edition"], made.get("delegation")
    unit_ids = [pk for unit_set in made.get("sets", []) for pk in unit_set]
    with transaction.atomic():
        # The audit log is never edited: its entries of these visitors stay.
        if unit_ids:
            Notice.objects.filter(
                event="pay_now", key__regex=rf"^pay-now:({'|'.join(map(str, unit_ids))}):"
            ).delete()
        Visitor.objects.filter(edition=edition).delete()
        Unit.objects.filter(edition=edition).delete()
        if delegation is not None:
            delegation.delete()
        edition.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=10_000, help="visitors per set")
    parser.add_argument("--units", type=int, default=200, help="units per set")
    parser.add_argument("--profile", action="store_true", help="cProfile of the lock (slower)")
    parser.add_argument(
        "--outbox-on-disk", action="store_true", help="the outbox under var/, not in memory"
    )
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(POSTGRES_SCHEMES):
        refuse(
            "This benchmark needs PostgreSQL: set DATABASE_URL=postgres://… "
            "(SQLite serialises writers, so its figure would mean nothing for production)."
        )

    outbox = outbox_folder("lock-bench-outbox-", on_disk=args.outbox_on_disk)
    try:
        measure(args, outbox)
    finally:
        shutil.rmtree(outbox, ignore_errors=True)


def measure(args, outbox: str) -> None:
    setup_django(outbox)
    from django.db import connection

    if connection.vendor != "postgresql":
        refuse(f"DATABASE_URL points at {connection.vendor}, not PostgreSQL.")
    from ciie_portal.models import Notice

    print(describe_outbox(outbox), flush=True)
    token = uuid.uuid4().hex[:8]
    started = datetime.now()
    print(f"setting up 2 × {args.visitors} visitors in 2 × {args.units} units …", flush=True)
    made: dict = {}
    try:
        make_data(made, token=token, visitors_per_set=args.visitors, units_per_set=args.units)
        sets = made["sets"]
        # Settled as autovacuum leaves a table after a bulk insert (the name index's pending
        # entries merged, the rows' hint bits set): else the first statement after the
        # insert, the lock, pays for 20,000 new rows and the floor after it does not.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE registration_visitor")
            cursor.execute("VACUUM ANALYZE registration_unit")
        print(f"  done in {(datetime.now() - started).total_seconds():.1f} s", flush=True)

        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
        in_transaction, lock_seconds, result = time_lock(sets[0])
        if args.profile:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        notices = Notice.objects.filter(
            event="pay_now", key__regex=rf"^pay-now:({'|'.join(map(str, sets[0]))}):"
        )
        sent = notices.filter(status=Notice.Status.SENT).count()
        floor_seconds, moved = time_floor(sets[1])

        print(
            f"  visitors_lock: {result['to_pay']} to pay, {result['to_review']} to review, "
            f"{result['units']} units told; {sent} of {notices.count()} notices sent; "
            f"{in_transaction:.2f} s to commit, {lock_seconds - in_transaction:.2f} s "
            f"delivering after commit"
        )
        print(f"  single UPDATE: {moved} rows")
        ratio = lock_seconds / floor_seconds
        print(
            f"lock {args.visitors} visitors: {lock_seconds:.2f} s; "
            f"single UPDATE: {floor_seconds:.2f} s; ratio {ratio:.1f}"
        )
        print(
            f"  target < {TARGET_SECONDS:.0f} s: "
            f"{'met' if lock_seconds < TARGET_SECONDS else 'NOT met'}; "
            f"target ratio ≤ {TARGET_RATIO:.0f}: "
            f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}"
        )
    finally:
        if "edition" in made:
            clean_up(made)
            print("benchmark data deleted", flush=True)


if __name__ == "__main__":
    main()
