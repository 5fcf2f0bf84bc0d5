"""供采对接: the recommendations of one unit over a full edition, against the floor of a plain
indexed query.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ciie flock /tmp/bench.lock \\
        python benchmarks/matching.py [--exhibitors 5000] [--products 50000] [--past 5000]
        [--calls 50] [--keep] [--replace]

In a database of its own (``<name of DATABASE_URL's database>_matching``, created and migrated
here, dropped at the end unless ``--keep``) it creates an edition with N listed exhibitors (a
tenth of them in a special zone, from 60 countries and regions, one to three GB/T 4754
divisions each, a smallest-order band), their products (10 each by default), 2 % unlisted
exhibitors, and an earlier edition with ``--past`` more, so that the table holds what the
ranking must leave out. Rows are written with ``bulk_create`` in batches, then the tables are
vacuumed and analysed as autovacuum would after such an insert.

Four units with different intentions are ranked — a broad one (two areas, three zones, an
industry, five countries, a purchase band), a narrow one (one zone), one by countries only and
one by industry only; they and 500 more units keep 20 favourites each. For each,
``recommendations(unit)`` (the first page of 20, reasons included, the unit's preferences read)
is called warm ``--calls`` times: median and p95, and the queries per call. The floor, measured
the same way in the same run: one exhibitor fetched by its unique key
(``Exhibitor.objects.filter(edition=…, code=…).first()``). It prints the ratio, the plan of
the ranking query (``EXPLAIN ANALYZE``) of the broad unit, and the target (p95 < 100 ms for
every unit) as met or NOT met; the exit status is 1 when it is not.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from payment_notifications import (  # noqa: E402 - the benchmarks' shared helpers
    POSTGRES_SCHEMES,
    database_create,
    database_drop,
    database_exists,
    percentile,
    refuse,
    with_database,
)

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 100
COUNTRIES = [
    "DE",
    "FR",
    "IT",
    "ES",
    "NL",
    "BE",
    "CH",
    "AT",
    "SE",
    "DK",
    "NO",
    "FI",
    "PL",
    "CZ",
    "HU",
    "PT",
    "IE",
    "GB",
    "US",
    "CA",
    "MX",
    "BR",
    "AR",
    "CL",
    "PE",
    "CO",
    "AU",
    "NZ",
    "JP",
    "KR",
    "SG",
    "MY",
    "TH",
    "VN",
    "ID",
    "PH",
    "IN",
    "PK",
    "BD",
    "LK",
    "AE",
    "SA",
    "QA",
    "KW",
    "IL",
    "TR",
    "EG",
    "ZA",
    "NG",
    "KE",
    "ET",
    "MA",
    "RU",
    "KZ",
    "UZ",
    "HK",
    "MO",
    "TW",
    "GR",
    "RO",
]
DIVISIONS = [f"{n:02d}" for n in (13, 14, 15, 17, 18, 19, 26, 27, 29, 30, 33, 34, 35, 36, 37)]
DIVISIONS += [f"{n:02d}" for n in (38, 39, 40, 41, 51, 52, 53, 54, 55, 56, 63, 64, 65, 72, 73)]
CATEGORIES = (
    "医疗设备",
    "药品",
    "乳制品",
    "葡萄酒",
    "工业机器人",
    "芯片",
    "化妆品",
    "家电",
    "汽车零部件",
)


def setup_django(bench_url: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="ciie_portal.settings",
        DATABASE_URL=bench_url,
        DJANGO_DEBUG="false",  # no query log growing with every call
        LOG_LEVEL="WARNING",
    )
    os.environ.setdefault("CIIE_ALLOW_LOCAL_KEYS", "true")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def edition_create(number: int, *, current: bool):
    from django.utils import timezone

    from ciie_portal.models import Edition

    today, now = timezone.localdate(), timezone.now()
    return Edition.objects.create(
        number=number,
        name=f"第{number}届中国国际进口博览会",
        starts_on=today + timedelta(days=200 + 365 * (number - 90)),
        ends_on=today + timedelta(days=205 + 365 * (number - 90)),
        registration_opens_at=now - timedelta(days=10),
        registration_closes_at=now + timedelta(days=150),
        transfer_deadline=now + timedelta(days=140),
        online_payment_deadline=now + timedelta(days=145),
        is_current=current,
    )


def exhibitors_create(edition, n: int, products_each: int, seed: int) -> int:
    """N exhibitors of ``edition`` (and their products): returns the products made."""
    from registration.exhibitors.models import Exhibitor, Product
    from registration.reference import EXHIBITION_AREAS, PURCHASE_BANDS, SPECIAL_ZONES

    rng = random.Random(seed)
    areas = [slug for slug, _zh, _en in EXHIBITION_AREAS]
    zones = [slug for slug, _zh, _en in SPECIAL_ZONES]
    bands = ["", *(slug for slug, _label in PURCHASE_BANDS[:4])]
    made = 0
    for start in range(0, n, 1000):
        rows = [
            Exhibitor(
                edition=edition,
                code=f"X{i:06d}",
                name=f"展商{i:05d}有限公司",
                name_en=f"Exhibitor {i:05d} Ltd",
                country=rng.choice(COUNTRIES),
                hall=f"{rng.randint(1, 8)}.{rng.randint(1, 2)}",
                booth=f"{rng.choice('ABCDEFGH')}{rng.randint(1, 99):02d}",
                area=rng.choice(areas),
                zone=rng.choice(zones) if rng.random() < 0.1 else "",
                industries=sorted(rng.sample(DIVISIONS, rng.randint(1, 3))),
                min_order_band=rng.choice(bands),
                search_text=f"展商{i:05d} exhibitor {i:05d} zhanshang",
                is_listed=rng.random() >= 0.02,
            )
            for i in range(start, min(start + 1000, n))
        ]
        Exhibitor.objects.bulk_create(rows)
        products = [
            Product(
                exhibitor=row,
                code=f"P{p:02d}",
                name=f"{rng.choice(CATEGORIES)}{p}",
                category=rng.choice(CATEGORIES),
                industry=rng.choice(row.industries),
                search_text=f"product {row.code} {p}",
            )
            for row in rows
            for p in range(products_each)
        ]
        Product.objects.bulk_create(products, batch_size=5000)
        made += len(products)
    return made


def units_create(edition) -> dict:
    """The four units whose recommendations are timed, by label."""
    from ciie_portal.choices import Region, UnitCategory
    from registration.exhibitors.models import MatchingProfile
    from registration.models import Unit

    specs = {
        "broad": {
            "interest_areas": ["medical_healthcare", "consumer_goods"],
            "interest_zones": ["biomedicine", "daily_chemicals", "smart_home"],
            "industry": "2710",
            "purchase_1y": "500_1000",
            "countries": ["DE", "FR", "JP", "US", "CH"],
        },
        "narrow (one zone)": {"interest_zones": ["integrated_circuits"], "countries": []},
        "countries only": {"countries": ["DE", "IT", "ES"]},
        "industry only": {"industry": "3841", "purchase_1y": "100_500", "countries": []},
    }
    units = {}
    for n, (label, spec) in enumerate(specs.items()):
        countries = spec.pop("countries")
        unit = Unit.objects.create(
            edition=edition,
            region=Region.MAINLAND,
            category=UnitCategory.ENTERPRISE,
            name=f"匹配基准单位{n}",
            uscc=f"91310000MA{n:07d}X",
            **spec,
        )
        if countries:
            MatchingProfile.objects.create(unit=unit, countries=countries)
        units[label] = unit
    return units


def favourites_create(edition, units: dict, others: int, each: int) -> int:
    """``each`` favourites for each of the timed units and of ``others`` more units."""
    from ciie_portal.choices import Region, UnitCategory
    from registration.exhibitors.models import Exhibitor, Favourite
    from registration.models import Unit

    more = Unit.objects.bulk_create(
        Unit(
            edition=edition,
            region=Region.MAINLAND,
            category=UnitCategory.ENTERPRISE,
            name=f"收藏基准单位{n}",
            uscc=f"91320000MA{n:07d}X",
        )
        for n in range(others)
    )
    ids = list(Exhibitor.objects.filter(edition=edition).values_list("pk", flat=True))
    rng = random.Random(3)
    rows = [
        Favourite(unit=unit, exhibitor_id=pk)
        for unit in [*units.values(), *more]
        for pk in rng.sample(ids, each)
    ]
    Favourite.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def timed(call, calls: int) -> tuple[float, float, int, object]:
    """(median ms, p95 ms, queries of one call, its result) of ``call()``, warm."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        call()
    with CaptureQueriesContext(connection) as captured:
        result = call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), percentile(times, 0.95), len(captured), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exhibitors", type=int, default=5000)
    parser.add_argument("--products", type=int, default=50000)
    parser.add_argument("--past", type=int, default=5000, help="exhibitors of an earlier edition")
    parser.add_argument("--calls", type=int, default=50, help="timed calls per case")
    parser.add_argument(
        "--database", help="benchmark database (default: <DATABASE_URL's>_matching)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--replace", action="store_true", help="drop a leftover benchmark database")
    args = parser.parse_args()

    admin_url = os.environ.get("DATABASE_URL", "")
    if urlsplit(admin_url).scheme not in POSTGRES_SCHEMES:
        refuse("This benchmark needs PostgreSQL: set DATABASE_URL=postgres://user@host:5432/db.")
    base = urlsplit(admin_url).path.lstrip("/") or "postgres"
    name = args.database or f"{base}_matching"
    if name in (base, "postgres", "template0", "template1"):
        refuse(f"--database {name}: the benchmark drops its database at the end; name another.")
    if database_exists(admin_url, name):
        if not args.replace:
            refuse(f"Database {name} exists (a --keep or a crashed run?): pass --replace.")
        database_drop(admin_url, name)
    database_create(admin_url, name)
    missed = True
    try:
        setup_django(with_database(admin_url, name))
        from django.core.management import call_command
        from django.db import connection

        from registration.exhibitors.matching import (
            dashboard_panel,
            intentions_of,
            ranked,
            recommendations,
        )
        from registration.exhibitors.models import Exhibitor, Product

        started = time.perf_counter()
        print(f"database {name}: migrating …", flush=True)
        call_command("migrate", verbosity=0, interactive=False)
        past = edition_create(91, current=False)
        exhibitors_create(past, args.past, 0, seed=1)
        edition = edition_create(92, current=True)
        each = max(args.products // max(args.exhibitors, 1), 0)
        products = exhibitors_create(edition, args.exhibitors, each, seed=2)
        units = units_create(edition)
        favourites = favourites_create(edition, units, others=500, each=20)
        with connection.cursor() as cursor:
            for table in ("exhibitor", "product", "favourite", "matchingprofile", "unit"):
                cursor.execute(f"VACUUM (ANALYZE) registration_{table}")
        print(
            f"  {time.perf_counter() - started:.0f} s: {args.exhibitors} exhibitors and "
            f"{products} products in the edition, {Exhibitor.objects.count()} exhibitors and "
            f"{Product.objects.count()} products in the tables, {favourites} favourites; "
            f"PostgreSQL "
            f"{connection.pg_version // 10000}, {os.cpu_count()} CPUs",
            flush=True,
        )

        code = (
            Exhibitor.objects.filter(edition=edition)
            .order_by("pk")
            .values_list("code", flat=True)[args.exhibitors // 2]
        )
        floor_median, floor_p95, floor_queries, _row = timed(
            lambda: Exhibitor.objects.filter(edition=edition, code=code).first(), args.calls
        )
        print(f"\nmedian and p95 of {args.calls} warm calls")
        print(
            f"  {'floor: one exhibitor by (edition, code)':<44} {floor_median:7.2f} ms "
            f"{floor_p95:7.2f} ms {floor_queries} query"
        )
        worst = 0.0
        for label, unit in units.items():
            median, p95, queries, matches = timed(
                lambda unit=unit: recommendations(unit), args.calls
            )
            worst = max(worst, p95)
            fits = ranked(unit.edition_id, intentions_of(unit)).count()
            print(
                f"  {'recommendations, ' + label:<44} {median:7.2f} ms {p95:7.2f} ms "
                f"{queries} queries  ×{median / floor_median:5.1f} the floor  "
                f"({fits} exhibitors fit, top score {matches[0].score if matches else 0})",
                flush=True,
            )
        broad = units["broad"]
        median, p95, queries, _panel = timed(lambda: dashboard_panel(broad), args.calls)
        print(
            f"  {'dashboard panel (top 3), broad':<44} {median:7.2f} ms {p95:7.2f} ms "
            f"{queries} queries"
        )
        print("\nthe ranking query of the broad unit (first page):")
        plan = ranked(broad.edition_id, intentions_of(broad), unit_id=broad.pk)[:20].explain(
            analyze=True, buffers=True
        )
        print("\n".join(f"    {line}" for line in plan.splitlines()))
        missed = worst >= TARGET_MS
        print(
            f"\ntarget p95 < {TARGET_MS} ms for one unit over {args.exhibitors} exhibitors and "
            f"{products} products: {'NOT met' if missed else 'met'} (worst p95 {worst:.2f} ms)"
        )
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"kept database {name}")
        else:
            database_drop(admin_url, name)
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
