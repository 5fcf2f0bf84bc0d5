"""Faults: notices and production under killed workers, a lost broker, cut database connections.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ciie python benchmarks/faults.py
        [--notices 200] [--faults worker,broker,database,production] [--keep] [--json FILE]

In a database of its own (``<DATABASE_URL's database>_faults_<random>``, created and migrated
here, dropped at the end unless ``--keep``) and a Redis of its own (``redis-server`` on a free
port, **without persistence**: a restart loses every message it held), it starts the real
processes — a Celery worker (prefork, two children, both queues), Celery beat, the outbox relay
(``manage.py outbox_relay``) and gunicorn — with the portal's default settings for leases,
sweeps and the relay, and injects each fault while notices are being delivered:

- **worker**: one pool child killed with SIGKILL mid-delivery, then the whole worker (main
  process and children) killed with SIGKILL; notices created while no worker runs; the worker
  started again 2 s later. The fault ends when it is back.
- **broker**: Redis killed right after a burst of notices (the queued messages are lost with
  it), more notices and signed payment notifications (through gunicorn, the gateway's callback)
  while it is down for 10 s, then Redis started again, empty. The fault ends when it is back.
  Every HTTP answer is counted: committed work must never get a 500.
- **database**: every database connection of the worker, beat, relay and web server terminated
  (``pg_terminate_backend``) every 0.25 s for 8 s while notices are delivered — the "mark sent"
  write fails after the provider accepted. The fault ends with the last termination.
- **production**: a production job over reviewed visitors with photos; its worker killed with
  SIGKILL after its first print batch, started again 2 s later; nobody resumes the job.
- **shred**: an ended edition's personal data shredded (``ciie_portal.retention``) in chunks of
  4; its worker killed with SIGKILL after the first chunk, started again 2 s later; nobody resumes
  the job (the beat hands it on once its lease runs out).

The SMS and email "providers" are two small backends defined here that append one line per
accepted message to a log (the provider's own record) and answer the portal's lookup from it,
with 50 ms per message so that kills land mid-delivery. For each fault it prints the notices
expected, delivered once, delivered twice, never delivered, and the longest delay between the
fault's end and a notice's delivery; for production, whether the job finished by itself, how
long after the fault, and whether every visitor has exactly one active credential, no number
twice and no card file without its row. Exit status 1 when any of these fails: a notice lost or
sent twice, a delay over 60 s, an HTTP 500, or a production job not finished within 120 s.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.payment_notifications import (  # noqa: E402
    Gunicorn,
    children_of,
    database_create,
    database_drop,
    free_port,
    make_data,
    post,
    signed_requests,
    wait_until_up,
    with_database,
)

MAX_DELAY = 60.0
FAULTS = ("worker", "broker", "database", "production", "shred")


# --- The providers: a log of what they accepted ---------------------------------------------


def _log_path() -> Path:
    return Path(os.environ["FAULTS_LOG"])


def _accept(key: str, channel: str) -> str:
    """Accept one message: one line appended (O_APPEND: whole lines, also from several
    processes). Returns the provider's message id."""
    time.sleep(float(os.environ.get("FAULTS_SEND_SECONDS", "0.05")))
    message_id = secrets.token_hex(8)
    line = json.dumps({"key": key, "id": message_id, "channel": channel, "t": time.time()})
    with _log_path().open("a") as log:
        log.write(line + "\n")
    return message_id


def _accepted(key: str) -> str | None:
    if not _log_path().exists():
        return None
    for line in _log_path().read_text().splitlines():
        record = json.loads(line)
        if record["key"] == key:
            return record["id"]
    return None


def read_log() -> list[dict]:
    if not _log_path().exists():
        return []
    return [json.loads(line) for line in _log_path().read_text().splitlines() if line]


try:
    from django.core.mail.backends.base import BaseEmailBackend

    from ciie_portal.notices.backends import SmsBackend
except ImportError:  # imported before Django's settings exist: only main() runs then
    BaseEmailBackend = SmsBackend = object


class CountingSmsBackend(SmsBackend):
    """An SMS provider that records each message it accepts and can be asked by out-id."""

    def send(self, *, phone, template, params, text, out_id=""):
        return _accept(out_id, "sms")

    def lookup(self, *, out_id, phone):
        return _accepted(out_id)


class CountingEmailBackend(BaseEmailBackend):
    """A mail provider that records each message it accepts and can be asked by notice key."""

    def send_messages(self, email_messages):
        for message in email_messages:
            _accept(message.extra_headers.get("X-Notice-Key", ""), "email")
        return len(email_messages)

    @classmethod
    def lookup(cls, key):
        return _accepted(key)


# --- Processes --------------------------------------------------------------------------------


class Process:
    """A child process in its own process group, so that SIGKILL reaches its children too."""

    def __init__(self, name: str, command: list[str], log: Path):
        self.name, self.command, self.log = name, command, log
        self.process = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            self.command,
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL to the whole group: no shutdown, no acknowledgement, nothing cleaned up."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def children(self) -> list[int]:
        return children_of(self.process.pid) if self.process else []


class Redis(Process):
    def __init__(self, folder: Path):
        self.port = free_port()
        super().__init__(
            "redis",
            [
                shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(folder),
            ],
            folder / "redis.log",
        )  # fmt: skip

    def start(self) -> None:
        super().start()
        import redis

        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def celery_worker(folder: Path) -> Process:
    return Process(
        "worker",
        [
            sys.executable, "-m", "celery", "-A", "ciie_portal", "worker", "--pool=prefork",
            "--concurrency=2", "--queues",
            f"{os.environ['CELERY_DEFAULT_QUEUE']},{os.environ['CELERY_BATCH_QUEUE']}",
            "--loglevel=WARNING", "--without-gossip", "--without-mingle",
        ],
        folder / "worker.log",
    )  # fmt: skip


def wait_for(predicate, *, seconds: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# --- Notices ------------------------------------------------------------------------------------


def create_notices(prefix: str, count: int, *, batch: int = 10) -> list[str]:
    """``count`` SMS notices, ``batch`` per transaction, as requests create them."""
    from django.db import transaction

    from ciie_portal.notices.services import notice_send

    keys = []
    for start in range(0, count, batch):
        with transaction.atomic():
            for i in range(start, min(start + batch, count)):
                key = f"{prefix}:{i}"
                notice_send(
                    key=key,
                    event="verification_code",
                    channel="sms",
                    recipient=f"139{i:08d}",
                    template="verification_code",
                    params={"code": f"{i:06d}"},
                )
                keys.append(key)
    return keys


def delivered(keys) -> int:
    wanted = set(keys)
    return len({record["key"] for record in read_log() if record["key"] in wanted})


def settle(keys: list[str], fault_end: float, *, seconds: float = 120) -> dict:
    """Wait until every notice is sent (a sent notice is never sent again) or time is up,
    then count from the providers' log."""
    from ciie_portal.models import Notice

    def all_sent():
        return not Notice.objects.filter(key__in=keys).exclude(status="sent").exists()

    wait_for(all_sent, seconds=max(fault_end + seconds - time.time(), 1), step=0.5)
    counts = Counter()
    first = {}
    for record in read_log():
        if record["key"] in keys:
            counts[record["key"]] += 1
            first.setdefault(record["key"], record["t"])
    delays = [max(0.0, t - fault_end) for t in first.values()]
    states = Counter(Notice.objects.filter(key__in=keys).values_list("status", flat=True))
    return {
        "expected": len(keys),
        "delivered_once": sum(1 for key in keys if counts[key] == 1),
        "delivered_twice": sum(1 for key in keys if counts[key] > 1),
        "never_delivered": sum(1 for key in keys if counts[key] == 0),
        "longest_delay_after_fault_s": round(max(delays, default=0.0), 1),
        "notice_states": dict(states),
    }


# --- The faults ---------------------------------------------------------------------------------


def fault_worker(ctx, n: int) -> dict:
    worker = ctx["worker"]
    keys = create_notices("worker", n)
    wait_for(lambda: delivered(keys) >= n * 0.2, seconds=60)
    children = worker.children()
    if children:
        os.kill(children[0], signal.SIGKILL)  # one pool child, mid-delivery
    wait_for(lambda: delivered(keys) >= n * 0.5, seconds=60)
    worker.kill()  # the whole worker, with what it had taken from the queue
    keys += create_notices("worker-down", n // 4)
    time.sleep(2)
    worker.start()
    return settle(keys, time.time())


def fault_broker(ctx, n: int) -> dict:
    from ciie_portal.models import Notice

    redis = ctx["redis"]
    keys = create_notices("broker-before", n // 2, batch=n // 2)
    redis.kill()  # what it held is gone: it keeps nothing on disk
    down_since = time.time()
    keys += create_notices("broker-down", n // 2)
    payments = ctx["payments"]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda r: post(ctx["web"].port, *r), signed_requests(payments)))
    time.sleep(max(0.0, 10 - (time.time() - down_since)))
    redis.start()
    fault_end = time.time()
    keys += list(
        Notice.objects.filter(key__startswith="payment-received:").values_list("key", flat=True)
    )
    result = settle(keys, fault_end)
    statuses = Counter(status for status, _body, _seconds in answers)
    result["http_answers"] = {str(status): count for status, count in statuses.items()}
    result["http_500"] = statuses.get(500, 0)
    return result


def fault_database(ctx, n: int) -> dict:
    import psycopg
    from django.db import connection

    keys = create_notices("database", n)
    connection.ensure_connection()
    own = connection.connection.info.backend_pid
    name = connection.settings_dict["NAME"]
    stop = threading.Event()
    terminated = []

    def terminate():
        with psycopg.connect(ctx["admin_url"], autocommit=True) as admin:
            while not stop.is_set():
                rows = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid() AND pid <> %s",
                    [name, own],
                ).fetchall()
                terminated.append(len(rows))
                time.sleep(0.25)

    thread = threading.Thread(target=terminate, daemon=True)
    thread.start()
    time.sleep(8)
    stop.set()
    thread.join()
    result = settle(keys, time.time())
    result["connections_terminated"] = sum(terminated)
    return result


def fault_production(ctx, n: int) -> dict:
    from django.core.files.storage import default_storage
    from django.db import transaction
    from django.db.models import Count

    from benchmarks.produce_credentials import make_data as make_visitors
    from credentials.models import Credential, PrintBatch, ProductionJob
    from credentials.production.services import production_job_start
    from registration.models import Visitor

    made = {}
    make_visitors(made, token=secrets.token_hex(3), n=n, photos=2)
    edition = made["edition"]
    with transaction.atomic():
        job = production_job_start(edition=edition, actor=None, chunk_size=4)
    wait_for(
        lambda: ProductionJob.objects.filter(pk=job.pk, done__gt=0).exists(), seconds=60, step=0.02
    )
    ctx["worker"].kill()  # mid-job, probably mid-chunk
    time.sleep(2)
    ctx["worker"].start()
    fault_end = time.time()
    finished = wait_for(
        lambda: ProductionJob.objects.filter(pk=job.pk, status="done").exists(), seconds=120,
        step=0.5,
    )  # fmt: skip
    after = round(time.time() - fault_end, 1)
    job.refresh_from_db()
    active = Credential.objects.filter(edition=edition, status="active")
    per_visitor = Counter(
        active.values("visitor").annotate(n=Count("pk")).values_list("n", flat=True)
    )
    numbers = list(Credential.objects.filter(edition=edition).values_list("number", flat=True))
    recorded = set(
        Credential.objects.filter(edition=edition)
        .exclude(card_pdf="")
        .values_list("card_pdf", flat=True)
    )
    for sheet, manifest in PrintBatch.objects.filter(edition=edition).values_list(
        "sheet_pdf", "manifest"
    ):
        recorded.update([sheet, manifest])
    on_disk = set()
    stack = [f"credentials/{edition.number}"]
    while stack:
        current = stack.pop()
        if not default_storage.exists(current):
            continue
        dirs, files = default_storage.listdir(current)
        stack += [f"{current}/{d}" for d in dirs]
        on_disk.update(f"{current}/{f}" for f in files)
    return {
        "visitors": n,
        "job_status": job.status,
        "finished_by_itself": finished,
        "finished_after_fault_s": after if finished else None,
        "visitors_with_one_active_credential": per_visitor.get(1, 0),
        "visitors_with_more": sum(c for k, c in per_visitor.items() if k > 1),
        "reviewed_visitors_without": Visitor.objects.filter(
            edition=edition, status=Visitor.Status.REVIEW_PASSED
        )
        .exclude(pk__in=active.values("visitor"))
        .count(),
        "numbers_twice": len(numbers) - len(set(numbers)),
        "files_without_row": len(on_disk - recorded),
    }


def fault_shred(ctx, n: int) -> dict:
    from datetime import timedelta

    from django.core.files.storage import default_storage
    from django.db import transaction
    from django.utils import timezone

    from benchmarks.produce_credentials import make_data as make_visitors
    from ciie_portal.models import Edition, ShredJob
    from ciie_portal.retention import shred_start
    from registration.models import Visitor

    made = {}
    make_visitors(made, token=secrets.token_hex(3), n=n, photos=2)
    edition = made["edition"]
    # Distinct photo files per visitor, so that every one must go.
    for visitor in Visitor.objects.filter(edition=edition):
        with default_storage.open(visitor.photo.name, "rb") as source:
            name = default_storage.save(f"visitor-photos/shred-{visitor.pk}.jpg", source)
        Visitor.objects.filter(pk=visitor.pk).update(photo=name)
    photos = list(Visitor.objects.filter(edition=edition).values_list("photo", flat=True))
    ended = timezone.localdate() - timedelta(days=400)
    Edition.objects.filter(pk=edition.pk).update(starts_on=ended - timedelta(days=5), ends_on=ended)
    edition.refresh_from_db()
    organiser = _organiser()
    with transaction.atomic():
        job = shred_start(edition=edition, actor=organiser, confirm=str(edition.number))

    def first_chunk_done():
        progress = ShredJob.objects.get(pk=job.pk).progress
        return progress.get("registration.visitors", {}).get("done", 0) > 0

    wait_for(first_chunk_done, seconds=60, step=0.02)
    ctx["worker"].kill()  # mid-job, probably mid-chunk
    at_kill = ShredJob.objects.get(pk=job.pk)
    killed_at = at_kill.progress.get("registration.visitors", {})
    time.sleep(2)
    ctx["worker"].start()
    fault_end = time.time()
    finished = wait_for(
        lambda: ShredJob.objects.filter(pk=job.pk, status="done").exists(), seconds=120, step=0.5
    )
    after = round(time.time() - fault_end, 1)
    job.refresh_from_db()
    visitors = Visitor.objects.filter(edition=edition)
    return {
        "visitors": n,
        "job_status": job.status,
        "done_when_killed": killed_at.get("done", 0),
        "status_when_killed": at_kill.status,
        "finished_by_itself": finished,
        "finished_after_fault_s": after if finished else None,
        "visitors_with_id_number": visitors.exclude(id_number_encrypted="").count(),
        "visitors_with_mobile_or_photo": visitors.exclude(mobile="", photo="").count(),
        "photos_left": sum(default_storage.exists(name) for name in photos),
        "visitors_kept": visitors.count(),
        "archives": 1 if job.archive and default_storage.exists(job.archive) else 0,
        "jobs": ShredJob.objects.filter(edition=edition).count(),
    }


def _organiser():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user, _created = get_user_model().objects.get_or_create(
        username=f"faults-organiser-{secrets.token_hex(3)}", defaults={"is_staff": True}
    )
    user.user_permissions.add(Permission.objects.get(codename="shred_edition"))
    return get_user_model().objects.get(pk=user.pk)  # permissions read afresh


# --- Main -----------------------------------------------------------------------------------------


def configure_environment(folder: Path, database_url: str, redis_port: int) -> None:
    token = folder.name[-6:]
    os.environ.update(
        DJANGO_SETTINGS_MODULE="ciie_portal.settings",
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=f"redis://127.0.0.1:{redis_port}/0",
        CACHE_URL=f"redis://127.0.0.1:{redis_port}/1",
        CELERY_DEFAULT_QUEUE=f"faults-{token}",
        CELERY_BATCH_QUEUE=f"faults-batch-{token}",
        SMS_BACKEND="benchmarks.faults.CountingSmsBackend",
        EMAIL_BACKEND="benchmarks.faults.CountingEmailBackend",
        FAULTS_LOG=str(folder / "deliveries.log"),
        OUTBOX_DIR=str(folder / "outbox"),
        PRIVATE_MEDIA_ROOT=str(folder / "private"),
        SHRED_LEASE_SECONDS="8",
        SHRED_CHUNK="4",
        CIIE_VAR_DIR=str(folder / "var"),
        CIIE_ALLOW_LOCAL_KEYS="true",
        DJANGO_DEBUG="false",
        LOG_LEVEL="WARNING",
        PAYMENT_SANDBOX_ENABLED="true",
        PAYMENT_SANDBOX_SECRET=secrets.token_hex(16),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_COOKIES="false",
        PYTHONPATH=str(ROOT),
    )
    os.environ.pop("EMAIL_URL", None)


def report(results: dict) -> bool:
    ok = True
    print(f"{'fault':<11} {'expected':>8} {'once':>6} {'twice':>6} {'never':>6} {'delay s':>8}")
    for fault, figures in results.items():
        if fault in ("production", "shred"):
            continue
        line_ok = (
            figures["delivered_twice"] == 0
            and figures["never_delivered"] == 0
            and figures["longest_delay_after_fault_s"] <= MAX_DELAY
            and figures.get("http_500", 0) == 0
        )
        ok &= line_ok
        print(
            f"{fault:<11} {figures['expected']:>8} {figures['delivered_once']:>6} "
            f"{figures['delivered_twice']:>6} {figures['never_delivered']:>6} "
            f"{figures['longest_delay_after_fault_s']:>8}" + ("" if line_ok else "   FAILED")
        )
        if "http_answers" in figures:
            print(f"{'':<11} HTTP answers while the broker was down: {figures['http_answers']}")
    if "production" in results:
        p = results["production"]
        line_ok = (
            p["finished_by_itself"]
            and p["visitors_with_more"] == 0
            and p["reviewed_visitors_without"] == 0
            and p["numbers_twice"] == 0
            and p["files_without_row"] == 0
        )
        ok &= line_ok
        print(
            f"production: {p['visitors']} visitors, job {p['job_status']}, finished by itself "
            f"{p['finished_after_fault_s']} s after the fault; "
            f"{p['visitors_with_one_active_credential']} with one credential, "
            f"{p['visitors_with_more']} with more, {p['reviewed_visitors_without']} without; "
            f"{p['numbers_twice']} numbers twice; {p['files_without_row']} files without a row"
            + ("" if line_ok else "   FAILED")
        )
    if "shred" in results:
        s = results["shred"]
        line_ok = (
            s["finished_by_itself"]
            and s["visitors_with_id_number"] == s["visitors_with_mobile_or_photo"] == 0
            and s["photos_left"] == 0
            and s["visitors_kept"] == s["visitors"]
            and s["archives"] == s["jobs"] == 1
        )
        ok &= line_ok
        print(
            f"shred: {s['visitors']} visitors, killed after {s['done_when_killed']}, job "
            f"{s['job_status']}, finished by itself {s['finished_after_fault_s']} s after the "
            f"fault; {s['visitors_with_id_number']} with an ID number, "
            f"{s['visitors_with_mobile_or_photo']} with a mobile or photo, {s['photos_left']} "
            f"photos left, {s['visitors_kept']} visitors kept, {s['archives']} export"
            + ("" if line_ok else "   FAILED")
        )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notices", type=int, default=200, help="notices per fault")
    parser.add_argument("--visitors", type=int, default=64, help="visitors of the production job")
    parser.add_argument("--payments", type=int, default=20, help="notifications while down")
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--keep", action="store_true", help="keep the database and the folder")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    faults = [f for f in args.faults.split(",") if f]
    if unknown := set(faults) - set(FAULTS):
        sys.exit(f"Unknown faults: {', '.join(sorted(unknown))}")
    base_url = os.environ.get("DATABASE_URL", "")
    if urlsplit(base_url).scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (a database is created there).")
    if not shutil.which("redis-server"):
        sys.exit("redis-server is needed (the run starts, kills and restarts its own).")

    folder = Path(tempfile.mkdtemp(prefix="ciie-faults-"))
    name = f"{urlsplit(base_url).path.lstrip('/') or 'ciie'}_faults_{folder.name[-6:].lower()}"
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    database_create(base_url, name)
    redis = Redis(folder)
    processes = []
    try:
        configure_environment(folder, with_database(base_url, name), redis.port)
        import django

        django.setup()
        import logging

        from django.core.management import call_command

        logging.getLogger("celery").setLevel(logging.ERROR)
        logging.getLogger("kombu").setLevel(logging.ERROR)
        logging.getLogger("ciie_portal").setLevel(logging.ERROR)
        call_command("migrate", verbosity=0)
        redis.start()
        worker = celery_worker(folder)
        beat = Process(
            "beat",
            [
                sys.executable, "-m", "celery", "-A", "ciie_portal", "beat", "--loglevel=WARNING",
                "--schedule", str(folder / "celerybeat-schedule"),
            ],
            folder / "beat.log",
        )  # fmt: skip
        relay = Process(
            "relay", [sys.executable, "manage.py", "outbox_relay"], folder / "relay.log"
        )
        web = Gunicorn(workers=2, threads=1, log=folder / "web.log")
        processes = [worker, beat, relay, web]
        for process in (worker, beat, relay):
            process.start()
        wait_until_up(web, workers=2)
        ctx = {
            "redis": redis,
            "worker": worker,
            "web": web,
            "admin_url": with_database(base_url, name).replace("postgres://", "postgresql://", 1),
            "payments": make_data(args.payments) if "broker" in faults else [],
        }
        time.sleep(2)  # the worker is ready
        print(
            f"faults: {', '.join(faults)}; {args.notices} notices each; lease, sweep and relay "
            f"as configured (NOTICE_LEASE_SECONDS etc.); Redis without persistence"
        )
        results = {}
        for fault in faults:
            began = time.monotonic()
            if fault in ("production", "shred"):
                results[fault] = globals()[f"fault_{fault}"](ctx, args.visitors)
            else:
                results[fault] = globals()[f"fault_{fault}"](ctx, args.notices)
            results[fault]["seconds"] = round(time.monotonic() - began, 1)
        ok = report(results)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
    finally:
        for process in processes:
            process.stop()
        redis.stop()
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
