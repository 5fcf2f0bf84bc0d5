"""How many payment confirmations per minute the gateways' callback handles, against pgbench.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ciie python benchmarks/payment_notifications.py
        [--n 2000] [--concurrency 16] [--workers 3] [--threads 1] [--notices eager|queued]
        [--pgbench-seconds 10] [--profile] [--keep]

In a database of its own (``<name of DATABASE_URL's database>_paybench``, created and migrated
here, dropped at the end unless ``--keep``) it creates N pending credential orders of distinct
units, one visitor each, each with a started QR or B2B payment (bulk inserts). Then it starts
the real application under gunicorn (``DEBUG`` off, sandbox gateways on, a per-run
``PAYMENT_SANDBOX_SECRET`` handed to the server through its environment and used by the client
to sign) on a free port of 127.0.0.1 and posts the N signed sandbox notifications, one per
order, from C concurrent clients to ``/payments/notify/<provider>/`` — the view a real gateway
calls. It times all N, checks in the database that exactly N payments were confirmed and N
orders paid (exit 1 otherwise), and prints confirmations per minute against the target of 8,000.

It also prints the latency percentiles and the CPU the run took — server workers, their
PostgreSQL backends, the clients, and everything else the machine ran meanwhile (a shared
machine makes a noisy figure; that line says how noisy, with the share a virtual machine's host
took for others) — and from the CPU per confirmation the
rate this machine would reach if it ran nothing else. Without gunicorn (``--server wsgiref``)
the server runs in threads of this process, sharing its interpreter with the clients.

The floor: ``pgbench -N`` (simple update) with as many clients, on the same server, in a
scratch database that is dropped afterwards. The ratio says what share of the database's raw
transaction rate one confirmation reaches.

Notices: ``--notices eager`` (default) sends each order's "payment received" SMS and email to an
outbox in a temporary folder (in memory: ``outbox_folder``) inside the request, after the commit —
the embedded mode, where the web process pays for everything. ``--notices queued`` hands them to an
in-memory broker instead, as production hands them to Redis for the Celery workers (they stay
unsent).

Then one confirmation is posted in-process through the whole Django stack (middleware, URL, the
callback view) under ``CaptureQueriesContext`` — its SQL statements by kind, BEGIN and COMMIT and
the eager delivery of its notices included, against the target of 15 — and a serial in-process
run gives the
CPU cost of one confirmation without HTTP; ``--profile`` adds the statements themselves and a
cProfile summary. PostgreSQL only: SQLite serialises writers, its figure would mean nothing.
"""

import argparse
import contextlib
import glob
import http.client
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql", "postgis")
TARGET_PER_MINUTE = 8000
# SQL statements of one confirmation through the callback (BEGIN, COMMIT and, with eager
# notices, their delivery included) and CPU of the server side (gunicorn workers and their
# PostgreSQL backends) per confirmation.
TARGET_STATEMENTS = 15
TARGET_CPU_MS = 15.0
METHODS = ("qr_alipay", "qr_wechat", "qr_unionpay", "b2b")
FEE = Decimal("200.00")


def refuse(message: str) -> None:
    sys.stderr.write(f"{message}\n")
    sys.exit(2)


def fail(message: str) -> None:
    sys.stderr.write(f"ERROR: {message}\n")
    sys.exit(1)


# --- The outbox ---------------------------------------------------------------------------------


def outbox_folder(prefix: str, *, on_disk: bool = False) -> str:
    """A temporary folder for the run's outbox, in memory (``/dev/shm``) where there is one.

    The outbox stands in for the SMS gateway and the mail server: production hands notices to
    them over the network, not to files. On the machine the README's figures come from (ext4
    mounted with ``discard``), creating a file costs from 0.05 ms of CPU to 0.9 ms depending on
    the moment; the lock writes 400 of them, so the disk's moment would be measured as the
    portal's. The files are still written, whole, as ``make run`` writes them: only where they
    live differs. ``describe_outbox`` prints what a file costs there and on disk; ``on_disk``
    (``--outbox-on-disk``) puts the folder under the checkout's var/ instead."""
    if on_disk:
        (ROOT / "var").mkdir(exist_ok=True)
        return tempfile.mkdtemp(prefix=prefix, dir=ROOT / "var")
    memory = Path("/dev/shm")
    if memory.is_dir() and os.access(memory, os.W_OK):
        return tempfile.mkdtemp(prefix=prefix, dir=memory)
    return tempfile.mkdtemp(prefix=prefix)


def file_creation_ms(folder: str, *, count: int = 200) -> float:
    """CPU milliseconds to write one small file in ``folder`` as the outbox does (under a
    temporary name, then renamed)."""
    probe = Path(tempfile.mkdtemp(prefix="probe-", dir=folder))
    started = time.process_time()
    for number in range(count):
        path = probe / f"{number}.tmp"
        path.write_bytes(b"x" * 2000)
        os.replace(path, probe / f"{number}.eml")
    spent = time.process_time() - started
    shutil.rmtree(probe, ignore_errors=True)
    return spent / count * 1000


def describe_outbox(folder: str) -> str:
    """Where the outbox is and what writing one of its files costs there and on disk."""
    disk = ROOT / "var"
    disk.mkdir(exist_ok=True)
    return (
        f"outbox {folder}: {file_creation_ms(folder):.2f} ms CPU per file "
        f"(on disk, var/: {file_creation_ms(str(disk)):.2f} ms)"
    )


# --- The database server ------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def libpq_url(url: str) -> str:
    """django-environ's aliases (pgsql://, postgis://) are not libpq's."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def admin_connect(url: str):
    """A connection for CREATE/DROP DATABASE: to the maintenance database "postgres", as
    Django's test runner does (DATABASE_URL's own database need not exist)."""
    import psycopg

    try:
        return psycopg.connect(libpq_url(with_database(url, "postgres")), autocommit=True)
    except psycopg.OperationalError:
        return psycopg.connect(libpq_url(url), autocommit=True)


def database_exists(admin_url: str, name: str) -> bool:
    with admin_connect(admin_url) as conn:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        return conn.execute(query, [name]).fetchone() is not None


def database_create(admin_url: str, name: str) -> None:
    from psycopg import sql

    with admin_connect(admin_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_drop(admin_url: str, name: str) -> None:
    from psycopg import sql

    with admin_connect(admin_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


# --- Django in this process ----------------------------------------------------------------------


def configure_environment(
    *, bench_url: str, secret: str, outbox: str, notices: str, settings: str
) -> None:
    """The settings of this process and of the server it starts (which inherits them)."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE=settings,
        DATABASE_URL=bench_url,
        DJANGO_DEBUG="false",  # no query log growing with every request
        PAYMENT_SANDBOX_ENABLED="true",
        # Read by settings.PAYMENT_SANDBOX_SECRET in both processes: the client signs with
        # exactly the key the server verifies with.
        PAYMENT_SANDBOX_SECRET=secret,
        OUTBOX_DIR=outbox,
        SMS_BACKEND="ciie_portal.notices.backends.OutboxSmsBackend",
        EMAIL_BACKEND="ciie_portal.notices.backends.OutboxEmailBackend",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_COOKIES="false",  # else plain HTTP is redirected to HTTPS
        LOG_LEVEL="WARNING",
    )
    os.environ.setdefault("CIIE_ALLOW_LOCAL_KEYS", "true")
    os.environ.pop("EMAIL_URL", None)
    if notices == "eager":
        os.environ.pop("CELERY_BROKER_URL", None)
    else:
        # Never the environment's broker: its workers would deliver into another database.
        os.environ["CELERY_BROKER_URL"] = "memory://"


def setup_django() -> None:
    import logging

    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    logging.getLogger("celery").setLevel(logging.WARNING)
    logging.getLogger("kombu").setLevel(logging.ERROR)


def make_data(n: int) -> list:
    """N pending orders of N units (one visitor each), each with a started payment.
    Returns the payments with their orders attached."""
    from django.db import connection
    from django.utils import timezone

    from ciie_portal import crypto
    from ciie_portal.choices import Region, UnitCategory
    from ciie_portal.models import Edition, EntryPeriod
    from credentials.models import CredentialOrder, OrderLine
    from payments.models import Payment
    from registration.models import IdType, Label, PersonType, Pickup, Unit, Visitor

    now = timezone.now()
    today = timezone.localdate()
    edition = Edition.objects.create(
        number=(max(Edition.objects.values_list("number", flat=True), default=0) or 0) + 1,
        name="payment notification benchmark",
        starts_on=today + timedelta(days=200),
        ends_on=today + timedelta(days=205),
        registration_opens_at=now - timedelta(days=10),
        registration_closes_at=now + timedelta(days=150),
        transfer_deadline=now + timedelta(days=140),
        online_payment_deadline=now + timedelta(days=145),
    )
    period = EntryPeriod.objects.create(
        edition=edition,
        name="全程",
        first_day=edition.starts_on,
        last_day=edition.ends_on,
        fee=FEE,
    )
    units = Unit.objects.bulk_create(
        [
            Unit(
                edition=edition,
                region=Region.MAINLAND,
                category=UnitCategory.ENTERPRISE,
                name=f"支付基准单位 {i}",
                status=Unit.Status.APPROVED,
                contact_mobile=f"199{i:08d}",
                contact_email=f"unit{i}@paybench.invalid",
            )
            for i in range(n)
        ],
        batch_size=2000,
    )
    visitors = []
    for i, unit in enumerate(units):
        sealed = crypto.seal(f"E{i:08d}")
        visitors.append(
            Visitor(
                edition=edition,
                unit=unit,
                reference=f"P{i:08d}",
                person_type=PersonType.FOREIGN,
                id_type=IdType.PASSPORT,
                id_number_encrypted=sealed.encrypted,
                id_number_index=sealed.index,
                id_number_masked=sealed.masked,
                name=f"Bench Visitor {i}",
                label=Label.VISITOR,
                status=Visitor.Status.PENDING_PAYMENT,
                entry_period=period,
                pickup=Pickup.COURIER,
                submitted_at=now,
            )
        )
    Visitor.objects.bulk_create(visitors, batch_size=2000)
    stamp = timezone.localtime(now).strftime("%Y%m%d%H%M%S") + "000"
    orders = CredentialOrder.objects.bulk_create(
        [
            CredentialOrder(
                edition=edition,
                unit=unit,
                number=f"V{stamp}{i:06d}",
                total=FEE,
                created_at=now,
                expires_at=now + timedelta(hours=2),
            )
            for i, unit in enumerate(units)
        ],
        batch_size=2000,
    )
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                visitor=visitor,
                label=visitor.label,
                entry_period=period,
                pickup=visitor.pickup,
                fee=FEE,
            )
            for order, visitor in zip(orders, visitors, strict=True)
        ],
        batch_size=2000,
    )
    payments = Payment.objects.bulk_create(
        [
            Payment(order=order, method=METHODS[i % len(METHODS)], amount=FEE, created_at=now)
            for i, order in enumerate(orders)
        ],
        batch_size=2000,
    )
    earlier_notices(edition, units, now)
    with connection.cursor() as cursor:
        for table in (
            "registration_unit",
            "registration_visitor",
            "credentials_credentialorder",
            "credentials_orderline",
            "payments_payment",
            "ciie_portal_notice",
        ):
            cursor.execute(f"ANALYZE {table}")
    return payments


def earlier_notices(edition, units, now) -> None:
    """The notices each unit had before it paid (its sign-in code by SMS, the email saying its
    visitors were submitted), sent: a season's notices table is not empty when payments come.
    An empty one is planned for as one: a statement prepared on a worker's connection while
    the table is empty keeps its plan (a scan of the whole table) while the run fills it."""
    from ciie_portal.models import Notice

    earlier = now - timedelta(days=1)
    Notice.objects.bulk_create(
        [
            Notice(
                key=f"earlier:{unit.pk}:{channel}",
                event="earlier",
                channel=channel,
                recipient=unit.contact_mobile if channel == "sms" else unit.contact_email,
                template="submitted",
                params={"unit": unit.name},
                edition=edition,
                status=Notice.Status.SENT,
                attempts=1,
                sent_at=earlier,
            )
            for unit in units
            for channel in (Notice.Channel.SMS, Notice.Channel.EMAIL)
        ],
        batch_size=2000,
    )


def signed_requests(payments) -> list[tuple[str, bytes, str]]:
    """(path, body, signature) per payment, exactly as the sandbox gateway sends them."""
    from django.utils import timezone

    from payments.providers import provider_for, sandbox_sign

    paid_at = timezone.now()
    requests = []
    for payment in payments:
        provider = provider_for(payment.method)
        body = provider.notification_body(payment, succeeded=True, paid_at=paid_at)
        requests.append((f"/payments/notify/{provider.name}/", body, sandbox_sign(body)))
    return requests


# --- The server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children_of(pid: int) -> list[int]:
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.split("/")[2]))
    return found


def cpu_seconds(pids) -> float:
    """User + system CPU of processes (from /proc; those gone meanwhile count as 0)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


class CpuMeter(threading.Thread):
    """CPU seconds spent during the run by the server's worker processes and by the PostgreSQL
    backends of the benchmark database. Backends come and go (a worker reconnects once its
    connection is older than CONN_MAX_AGE), so they are sampled while the run lasts."""

    def __init__(self, *, workers: list[int], database_url: str):
        super().__init__(daemon=True)
        self.workers = workers
        self.url = libpq_url(database_url)
        self.seen: dict[int, list[float]] = {}  # pid: [CPU at start (0 if new), last CPU]
        self.done = threading.Event()

    def sample(self, conn, *, first: bool = False) -> None:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        for (pid,) in rows:
            cpu = cpu_seconds([pid])
            if pid in self.seen:
                self.seen[pid][1] = max(self.seen[pid][1], cpu)
            else:
                self.seen[pid] = [cpu if first else 0.0, cpu]

    def start(self) -> None:
        import psycopg

        self.conn = psycopg.connect(self.url, autocommit=True)
        self.sample(self.conn, first=True)
        self.app_start = cpu_seconds(self.workers)
        super().start()

    def run(self) -> None:
        while not self.done.wait(0.25):
            self.sample(self.conn)

    def stop(self) -> tuple[float, float]:
        """(app workers' CPU seconds, PostgreSQL backends' CPU seconds) since start()."""
        app = cpu_seconds(self.workers) - self.app_start
        self.done.set()
        self.join()
        self.sample(self.conn)
        self.conn.close()
        return app, sum(last - first for first, last in self.seen.values())


def machine_busy() -> tuple[int, int, int]:
    """(busy, total, stolen) jiffies of all CPUs since boot. Stolen: time a virtual machine's
    CPUs waited for the host, which ran something else."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    values = (values + [0] * 8)[:8]  # user nice system idle iowait irq softirq steal
    idle = values[3] + values[4]
    return sum(values) - idle - values[7], sum(values), values[7]


class Gunicorn:
    def __init__(self, *, workers: int, threads: int, log: Path):
        self.port = free_port()
        self.log = log
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "ciie_portal.wsgi:application",
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={workers}",
            f"--threads={threads}",
            "--log-level=warning",
            "--timeout=120",
        ]
        if os.path.isdir("/dev/shm"):
            command.append("--worker-tmp-dir=/dev/shm")  # as in production (Dockerfile)
        self.describe = f"gunicorn, {workers} worker processes × {threads} thread(s)"
        with open(log, "wb") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                command, cwd=ROOT, env=os.environ.copy(), stdout=out, stderr=subprocess.STDOUT
            )

    def workers(self) -> list[int]:
        return children_of(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def exited(self) -> bool:
        return self.process.poll() is not None


class ThreadedWsgiref:
    """Fallback when gunicorn cannot be imported: wsgiref, one thread per request, in this
    process (the clients share its interpreter lock, so the figure is pessimistic)."""

    def __init__(self, **_):
        from socketserver import ThreadingMixIn
        from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

        from django.core.wsgi import get_wsgi_application

        class Server(ThreadingMixIn, WSGIServer):
            daemon_threads = True
            request_queue_size = 256

        class QuietHandler(WSGIRequestHandler):
            def log_message(self, *args):
                pass

        self.port = free_port()
        self.describe = "wsgiref, one thread per request, in this process"
        self.server = make_server(
            "127.0.0.1", self.port, get_wsgi_application(), Server, QuietHandler
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.log = None

    def workers(self) -> list[int]:
        return []

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def exited(self) -> bool:
        return not self.thread.is_alive()


def get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def wait_until_up(server, *, workers: int) -> None:
    deadline = time.monotonic() + 90
    while True:
        if server.exited():
            log = server.log.read_text(errors="replace") if server.log else ""
            fail(f"the server stopped while starting:\n{log[-3000:]}")
        try:
            if get(server.port, "/healthz") == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            fail("the server did not answer /healthz within 90 s")
        time.sleep(0.3)
    # Let every worker connect to the database and import the views before the clock runs.
    with ThreadPoolExecutor(max(workers * 2, 4)) as pool:
        list(pool.map(lambda _: get(server.port, "/healthz"), range(workers * 8)))


def post(port: int, path: str, body: bytes, signature: str) -> tuple[int, bytes, float]:
    from payments.providers import SIGNATURE_HEADER

    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
        )
        response = conn.getresponse()
        status, text = response.status, response.read()
    except OSError as error:
        status, text = 0, repr(error).encode()
    finally:
        conn.close()
    return status, text, time.perf_counter() - start


def post_all(port: int, requests, concurrency: int) -> tuple[float, list]:
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda r: post(port, *r), requests))
    return time.perf_counter() - start, results


# --- Checks and the in-process profile ---------------------------------------------------------


def verify(payments) -> list[str]:
    from credentials.models import CredentialOrder
    from payments.models import Payment, PaymentNotification
    from registration.models import Visitor

    n = len(payments)
    payment_ids = [p.pk for p in payments]
    order_ids = [p.order_id for p in payments]
    problems = []
    confirmed = Payment.objects.filter(pk__in=payment_ids, status=Payment.Status.CONFIRMED)
    paid = CredentialOrder.objects.filter(pk__in=order_ids, status=CredentialOrder.Status.PAID)
    checks = [
        ("payments confirmed", confirmed.count()),
        ("orders paid", paid.count()),
        # Nothing else was confirmed or paid either: the database holds only this run.
        (
            "payments confirmed in all",
            Payment.objects.filter(status=Payment.Status.CONFIRMED).count(),
        ),
        (
            "orders paid in all",
            CredentialOrder.objects.filter(status=CredentialOrder.Status.PAID).count(),
        ),
        (
            "notifications recorded as confirmed",
            PaymentNotification.objects.filter(
                payment_id__in=payment_ids, result=PaymentNotification.Result.CONFIRMED
            ).count(),
        ),
        (
            "visitors awaiting review",
            Visitor.objects.filter(
                order_lines__order_id__in=order_ids, status=Visitor.Status.PENDING_REVIEW
            ).count(),
        ),
    ]
    for what, count in checks:
        if count != n:
            problems.append(f"{count} {what}, expected {n}")
    flagged = Payment.objects.filter(pk__in=payment_ids, flagged=True).count()
    if flagged:
        problems.append(f"{flagged} payments flagged for finance")
    return problems


def notices_summary(order_ids) -> str:
    from ciie_portal.models import Notice

    keys = [f"payment-received:{pk}:{channel}" for pk in order_ids for channel in ("sms", "email")]
    counts = Counter()
    for i in range(0, len(keys), 5000):
        counts.update(
            Notice.objects.filter(key__in=keys[i : i + 5000]).values_list("status", flat=True)
        )
    return ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "none"


def capture_one(payment) -> tuple[list[dict], float]:
    """The statements of one confirmation posted through the real callback view (the whole
    request: middleware, URL resolution, view, the commit and what runs after it), in-process,
    with the time it took."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from payments.models import PaymentNotification
    from payments.providers import SIGNATURE_HEADER

    [(path, body, signature)] = signed_requests([payment])
    client = Client(HTTP_HOST="127.0.0.1")
    with CaptureQueriesContext(connection) as captured:
        start = time.perf_counter()
        response = client.post(
            path, body, content_type="application/json", headers={SIGNATURE_HEADER: signature}
        )
        elapsed = time.perf_counter() - start
    if response.status_code != 200 or response.content != b"success":
        fail(f"the probe request was answered {response.status_code} {response.content[:80]!r}")
    record = PaymentNotification.objects.get(payment=payment)
    if record.result != "confirmed":
        fail(f"the probe confirmation ended {record.result!r}: {record.detail}")
    return captured.captured_queries, elapsed


def statement_kind(sql: str) -> str:
    word = sql.lstrip().split(None, 1)[0].upper()
    if word == "SELECT" and "FOR UPDATE" in sql.upper():
        return "SELECT … FOR UPDATE"
    if word in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
        return "SAVEPOINT/RELEASE"
    return word


def serial_run(payments) -> tuple[float, float]:
    """Seconds per confirmation called in-process one after another (no HTTP), and the CPU
    seconds of this process per confirmation."""
    from payments.providers import SIGNATURE_HEADER
    from payments.services import payment_notification_handle

    requests = signed_requests(payments)
    cpu = time.process_time()
    start = time.perf_counter()
    for path, body, signature in requests:
        provider = path.rstrip("/").rsplit("/", 1)[1]
        payment_notification_handle(
            provider=provider, body=body, headers={SIGNATURE_HEADER: signature}
        )
    n = len(requests)
    return (time.perf_counter() - start) / n, (time.process_time() - cpu) / n


# --- pgbench ------------------------------------------------------------------------------------


def find_pgbench() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"), key=_version_key)
    return found[-1] if found else shutil.which("pgbench")


def _version_key(path: str):
    match = re.search(r"/postgresql/(\d+)", path)
    return int(match.group(1)) if match else 0


def pgbench_tps(admin_url: str, name: str, *, clients: int, seconds: int) -> float:
    binary = find_pgbench()
    if binary is None:
        fail("pgbench not found (ls /usr/lib/postgresql/*/bin/pgbench)")
    parts = urlsplit(admin_url)
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    connection = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    if parts.username:
        connection += ["-U", unquote(parts.username)]
    if database_exists(admin_url, name):
        database_drop(admin_url, name)
    database_create(admin_url, name)
    try:
        subprocess.run(  # noqa: S603 - the installed pgbench, our arguments
            [binary, "-i", "-s", "1", "-q", *connection, name],
            env=env,
            check=True,
            capture_output=True,
        )
        run = subprocess.run(  # noqa: S603
            [binary, "-N", "-c", str(clients), "-j", "2", "-T", str(seconds), *connection, name],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        database_drop(admin_url, name)
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", run.stdout)
    if not match:
        fail(f"cannot read pgbench's output:\n{run.stdout}")
    return float(match.group(1))


# --- Main ---------------------------------------------------------------------------------------


def percentile(values, share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * share), len(ordered) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="notifications (orders) to confirm")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument(
        "--workers",
        type=int,
        # As docker-compose.yml runs the web service (gunicorn reads WEB_CONCURRENCY).
        default=int(os.environ.get("WEB_CONCURRENCY") or 3),
        help="gunicorn worker processes (default: $WEB_CONCURRENCY or 3, as docker-compose)",
    )
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--server", choices=["gunicorn", "wsgiref"], default=None)
    parser.add_argument("--notices", choices=["eager", "queued"], default="eager")
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--serial", type=int, default=100, help="in-process serial calls")
    parser.add_argument("--profile", action="store_true", help="print statements and cProfile")
    parser.add_argument(
        "--outbox-on-disk", action="store_true", help="the outbox under var/, not in memory"
    )
    parser.add_argument(
        "--settings",
        default="ciie_portal.settings",
        help="Django settings module of this process and the server (to try a variant)",
    )
    parser.add_argument(
        "--database", help="benchmark database (default: <DATABASE_URL's>_paybench)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--replace", action="store_true", help="drop a leftover benchmark database")
    args = parser.parse_args()

    admin_url = os.environ.get("DATABASE_URL", "")
    if urlsplit(admin_url).scheme not in POSTGRES_SCHEMES:
        refuse(
            "This benchmark needs PostgreSQL: set DATABASE_URL=postgres://user@host:5432/db "
            "(the benchmark creates and drops a database of its own next to that one). SQLite "
            "serialises writers, so its figure would mean nothing for production."
        )
    if args.n < 1 or args.concurrency < 1:
        refuse("--n and --concurrency must be at least 1")
    server_kind = args.server
    if server_kind is None:
        import importlib.util

        server_kind = "gunicorn" if importlib.util.find_spec("gunicorn") else "wsgiref"
    base = urlsplit(admin_url).path.lstrip("/") or "postgres"
    name = args.database or f"{base}_paybench"
    if name in (base, "postgres", "template0", "template1"):
        refuse(f"--database {name}: the benchmark drops its database at the end; name another.")
    try:
        exists = database_exists(admin_url, name)
    except Exception as error:  # noqa: BLE001 - any connection failure ends here
        refuse(f"Cannot reach PostgreSQL at DATABASE_URL: {error}")
    if exists and not args.replace:
        refuse(f"Database {name} exists (a --keep or a crashed run?): drop it or pass --replace.")
    if exists:
        database_drop(admin_url, name)

    secret = secrets.token_hex(32)
    extra = 2 + args.serial  # the captured confirmation (after a warm one), the serial run
    outbox = outbox_folder("paybench-outbox-", on_disk=args.outbox_on_disk)
    log = Path(tempfile.mkstemp(prefix="paybench-server-", suffix=".log")[1])
    configure_environment(
        bench_url=with_database(admin_url, name),
        secret=secret,
        outbox=outbox,
        notices=args.notices,
        settings=args.settings,
    )
    if server_kind == "wsgiref":
        os.environ["DB_CONN_MAX_AGE"] = "0"  # one thread per request: nothing to reuse
    database_create(admin_url, name)
    server = None
    try:
        setup_django()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        if secret != settings.PAYMENT_SANDBOX_SECRET or settings.DEBUG:
            fail("settings did not take PAYMENT_SANDBOX_SECRET / DJANGO_DEBUG from the environment")
        started = time.perf_counter()
        print(f"database {name}: migrating …", flush=True)
        call_command("migrate", verbosity=0, interactive=False)
        print(f"  {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        print(
            f"creating {args.n + extra} pending orders with a started payment "
            "(and the notices their units had earlier) …",
            flush=True,
        )
        payments = make_data(args.n + extra)
        timed, spare = payments[: args.n], payments[args.n :]
        requests = signed_requests(timed)
        print(f"  {time.perf_counter() - started:.1f} s", flush=True)
        connections.close_all()

        if server_kind == "gunicorn":
            server = Gunicorn(workers=args.workers, threads=args.threads, log=log)
        else:
            server = ThreadedWsgiref()
        print(f"server: {server.describe}, port {server.port}; notices {args.notices}", flush=True)
        print(f"  {describe_outbox(outbox)}", flush=True)
        wait_until_up(server, workers=args.workers)

        meter = CpuMeter(workers=server.workers(), database_url=with_database(admin_url, name))
        own = resource.getrusage(resource.RUSAGE_SELF)
        busy_before = machine_busy()
        meter.start()

        print(f"posting {args.n} notifications from {args.concurrency} clients …", flush=True)
        with open(os.devnull, "w") as quiet, contextlib.ExitStack() as stack:
            if server_kind == "wsgiref":  # the server's outbox would print every notice here
                stack.enter_context(contextlib.redirect_stdout(quiet))
            seconds, results = post_all(server.port, requests, args.concurrency)

        app_cpu, db_cpu = meter.stop()
        busy_after = machine_busy()
        own_after = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = (own_after.ru_utime + own_after.ru_stime) - (own.ru_utime + own.ru_stime)
        server.stop()

        answers = Counter((status, text) for status, text, _ in results)
        latencies = [latency for *_, latency in results]
        rate = args.n / seconds
        print(f"  {seconds:.2f} s for {args.n}: {rate:.1f}/s = {rate * 60:,.0f} confirmations/min")
        print(
            f"  latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms"
        )
        print(
            "  answers: "
            + ", ".join(
                f"{count} × {status} {text[:40]!r}" for (status, text), count in answers.items()
            )
        )
        jiffies = max(busy_after[1] - busy_before[1], 1)
        busy = (busy_after[0] - busy_before[0]) / jiffies
        stolen = (busy_after[2] - busy_before[2]) / jiffies
        # Everything else the machine ran meanwhile (other people's tests, PostgreSQL's own
        # background processes): a large figure means a noisy measurement.
        others = max(busy * seconds * (os.cpu_count() or 1) - app_cpu - db_cpu - client_cpu, 0)
        if server_kind == "gunicorn":
            ours = (
                f"app workers {app_cpu:.1f} s ({app_cpu / args.n * 1000:.1f} ms per "
                f"confirmation), clients {client_cpu:.1f} s"
            )
        else:
            ours = f"server and clients (this process) {client_cpu:.1f} s"
        print(
            f"  CPU during the run: {ours}, their PostgreSQL backends {db_cpu:.1f} s "
            f"({db_cpu / args.n * 1000:.1f} ms per confirmation), anything else "
            f"{others:.1f} s; machine {busy:.0%} busy on {os.cpu_count()} CPUs, "
            f"{stolen:.0%} stolen by the host"
        )
        # What the machine could do if it ran nothing else: its CPUs divided by the CPU one
        # confirmation takes (server, database and client), the figure least moved by others.
        per_confirmation = (app_cpu + db_cpu + client_cpu) / args.n
        capacity = (os.cpu_count() or 1) / per_confirmation * 60
        print(
            f"  CPU per confirmation {per_confirmation * 1000:.1f} ms in all: this machine, "
            f"if it ran nothing else, would confirm about {capacity:,.0f}/min"
        )

        problems = verify(timed)
        print(f"  notices 'payment received': {notices_summary([p.order_id for p in timed])}")
        if answers.get((200, b"success"), 0) != args.n:
            problems.append(f"{args.n - answers.get((200, b'success'), 0)} answers not 200 success")
        if problems:
            if server.log and server.log.exists():
                sys.stderr.write(server.log.read_text(errors="replace")[-3000:])
            fail("; ".join(problems))
        print(f"  checked: {args.n} payments confirmed, {args.n} orders paid, visitors moved")

        print("one confirmation through the callback view, in-process (warm caches):", flush=True)
        # The outbox backends also print every notice: keep the figures readable.
        quiet = open(os.devnull, "w")  # noqa: SIM115 - closed below
        with contextlib.redirect_stdout(quiet):
            capture_one(spare[0])  # fills the per-process caches (content types, templates)
            queries, elapsed = capture_one(spare[1])
        kinds = Counter(statement_kind(q["sql"]) for q in queries)
        db_time = sum(float(q["time"]) for q in queries)
        statements = len(queries)
        print(
            f"  {statements} SQL statements ("
            + ", ".join(f"{count} {kind}" for kind, count in kinds.most_common())
            + f"); {elapsed * 1000:.1f} ms, of which {db_time * 1000:.1f} ms waiting for SQL"
        )
        if args.profile:
            for q in queries:
                print(f"    {float(q['time']) * 1000:6.2f} ms  {q['sql'][:150]}")
        if args.serial:
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
            with contextlib.redirect_stdout(quiet):
                per_call, per_call_cpu = serial_run(spare[2:])
            if args.profile:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)
            print(
                f"  {args.serial} in a row, in-process: {per_call * 1000:.1f} ms each, "
                f"{per_call_cpu * 1000:.1f} ms CPU of Python each "
                f"(one process alone: {60 / per_call:,.0f}/min)"
            )
        quiet.close()
        connections.close_all()

        print(f"pgbench -N, {args.concurrency} clients, {args.pgbench_seconds} s …", flush=True)
        tps = pgbench_tps(
            admin_url, f"{name}_pgbench", clients=args.concurrency, seconds=args.pgbench_seconds
        )
        print(f"  {tps:,.0f} TPS")

        server_cpu_ms = (app_cpu + db_cpu) / args.n * 1000
        checks = [
            (
                f"{rate * 60:,.0f} confirmations/min ≥ {TARGET_PER_MINUTE:,}",
                rate * 60 >= TARGET_PER_MINUTE,
            ),
            (f"{statements} SQL statements ≤ {TARGET_STATEMENTS}", statements <= TARGET_STATEMENTS),
            (
                f"{server_cpu_ms:.1f} ms CPU per confirmation (workers + PostgreSQL) ≤ "
                f"{TARGET_CPU_MS:.0f}",
                server_cpu_ms <= TARGET_CPU_MS,
            ),
        ]
        print(
            f"confirmations: {rate * 60:,.0f}/min ({rate:.1f}/s); pgbench -N: {tps:,.0f} TPS; "
            f"ratio {rate / tps:.3f}; {statements} statements each; "
            f"{server_cpu_ms:.1f} ms server CPU each"
        )
        for text, met in checks:
            print(f"  target {text}: {'met' if met else 'NOT met'}")
    finally:
        if server is not None:
            server.stop()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001, S110 - Django may not have started
            pass
        if args.keep:
            print(f"database {name} kept")
        else:
            database_drop(admin_url, name)
            print(f"database {name} dropped")
        shutil.rmtree(outbox, ignore_errors=True)
        log.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
