"""How the admin visitor list (organiser and secretary) behaves with a full edition in the table.

    DATABASE_URL=postgres://... python benchmarks/visitor_changelist.py
        [--visitors 400000] [--past 0] [--runs 5] [--plans] [--plan-ms 20]
        [--keep | --reuse | --clean]

Creates a throwaway edition with N visitors (names of three Chinese characters, sexes, dates of
birth, labels, statuses, two entry periods, pick-up methods, 代付 and reuse marks) in one unit
per 200 visitors over 40 trade delegations, and — with ``--past`` — an earlier edition with
that many more, so that what is not the current edition's is in the table too. Its edition is
made the current one for the run (the admin lists the current edition by default), then it
times the visitor changelist as an organiser and as the secretary of one of the 40 trade
delegations: plain, filtered (status + label, sex, age band, credential status, entry days,
代付, label upgrade) and searched (name, exact ID number, USCC, reference number). For each it
prints the best and the median of ``--runs`` requests, the number of SQL queries, and whether
the target (≤ 200 ms) is met.

The floor, measured in the same run: the plain indexed query of one page,
``SELECT … WHERE edition_id = … ORDER BY id DESC LIMIT 100``; the admin's index page (what any
admin page costs); and the same list of a third edition that holds 100 visitors (what rendering
a page of 100 rows with these columns costs, with nothing to count).

``--plans`` prints the EXPLAIN (ANALYZE, BUFFERS) plan of every query of a case that took more
than ``--plan-ms``. ``--keep`` leaves the edition in the database; ``--reuse`` times the edition
the last ``--keep`` left (building 400,000 visitors takes about 1.5 minutes). The edition is
vacuumed and analysed after it is built, as autovacuum would after such an insert.
"""

import argparse
import atexit
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ciie_portal.settings")
os.environ.setdefault("CIIE_ALLOW_LOCAL_KEYS", "true")
# As production serves the pages: DEBUG off, the static files collected (into a folder of
# this run, deleted at its end) and named by their manifest.
STATIC_ROOT = tempfile.mkdtemp(prefix="changelist-static-")
atexit.register(shutil.rmtree, STATIC_ROOT, True)
os.environ.update(DJANGO_DEBUG="false", STATIC_ROOT=STATIC_ROOT, SECURE_SSL_REDIRECT="false")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # not a line per request timed

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from ciie_portal import crypto  # noqa: E402
from ciie_portal.models import Edition, EntryPeriod  # noqa: E402
from ciie_portal.roles import ORGANISER, SECRETARY, roles_sync  # noqa: E402
from delegations.models import Delegation, Secretary  # noqa: E402
from registration.models import Label, Pickup, Sex, Unit, User, Visitor  # noqa: E402

SHANGHAI = ZoneInfo("Asia/Shanghai")
TARGET_MS = 200
PREFIX = "benchmark visitors"
STATUSES = [Visitor.Status.SUBMITTED, Visitor.Status.PENDING_PAYMENT, Visitor.Status.PENDING_REVIEW]
LABELS = ["", Label.VISITOR, Label.VISITOR, Label.STAFF, Label.VIP]
SEXES = [Sex.MALE, Sex.FEMALE, Sex.MALE, Sex.FEMALE, ""]
PICKUPS = [Pickup.COURIER, Pickup.DELEGATION, ""]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
GIVEN = (
    "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华建"
    "国志红玲新宇浩然子涵晨欣怡思雨梓轩博文斌琳雪飞"
)


def name_of(i: int) -> str:
    """Three characters: 44 surnames × 48 × 48 given-name characters, about 100,000 names."""
    s, g = len(SURNAMES), len(GIVEN)
    return SURNAMES[i % s] + GIVEN[(i // s) % g] + GIVEN[(i // (s * g)) % g]


def edition_create(tag: str, offset: int, *, year: int) -> Edition:
    return Edition.objects.create(
        number=4000 + int(tag) % 9000 * 3 + offset, name=f"{PREFIX} {tag}-{offset}",
        starts_on=date(year, 11, 5), ends_on=date(year, 11, 10),
        registration_opens_at=datetime(year - 1, 1, 1, tzinfo=SHANGHAI),
        registration_closes_at=datetime(year, 10, 1, tzinfo=SHANGHAI),
        transfer_deadline=datetime(year, 10, 1, tzinfo=SHANGHAI),
        online_payment_deadline=datetime(year, 10, 2, tzinfo=SHANGHAI),
    )  # fmt: skip


def visitors_build(edition, groups, n: int, tag: str, offset: int):
    periods = EntryPeriod.objects.bulk_create(
        EntryPeriod(edition=edition, name=name, first_day=first, last_day=edition.ends_on,
                    fee=100, position=p)
        for p, (name, first) in enumerate(
            [("全程", edition.starts_on), ("后三天", edition.starts_on + timedelta(days=3))]
        )
    )  # fmt: skip
    units = Unit.objects.bulk_create(
        Unit(edition=edition, delegation=groups[u % 40], region="mainland", category="enterprise",
             name=f"基准单位{tag}-{offset}-{u}", uscc=f"91{tag}{offset}{u:011d}"[:18],
             street=f"基准路{u}号")
        for u in range(max(n // 200, 40))
    )  # fmt: skip
    print(f"  {edition.name}: {len(units)} units; sealing {n} ID numbers …", flush=True)
    batch = []
    # Drawn at random (with a fixed seed), so that no field follows the unit and every
    # delegation's visitors have every sex, label and status.
    rng = random.Random(offset)
    for i in range(n):
        sealed = crypto.seal(f"E{tag}{offset}{i:09d}")
        born = (
            None if rng.random() < 0.06 else date(1950, 1, 1) + timedelta(days=rng.randrange(20000))
        )
        batch.append(
            Visitor(
                edition=edition, unit=units[i % len(units)], person_type="foreign",
                name=name_of(i), id_type="passport", id_number_encrypted=sealed.encrypted,
                id_number_index=sealed.index, id_number_masked=sealed.masked,
                status=rng.choice(STATUSES), label=rng.choice(LABELS), sex=rng.choice(SEXES),
                birth_date=born, entry_period=rng.choice([*periods, None]),
                pickup=rng.choice(PICKUPS), paid_by_delegation=rng.random() < 0.05,
                reuse_eligible=rng.random() < 0.1, needs_new_credential=rng.random() < 0.01,
            )
        )  # fmt: skip
        if len(batch) == 5000:
            Visitor.objects.bulk_create(batch)
            batch = []
    Visitor.objects.bulk_create(batch)
    return units


def build(n: int, past: int, tag: str):
    groups = Delegation.objects.bulk_create(
        Delegation(name=f"{PREFIX}交易团{tag}-{g}", code=f"bench-{tag}-{g}") for g in range(40)
    )
    editions = []
    if past:
        editions.append(edition_create(tag, 0, year=2026))
        visitors_build(editions[-1], groups, past, tag, 0)
    editions.append(edition_create(tag, 1, year=2027))
    units = visitors_build(editions[-1], groups, n, tag, 1)
    # The floor: the same page of an edition of 100 visitors.
    visitors_build(edition_create(tag, 2, year=2028), groups, 100, tag, 2)
    roles_sync()
    from django.contrib.auth.models import Group

    organiser = User.objects.create(username=f"bench-org-{tag}", is_staff=True)
    organiser.groups.add(Group.objects.get(name=ORGANISER))
    secretary = User.objects.create(username=f"bench-sec-{tag}", is_staff=True)
    secretary.groups.add(Group.objects.get(name=SECRETARY))
    Secretary.objects.create(user=secretary, delegation=groups[0])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) registration_visitor")
        cursor.execute("ANALYZE registration_unit")
    return editions, units


def found(tag: str):
    edition = Edition.objects.get(name=f"{PREFIX} {tag}-1")
    return edition, list(Unit.objects.filter(edition=edition).order_by("pk"))


def kept_editions():
    return Edition.objects.filter(name__startswith=f"{PREFIX} ")


def clean(tag: str):
    editions = Edition.objects.filter(name__startswith=f"{PREFIX} {tag}-")
    # In slices: Django's delete collects each slice's related rows by their ids, and a
    # statement takes at most 65,535 parameters.
    visitors = (
        Visitor.objects.filter(edition__in=editions).order_by("pk").values_list("pk", flat=True)
    )
    while ids := list(visitors[:20_000]):
        Visitor.objects.filter(pk__in=ids).delete()
    Unit.objects.filter(edition__in=editions).delete()
    Secretary.objects.filter(user__username=f"bench-sec-{tag}").delete()
    User.objects.filter(username__in=[f"bench-org-{tag}", f"bench-sec-{tag}"]).delete()
    Delegation.objects.filter(code__startswith=f"bench-{tag}-").delete()
    EntryPeriod.objects.filter(edition__in=editions).delete()
    editions.delete()


def cases(edition, units, tag):
    """(label, query string) of each request timed, for both users."""
    unit = units[0]  # of the first trade delegation: the secretary's
    visitor = Visitor.objects.filter(unit=unit).order_by("pk").first()
    period = EntryPeriod.objects.filter(edition=edition).order_by("position").last()
    return [
        ("list", ""),
        ("status + label", "?status=pending_payment&label=vip"),
        ("sex", "?sex=F"),
        ("age band 40–49", "?age=40"),
        ("credential status: not made", "?credential_status=not_made"),
        ("credential status: made", "?credential_status=made"),
        ("entry days", f"?entry_period={period.pk}"),
        ("paid by the delegation", "?paid_by_delegation=yes"),
        ("label upgrade", "?credential=yes"),
        ("status + sex + age + label", "?status=submitted&sex=M&age=30&label=visitor"),
        ("search: name (3 characters)", f"?q={visitor.name}"),
        ("search: exact ID number", f"?q=E{tag}1{0:09d}"),
        ("search: USCC", f"?q={unit.uscc}"),
        ("search: reference number", f"?q={visitor.reference}"),
        ("search: name + status filter", f"?q={visitor.name}&status=submitted"),
        ("page 20", "?p=20"),
    ]


def timed(request, runs: int):
    """(best ms, median ms, queries of the best run) of ``request()``."""
    times, best_queries = [], None
    for _ in range(runs):
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            request()
            elapsed = (time.perf_counter() - start) * 1000
        if not times or elapsed < min(times):
            best_queries = list(captured.captured_queries)
        times.append(elapsed)
    return min(times), statistics.median(times), best_queries


def plans_print(queries, over_ms: float):
    for query in queries:
        if float(query["time"]) * 1000 < over_ms:
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            plan = "\n".join(f"      {row[0]}" for row in cursor.fetchall())
        print(f"    {float(query['time']) * 1000:.0f} ms: {query['sql'][:300]}")
        print(plan)


def signed_in(user) -> Client:
    """A client signed in as ``user`` with the second factor passed, as the sign-in leaves it."""
    import django_otp
    from django.http import HttpRequest
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = Client()
    client.force_login(user)
    device, _made = TOTPDevice.objects.get_or_create(
        user=user, name="benchmark", defaults={"confirmed": True}
    )
    request = HttpRequest()
    request.session = client.session
    request.user = user
    django_otp.login(request, device)
    request.session.save()
    return client


def page(client, url):
    def request():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response

    return request


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=400_000, help="visitors of the edition")
    parser.add_argument("--past", type=int, default=0, help="visitors of an earlier edition")
    parser.add_argument("--runs", type=int, default=5, help="requests per case")
    parser.add_argument("--plans", action="store_true", help="EXPLAIN ANALYZE the slow queries")
    parser.add_argument("--plan-ms", type=float, default=20, help="what --plans calls slow")
    parser.add_argument("--keep", action="store_true", help="leave the edition in the database")
    parser.add_argument("--reuse", action="store_true", help="time the edition --keep left")
    parser.add_argument("--clean", action="store_true", help="delete what --keep left, and stop")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run against PostgreSQL: set DATABASE_URL.")
    settings.ALLOWED_HOSTS = ["*"]
    if args.clean:
        for tag in {e.name.removeprefix(f"{PREFIX} ").split("-")[0] for e in kept_editions()}:
            clean(tag)
        return
    call_command("collectstatic", verbosity=0, interactive=False)
    if args.reuse:
        kept = kept_editions().order_by("-pk").first()
        if kept is None:
            sys.exit("Nothing kept: run with --keep first.")
        tag = kept.name.removeprefix(f"{PREFIX} ").split("-")[0]
    else:
        tag = f"{int(time.time()) % 10000:04d}"
        start = time.perf_counter()
        build(args.visitors, args.past, tag)
        print(f"  set up in {time.perf_counter() - start:.0f} s", flush=True)
    edition, units = found(tag)
    floor_edition = Edition.objects.get(name=f"{PREFIX} {tag}-2")
    was_current = list(Edition.objects.filter(is_current=True).values_list("pk", flat=True))
    Edition.objects.filter(is_current=True).update(is_current=False)
    Edition.objects.filter(pk=edition.pk).update(is_current=True)
    organiser = User.objects.get(username=f"bench-org-{tag}")
    secretary = User.objects.get(username=f"bench-sec-{tag}")
    total = Visitor.objects.count()
    print(
        f"{Visitor.objects.filter(edition=edition).count()} visitors in the current edition, "
        f"{total} in the table; PostgreSQL {connection.pg_version // 10000}, "
        f"{os.cpu_count()} CPUs; best and median of {args.runs} requests"
    )
    missed = []
    try:
        client = signed_in(organiser)
        floor_sql = (
            "SELECT * FROM registration_visitor WHERE edition_id = %s ORDER BY id DESC LIMIT 100"
        )

        def sql_floor():
            with connection.cursor() as cursor:
                cursor.execute(floor_sql, [edition.pk])
                cursor.fetchall()

        print("floor:")
        for label, request in (
            ("SQL: one page by edition, -id", sql_floor),
            ("admin index page", page(client, "/admin/")),
            (
                "the list of a 100-visitor edition",
                page(client, f"/admin/registration/visitor/?edition={floor_edition.pk}"),
            ),
        ):
            best, median, queries = timed(request, args.runs)
            print(f"  {label:<34} {best:7.1f} ms {median:7.1f} ms {len(queries):3d} queries")
        base = "/admin/registration/visitor/"
        for who, user in (("organiser", organiser), ("secretary of 1/40", secretary)):
            client = signed_in(user)
            print(f"{who}:")
            for label, query in cases(edition, units, tag):
                best, median, queries = timed(page(client, base + query), args.runs)
                met = "met" if best <= TARGET_MS else "NOT MET"
                if best > TARGET_MS:
                    missed.append(f"{who}: {label}")
                print(
                    f"  {label:<34} {best:7.1f} ms {median:7.1f} ms {len(queries):3d} queries"
                    f"  ≤ {TARGET_MS} ms {met}",
                    flush=True,
                )
                if args.plans:
                    plans_print(queries, args.plan_ms)
    finally:
        Edition.objects.filter(pk=edition.pk).update(is_current=False)
        Edition.objects.filter(pk__in=was_current).update(is_current=True)
        if not args.keep and not args.reuse:
            clean(tag)
    print(
        f"target ≤ {TARGET_MS} ms (best of {args.runs}): "
        + ("met in every case" if not missed else "NOT MET: " + "; ".join(missed))
    )


if __name__ == "__main__":
    main()
