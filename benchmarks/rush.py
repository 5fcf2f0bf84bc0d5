"""The registration rush: unit contacts registering their visitors at once, against /healthz.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ciie flock /tmp/bench.lock \\
        python benchmarks/rush.py [--users 10,25,50] [--units 3000] [--seconds 30]
        [--pages landing,login] [--pages-users 50] [--workers 3] [--language zh-hans] [--keep]

In a database of its own (``<name of DATABASE_URL's database>_rush``, created and migrated here,
dropped at the end unless ``--keep``) it creates a current edition with its registration open
(with a privacy policy in force) and N units whose information is saved, each with its
contact's account (an Argon2id password hash made by the portal's own hasher) that accepted
the policy. It starts the real application under gunicorn (3 worker
processes, ``DEBUG`` off) on a free port of 127.0.0.1, and for each number of users U:

* **the floor**: U clients GET ``/healthz`` (the cheapest request of the same server) for the
  same time;
* **the rush**: U clients each take a fresh unit and walk its contact's journey through the real
  pages, with a real cookie jar and the CSRF token as a browser sends them — sign-in page, sign
  in, dashboard, visitor list, three times (the add form, the visitor added with a photo, the
  list), submit the three visitors with the pledge and their consent, the list, the preview of
  the submission, confirm the unit, the dashboard — then the next unit, until the time is up.

It prints visitors submitted per second (checked in the database: every unit of a finished
journey submitted with its three submitted visitors) while all users are at work — they start
one after the other over the phase's first tenth, as real users do rather than in step; the
rate counts the submissions from the end of its first fifth to its end (after which users
finish their journey and stop, fewer and fewer) — and over the whole run with its ramp and
tail, requests per second, p50/p95/p99 per page,
the errors (an answer other than the one a browser would get), and the CPU the gunicorn workers
spent per request (from /proc) with its ratio to the floor's. Then ``--pages``: the landing page
and the sign-in page each under ``--pages-users`` clients, against the floor at the same
concurrency. The targets (README, "Performance") are printed as met or NOT met; the exit status
is 1 when a journey went wrong.
"""

import argparse
import http.client
import io
import os
import re
import resource
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from payment_notifications import (  # noqa: E402 - the benchmarks' shared helpers
    POSTGRES_SCHEMES,
    CpuMeter,
    Gunicorn,
    database_create,
    database_drop,
    database_exists,
    describe_outbox,
    fail,
    machine_busy,
    outbox_folder,
    percentile,
    refuse,
    wait_until_up,
    with_database,
)

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Rush#2026-visitors"  # noqa: S105 - the benchmark's own accounts
VISITORS_PER_JOURNEY = 3
TARGET_VISITORS_PER_SECOND = 30
TARGET_P95_MS = 500
TARGET_AT_USERS = 25
TARGET_CPU_RATIO = 10
TARGET_PAGE_SHARE = 0.5
SUBMIT_PAGE = "submit visitors"
#: The users of a journey phase start one after the other over its first tenth, and the
#: first fifth is its warm-up for the steady rate (``Tally.steady_rate``).
RAMP_SHARE = 0.1
WARM_UP_SHARE = 0.2


# --- The data -----------------------------------------------------------------------------------


def configure_environment(*, bench_url: str, media: str, outbox: str, static: str) -> None:
    """The settings of this process and of the server it starts (which inherits them)."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="ciie_portal.settings",
        DATABASE_URL=bench_url,
        DJANGO_DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_COOKIES="false",  # else plain HTTP is redirected to HTTPS
        LOG_LEVEL="WARNING",
        PRIVATE_MEDIA_ROOT=media,
        STATIC_ROOT=static,  # collected here, as the production image does
        OUTBOX_DIR=outbox,
        # The rush is the web tier's: notices are queued (an in-memory broker, as production
        # hands them to Redis) instead of sent inside the request.
        CELERY_BROKER_URL="memory://",
    )
    os.environ.setdefault("CIIE_ALLOW_LOCAL_KEYS", "true")
    os.environ.pop("EMAIL_URL", None)
    # A shared cache as production has it (Redis), when there is one: the sign-in ceilings and
    # cached pages then behave across the three workers as they do in production.
    os.environ.setdefault("CACHE_URL", "redis://127.0.0.1:6379/7")


def setup_django() -> None:
    import logging

    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    logging.getLogger("celery").setLevel(logging.WARNING)
    logging.getLogger("kombu").setLevel(logging.ERROR)


def make_data(n: int, *, earlier: int = 0):
    """A current edition open for registration and N units ready for their visitors: draft,
    information saved, no delegation review needed before submitting (``ready_unit`` of the
    browser journey), and ``earlier`` visitors of other units (``earlier_visitors``). Returns
    (edition, [(unit id, login name)])."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from ciie_portal.choices import Region, UnitCategory
    from ciie_portal.models import Edition, EntryPeriod, PrivacyPolicy
    from registration.models import ConsentRecord, Unit, User

    now = timezone.now()
    today = timezone.localdate()
    Edition.objects.filter(is_current=True).update(is_current=False)
    edition = Edition.objects.create(
        number=(max(Edition.objects.values_list("number", flat=True), default=0) or 0) + 1,
        name="第99届中国国际进口博览会",
        starts_on=today + timedelta(days=200),
        ends_on=today + timedelta(days=205),
        registration_opens_at=now - timedelta(days=10),
        registration_closes_at=now + timedelta(days=150),
        transfer_deadline=now + timedelta(days=140),
        online_payment_deadline=now + timedelta(days=145),
        auto_approve_categories=[],
        is_current=True,
    )
    EntryPeriod.objects.create(
        edition=edition,
        name="全程",
        first_day=edition.starts_on,
        last_day=edition.ends_on,
        fee=Decimal("200.00"),
    )
    EntryPeriod.objects.create(
        edition=edition,
        name="后三天",
        first_day=edition.ends_on,
        last_day=edition.ends_on,
        fee=Decimal("100.00"),
    )
    # One real hash of the portal's hasher, its cost paid at every sign-in as in production.
    encoded = make_password(PASSWORD)
    users = User.objects.bulk_create(
        [User(username=f"RUSH{i:08d}", password=encoded, mobile=f"199{i:08d}") for i in range(n)],
        batch_size=2000,
    )
    units = Unit.objects.bulk_create(
        [
            Unit(
                edition=edition,
                account=user,
                region=Region.MAINLAND,
                category=UnitCategory.ENTERPRISE,
                name=f"进博会抢注测试贸易有限公司{i}",
                uscc=user.username,
                contact_name="陈联络",
                contact_mobile=user.mobile,
                contact_email=f"unit{i}@rush.invalid",
                info_saved_at=now,
            )
            for i, user in enumerate(users)
        ],
        batch_size=2000,
    )
    # The privacy policy in force, accepted by every account at its registration: each of
    # their requests checks that (registration.consent), as in production.
    policy = PrivacyPolicy.objects.create(
        edition=edition,
        version=1,
        text_zh="隐私政策。",
        text_en="Privacy policy.",
        published_at=now - timedelta(days=10),
    )
    ConsentRecord.objects.bulk_create(
        [ConsentRecord(user=user, policy=policy, accepted_at=now) for user in users],
        batch_size=2000,
    )
    earlier_visitors(edition, earlier, now)
    with connection.cursor() as cursor:
        for table in (
            "registration_user",
            "registration_unit",
            "registration_consentrecord",
            "registration_visitor",
        ):
            cursor.execute(f"ANALYZE {table}")
    return edition, [(unit.pk, unit.uscc) for unit in units]


# Visitors of each unit that registered before the rush.
EARLIER_PER_UNIT = 20


def earlier_visitors(edition, count: int, now) -> None:
    """``count`` visitors submitted before the rush by other units (20 each): a season's visitors
    table is not empty when the rush comes. An empty one is planned for as one: a statement
    prepared on a worker's connection while the table is empty keeps its plan (a scan of the
    whole table) while the rush fills it."""
    from ciie_portal import crypto
    from ciie_portal.choices import Region, UnitCategory
    from registration.models import IdType, Label, PersonType, Unit, Visitor

    if count <= 0:
        return
    units = Unit.objects.bulk_create(
        [
            Unit(
                edition=edition,
                region=Region.MAINLAND,
                category=UnitCategory.ENTERPRISE,
                name=f"早前登记的单位{i}",
                status=Unit.Status.SUBMITTED,
                contact_mobile=f"198{i:08d}",
                contact_email=f"earlier{i}@rush.invalid",
                info_saved_at=now,
            )
            for i in range(-(-count // EARLIER_PER_UNIT))
        ],
        batch_size=2000,
    )
    visitors = []
    for i in range(count):
        sealed = crypto.seal(f"E{i:08d}")
        visitors.append(
            Visitor(
                edition=edition,
                unit=units[i // EARLIER_PER_UNIT],
                person_type=PersonType.FOREIGN,
                id_type=IdType.PASSPORT,
                id_number_encrypted=sealed.encrypted,
                id_number_index=sealed.index,
                id_number_masked=sealed.masked,
                name=f"Earlier Visitor {i}",
                label=Label.VISITOR,
                status=Visitor.Status.SUBMITTED,
                submitted_at=now,
            )
        )
    Visitor.objects.bulk_create(visitors, batch_size=2000)


def photo_bytes() -> bytes:
    """A passport photo the portal accepts: 413×531, white background (as the browser test's)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (413, 531), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((124, 80, 289, 292), fill=(90, 70, 60))
    draw.rectangle((62, 320, 351, 531), fill=(40, 50, 80))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def resident_id(n: int) -> str:
    """A valid, distinct mainland ID number for the n-th mainland visitor."""
    from registration.validators import resident_id_check_char

    birth = date(1970, 1, 1) + timedelta(days=n // 1000)
    body = f"310101{birth:%Y%m%d}{n % 1000:03d}"
    return body + resident_id_check_char(body)


# --- The client ---------------------------------------------------------------------------------


class Browser:
    """One user: a cookie jar and the CSRF token, one HTTP connection per request (gunicorn's
    sync workers close every connection after its answer, as behind the production proxy)."""

    def __init__(self, port: int, language: str, record):
        self.port, self.language, self.record = port, language, record
        self.cookies: dict[str, str] = {}

    def request(self, page: str, method: str, path: str, *, body=b"", content_type=None):
        headers = {"Accept-Language": self.language}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method == "POST":
            headers["Content-Type"] = content_type or "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
            headers["Referer"] = f"http://127.0.0.1:{self.port}{path}"
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            status, text = response.status, response.read()
            location = response.getheader("Location", "")
            for header, value in response.getheaders():
                if header.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    self.cookies[name.strip()] = rest.split(";", 1)[0]
        except OSError as error:
            status, text, location = 0, repr(error).encode(), ""
        finally:
            conn.close()
        self.record(page, time.perf_counter() - start, status)
        return status, text, location

    def get(self, page: str, path: str, *, expect: int = 200) -> bytes:
        status, text, _ = self.request(page, "GET", path)
        if status != expect:
            raise JourneyError(page, status, text)
        return text

    def post(self, page: str, path: str, fields, *, files=None, redirect_to: str) -> None:
        if files:
            boundary = secrets.token_hex(16)
            body, content_type = (
                multipart(fields, files, boundary),
                (f"multipart/form-data; boundary={boundary}"),
            )
        else:
            body, content_type = urlencode(fields, doseq=True).encode(), None
        status, text, location = self.request(
            page, "POST", path, body=body, content_type=content_type
        )
        if status != 302 or urlsplit(location).path != redirect_to:
            raise JourneyError(page, status, text, location)


def multipart(fields, files, boundary: str) -> bytes:
    out = io.BytesIO()
    for name, value in fields:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(str(value).encode() + b"\r\n")
    for name, (filename, content, kind) in files.items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'.encode()
        )
        out.write(content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


class JourneyError(Exception):
    def __init__(self, page, status, text=b"", location=""):
        super().__init__(f"{page}: {status} {location} {text[:200]!r}")
        self.page = page


VISITOR_CHECKBOX = re.compile(rb'name="visitor" value="(\d+)"')


def visitor_fields(kind: str, n: int, period_id: int):
    common = [
        ("sex", "M" if n % 2 else "F"),
        ("job_category", "purchasing"),
        ("position", "采购经理"),
        ("mobile", f"139{n % 100_000_000:08d}"),
        ("entry_period", period_id),
        ("pickup", "delegation"),
    ]
    if kind == "mainland":
        birth = resident_id(n)[6:14]
        return [
            ("name", f"李明{n}"),
            ("birth_date", f"{birth[:4]}-{birth[4:6]}-{birth[6:]}"),
            ("id_type", "resident_id"),
            ("id_number", resident_id(n)),
            *common,
        ]
    return [
        ("surname_en", "Smith"),
        ("given_name_en", f"John {n}"),
        ("permit_name", f"SMITH JOHN {n}"),
        ("birth_date", "1980-01-01"),
        ("nationality", "DE"),
        ("id_type", "passport"),
        ("id_number", f"C{n:08d}"),
        *common,
    ]


def journey(browser: Browser, login: str, number: int, period_id: int, photo: bytes) -> None:
    """One unit contact's registration, as a browser walks it."""
    browser.get("login page", "/accounts/login/")
    browser.post(
        "sign in",
        "/accounts/login/",
        [("username", login), ("password", PASSWORD)],
        redirect_to="/accounts/",
    )
    browser.get("dashboard", "/accounts/")
    browser.get("visitor list", "/accounts/visitors/")
    for k, kind in enumerate(("mainland", "foreign", "foreign")):
        browser.get("add form", f"/accounts/visitors/add/{kind}/")
        fields = visitor_fields(kind, number * VISITORS_PER_JOURNEY + k, period_id)
        fields.append(("save", "1"))
        browser.post(
            "add visitor (photo)",
            f"/accounts/visitors/add/{kind}/",
            fields,
            files={"photo": ("photo.jpg", photo, "image/jpeg")},
            redirect_to="/accounts/visitors/",
        )
        listing = browser.get("visitor list", "/accounts/visitors/")
    ids = VISITOR_CHECKBOX.findall(listing)
    if len(ids) != VISITORS_PER_JOURNEY:
        raise JourneyError("visitor list", 200, b"%d visitors to submit" % len(ids))
    browser.post(
        "submit visitors",
        "/accounts/visitors/submit/",
        [*(("visitor", pk.decode()) for pk in ids), ("pledge", "on"), ("sensitive_consent", "on")],
        redirect_to="/accounts/visitors/",
    )
    browser.get("visitor list", "/accounts/visitors/")
    browser.get("submission preview", "/accounts/submit/")
    browser.post("confirm the unit", "/accounts/submit/", [], redirect_to="/accounts/")
    browser.get("dashboard", "/accounts/")


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = defaultdict(list)
        self.statuses = Counter()
        self.errors = Counter()
        self.samples: list[str] = []
        self.finished: list[int] = []  # unit ids of journeys that went through
        #: When each batch of visitors was submitted (``time.monotonic()``).
        self.submitted_at: list[float] = []
        self.start = self.deadline = 0.0

    def record(self, page, seconds, status):
        with self.lock:
            self.latencies[page].append(seconds)
            self.statuses[status] += 1
            if page == SUBMIT_PAGE and status == 302:
                self.submitted_at.append(time.monotonic())

    def steady_rate(self, share: float = WARM_UP_SHARE) -> tuple[float, float, float]:
        """Visitors submitted per second while every user was at work: submissions between
        the end of the warm-up (``share`` of the phase: the users have started, one after the
        other, and reached their first submission) and the deadline, after which users finish
        their journey and stop, fewer and fewer. Returns the rate and the window (from, to) in
        seconds."""
        begin = self.start + (self.deadline - self.start) * share
        n = sum(1 for t in self.submitted_at if begin <= t <= self.deadline)
        return (
            n * VISITORS_PER_JOURNEY / (self.deadline - begin),
            begin - self.start,
            self.deadline - self.start,
        )

    def error(self, error: Exception):
        with self.lock:
            self.errors[getattr(error, "page", type(error).__name__)] += 1
            if len(self.samples) < 5:
                self.samples.append(str(error)[:300])

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())


def run_clients(users: int, seconds: float, work, *, ramp: float = 0) -> tuple[float, Tally]:
    """``users`` threads calling ``work(tally, index)`` until the time is up; the wall time until
    the last one finished its round (journeys under way are finished, and counted). With
    ``ramp``, the users start one after the other over that many seconds, as real ones do, so
    that they do not walk their journeys in step."""
    tally = Tally()
    tally.start = time.monotonic()
    tally.deadline = deadline = tally.start + seconds
    counter = iter(range(10**9))
    counter_lock = threading.Lock()

    def loop(delay):
        time.sleep(delay)
        while time.monotonic() < deadline:
            with counter_lock:
                index = next(counter)
            try:
                work(tally, index)
            except StopIteration:
                return
            except Exception as error:  # noqa: BLE001 - counted and shown, the run goes on
                tally.error(error)

    threads = [
        threading.Thread(target=loop, args=(ramp * n / users,), daemon=True) for n in range(users)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, tally


class Measure:
    """The CPU of one phase: the workers', PostgreSQL's (the backends of the benchmark
    database) and this load generator's own, in seconds, and how busy the machine was."""

    def __init__(self, server):
        self.server = server

    def __enter__(self):
        self.meter = CpuMeter(
            workers=self.server.workers(), database_url=os.environ["DATABASE_URL"]
        )
        self.own = _own_cpu()
        self.busy = machine_busy()
        self.meter.start()
        return self

    def __exit__(self, *exc):
        self.cpu, self.database = self.meter.stop()
        self.generator = _own_cpu() - self.own
        after = machine_busy()
        self.machine = (after[0] - self.busy[0]) / max(after[1] - self.busy[1], 1)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def floor(server, users: int, seconds: float, language: str) -> dict:
    def work(tally, _index):
        Browser(server.port, language, tally.record).get("/healthz", "/healthz")

    with Measure(server) as cpu:
        wall, tally = run_clients(users, seconds, work)
    return summary(tally, wall, cpu)


def summary(tally: Tally, wall: float, cpu: Measure) -> dict:
    requests = tally.requests
    return {
        "tally": tally,
        "wall": wall,
        "requests": requests,
        "rate": requests / wall,
        "cpu_ms": cpu.cpu / max(requests, 1) * 1000,
        "database_ms": cpu.database / max(requests, 1) * 1000,
        "generator_ms": cpu.generator / max(requests, 1) * 1000,
        "machine": cpu.machine,
        "p95_ms": percentile([x for v in tally.latencies.values() for x in v], 0.95) * 1000
        if requests
        else 0,
    }


def print_pages(tally: Tally) -> None:
    print(f"    {'page':<22} {'n':>6} {'p50':>7} {'p95':>7} {'p99':>7}  (ms)")
    for page, values in tally.latencies.items():
        print(
            f"    {page:<22} {len(values):>6} {statistics.median(values) * 1000:>7.0f} "
            f"{percentile(values, 0.95) * 1000:>7.0f} {percentile(values, 0.99) * 1000:>7.0f}"
        )


def print_errors(tally: Tally) -> None:
    if tally.errors:
        print("    errors: " + ", ".join(f"{n} × {page}" for page, n in tally.errors.items()))
        for sample in tally.samples:
            print(f"      {sample}")
    else:
        print("    errors: none")


def verify(unit_ids) -> list[str]:
    """Every unit of a finished journey submitted, with its three visitors submitted."""
    from registration.models import Unit, Visitor

    problems = []
    units = Unit.objects.filter(pk__in=unit_ids, status=Unit.Status.SUBMITTED).count()
    if units != len(unit_ids):
        problems.append(f"{units} units submitted, expected {len(unit_ids)}")
    visitors = Visitor.objects.filter(unit_id__in=unit_ids, status=Visitor.Status.SUBMITTED)
    if visitors.count() != len(unit_ids) * VISITORS_PER_JOURNEY:
        problems.append(
            f"{visitors.count()} visitors submitted, "
            f"expected {len(unit_ids) * VISITORS_PER_JOURNEY}"
        )
    return problems


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="10,25,50", help="concurrent users, e.g. 10,25,50")
    parser.add_argument("--units", type=int, default=3000, help="units ready to register")
    parser.add_argument(
        "--earlier",
        type=int,
        default=20_000,
        help="visitors other units submitted before the rush",
    )
    parser.add_argument("--seconds", type=float, default=30, help="length of each phase")
    parser.add_argument(
        "--pages",
        default="landing,login",
        help="public pages measured against the floor afterwards (landing,login or none)",
    )
    parser.add_argument("--pages-users", type=int, default=50)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY") or 3))
    parser.add_argument("--language", default="zh-hans", help="the browsers' Accept-Language")
    parser.add_argument("--database", help="benchmark database (default: <DATABASE_URL's>_rush)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--replace", action="store_true", help="drop a leftover benchmark database")
    args = parser.parse_args()
    levels = [int(u) for u in args.users.split(",") if u.strip()]
    pages = [p for p in args.pages.split(",") if p and p != "none"]

    admin_url = os.environ.get("DATABASE_URL", "")
    if urlsplit(admin_url).scheme not in POSTGRES_SCHEMES:
        refuse("This benchmark needs PostgreSQL: set DATABASE_URL=postgres://user@host:5432/db.")
    base = urlsplit(admin_url).path.lstrip("/") or "postgres"
    name = args.database or f"{base}_rush"
    if name in (base, "postgres", "template0", "template1"):
        refuse(f"--database {name}: the benchmark drops its database at the end; name another.")
    if database_exists(admin_url, name):
        if not args.replace:
            refuse(f"Database {name} exists (a --keep or a crashed run?): pass --replace.")
        database_drop(admin_url, name)

    media = tempfile.mkdtemp(prefix="rush-media-")
    outbox = outbox_folder("rush-outbox-")
    static = tempfile.mkdtemp(prefix="rush-static-")
    log = Path(tempfile.mkstemp(prefix="rush-server-", suffix=".log")[1])
    configure_environment(
        bench_url=with_database(admin_url, name), media=media, outbox=outbox, static=static
    )
    database_create(admin_url, name)
    server = None
    failed = True  # until the run got through
    try:
        setup_django()
        from django.conf import settings
        from django.core.cache import cache
        from django.core.management import call_command
        from django.db import connections

        if settings.DEBUG:
            fail("settings did not take DJANGO_DEBUG=false from the environment")
        try:
            cache.clear()  # the sign-in ceilings and cached pages of an earlier run
        except Exception as error:  # noqa: BLE001
            fail(f"the cache at CACHE_URL does not answer ({error}); set CACHE_URL")
        started = time.perf_counter()
        print(f"database {name}: migrating …", flush=True)
        call_command("migrate", verbosity=0, interactive=False)
        call_command("collectstatic", verbosity=0, interactive=False)
        print(f"  {time.perf_counter() - started:.0f} s (with collectstatic)", flush=True)
        edition, units = make_data(args.units, earlier=args.earlier)
        period_id = edition.entry_periods.order_by("pk").values_list("pk", flat=True)[0]
        print(
            f"  {len(units)} units ready, {args.earlier} visitors of other units submitted "
            f"before, edition {edition.number} current",
            flush=True,
        )
        photo = photo_bytes()
        connections.close_all()

        server = Gunicorn(workers=args.workers, threads=1, log=log)
        print(f"server: {server.describe}, port {server.port}; cache {settings.CACHES}")
        print(f"  {describe_outbox(outbox)}")
        wait_until_up(server, workers=args.workers)
        free_units = iter(units)
        units_lock = threading.Lock()

        # Warm every worker's imports and templates, outside the clock.
        warm = Browser(server.port, args.language, lambda *a: None)
        for path in ("/", "/accounts/login/"):
            for _ in range(args.workers * 3):
                warm.get("warm", path)

        results = {}
        failed_journeys = False
        for users in levels:
            print(f"\n{users} users, {args.seconds:.0f} s each:", flush=True)
            base_line = floor(server, users, args.seconds, args.language)
            print(
                f"  floor /healthz: {base_line['rate']:.0f} req/s, p95 "
                f"{base_line['p95_ms']:.0f} ms, {base_line['cpu_ms']:.2f} ms CPU per request"
            )

            def work(tally, index, browser_language=args.language):
                with units_lock:
                    unit_id, login = next(free_units)  # StopIteration ends the user
                browser = Browser(server.port, browser_language, tally.record)
                journey(browser, login, unit_id, period_id, photo)
                with tally.lock:
                    tally.finished.append(unit_id)

            with Measure(server) as cpu:
                wall, tally = run_clients(users, args.seconds, work, ramp=args.seconds * RAMP_SHARE)
            rush = summary(tally, wall, cpu)
            whole_rate = len(tally.finished) * VISITORS_PER_JOURNEY / wall
            visitors_rate, window_from, window_to = tally.steady_rate()
            pages_p95 = {page: percentile(v, 0.95) * 1000 for page, v in tally.latencies.items()}
            errors = sum(tally.errors.values()) + sum(
                n for status, n in tally.statuses.items() if status not in (200, 302)
            )
            print(
                f"  rush: {len(tally.finished)} journeys, {visitors_rate:.1f} visitors "
                f"submitted/s with all {users} users at work (submissions from "
                f"{window_from:.0f} s to {window_to:.0f} s; {whole_rate:.1f} over the whole "
                f"{wall:.1f} s with its ramp and tail; "
                # The machine's speed varies from run to run (its floor by a third here).
                f"{visitors_rate / base_line['rate'] * 1000:.1f} per 1,000 floor "
                f"req/s), {rush['rate']:.0f} req/s, p95 {rush['p95_ms']:.0f} ms "
                f"(all pages), {rush['cpu_ms']:.1f} ms CPU per request = "
                f"{rush['cpu_ms'] / base_line['cpu_ms']:.1f}× the floor; machine "
                f"{rush['machine']:.0%} busy"
            )
            # Where the rest of the machine went: the same two cores serve all three.
            print(
                f"  CPU per request besides the workers: PostgreSQL {rush['database_ms']:.1f} ms "
                f"(floor {base_line['database_ms']:.2f}), this load generator "
                f"{rush['generator_ms']:.1f} ms (floor {base_line['generator_ms']:.2f})"
            )
            print_pages(tally)
            print_errors(tally)
            problems = verify(tally.finished)
            if problems:
                failed_journeys = True
                print("    database: " + "; ".join(problems))
            else:
                print(f"    database: {len(tally.finished)} units and their visitors submitted")
            results[users] = (visitors_rate, rush, base_line, errors, pages_p95)
            if tally.errors:
                failed_journeys = True

        page_results = {}
        if pages:
            users = args.pages_users
            print(f"\npublic pages, {users} users, {args.seconds:.0f} s each:", flush=True)
            base_line = floor(server, users, args.seconds, args.language)
            print(
                f"  floor /healthz: {base_line['rate']:.0f} req/s, p95 "
                f"{base_line['p95_ms']:.0f} ms, {base_line['cpu_ms']:.2f} ms CPU per request"
            )
            paths = {"landing": "/", "login": "/accounts/login/"}
            for page in pages:

                def fetch(tally, _index, path=paths[page], page=page):
                    Browser(server.port, args.language, tally.record).get(page, path)

                with Measure(server) as cpu:
                    wall, tally = run_clients(users, args.seconds, fetch)
                measured = summary(tally, wall, cpu)
                share = measured["rate"] / base_line["rate"]
                page_results[page] = share
                print(
                    f"  {page} ({paths[page]}): {measured['rate']:.0f} req/s = {share:.2f} of "
                    f"the floor, p95 {measured['p95_ms']:.0f} ms, "
                    f"{measured['cpu_ms']:.1f} ms CPU per request"
                )
                print_errors(tally)
                if tally.errors:
                    failed_journeys = True

        failed = failed_journeys
        print("\ntargets:")
        if TARGET_AT_USERS in results:
            visitors_rate, rush, base_line, errors, pages_p95 = results[TARGET_AT_USERS]
            ratio = rush["cpu_ms"] / base_line["cpu_ms"]
            worst = max(pages_p95.items(), key=lambda item: item[1])
            print(
                f"  {TARGET_AT_USERS} users: {visitors_rate:.1f} visitors submitted/s "
                f"(≥ {TARGET_VISITORS_PER_SECOND}: "
                f"{met(visitors_rate >= TARGET_VISITORS_PER_SECOND)}); "
                f"p95 {rush['p95_ms']:.0f} ms over all pages, worst page {worst[0]} "
                f"{worst[1]:.0f} ms (< {TARGET_P95_MS}: {met(rush['p95_ms'] < TARGET_P95_MS)}); "
                f"{errors} errors ({met(errors == 0)}); CPU per request {ratio:.1f}× the floor "
                f"(≤ {TARGET_CPU_RATIO}: {met(ratio <= TARGET_CPU_RATIO)})"
            )
        else:
            print(f"  (the targets are set at {TARGET_AT_USERS} users: add it to --users)")
        for page, share in page_results.items():
            print(
                f"  {page}: {share:.2f} of the floor's throughput "
                f"(≥ {TARGET_PAGE_SHARE}: {met(share >= TARGET_PAGE_SHARE)})"
            )
    finally:
        if server is not None:
            server.stop()
            if failed and server.log and server.log.exists():
                sys.stderr.write(server.log.read_text(errors="replace")[-3000:])
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
        import shutil

        shutil.rmtree(media, ignore_errors=True)
        shutil.rmtree(outbox, ignore_errors=True)
        shutil.rmtree(static, ignore_errors=True)
        log.unlink(missing_ok=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
