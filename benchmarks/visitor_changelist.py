"""How the secretaries' visitor list behaves with a full edition in the table.

    DATABASE_URL=postgres://... python benchmarks/visitor_changelist.py [--visitors 400000]

Creates a throwaway edition with N visitors spread over 40 trade delegations (2 units of 1,000
visitors… scaled to N), then times the admin visitor changelist as an organiser and as a
secretary — plain, filtered by status and label, and searched by name — and prints each time
with its number of SQL queries. Everything it made is deleted at the end.
"""

import argparse
import os
import sys
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ciie_portal.settings")
os.environ.setdefault("CIIE_ALLOW_LOCAL_KEYS", "true")
# Pages render without a collectstatic manifest (what is measured is the database side).
os.environ.setdefault("DJANGO_DEBUG", "true")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from ciie_portal import crypto  # noqa: E402
from ciie_portal.models import Edition  # noqa: E402
from ciie_portal.roles import ORGANISER, SECRETARY, roles_sync  # noqa: E402
from delegations.models import Delegation, Secretary  # noqa: E402
from registration.models import Label, Unit, User, Visitor  # noqa: E402

SHANGHAI = ZoneInfo("Asia/Shanghai")
STATUSES = [Visitor.Status.SUBMITTED, Visitor.Status.PENDING_PAYMENT, Visitor.Status.PENDING_REVIEW]
LABELS = ["", Label.VISITOR, Label.VISITOR, Label.STAFF, Label.VIP]


def build(n: int, tag: str):
    year = 3000 + int(tag[-3:])
    edition = Edition.objects.create(
        number=int(tag[-4:]) + 5000, name=f"benchmark {tag}", starts_on=date(year, 11, 5),
        ends_on=date(year, 11, 10), registration_opens_at=datetime(year - 1, 1, 1, tzinfo=SHANGHAI),
        registration_closes_at=datetime(year, 10, 1, tzinfo=SHANGHAI),
        transfer_deadline=datetime(year, 10, 1, tzinfo=SHANGHAI),
        online_payment_deadline=datetime(year, 10, 2, tzinfo=SHANGHAI),
    )  # fmt: skip
    groups = Delegation.objects.bulk_create(
        Delegation(name=f"基准交易团{tag}-{g}", code=f"bench-{tag}-{g}") for g in range(40)
    )
    units = Unit.objects.bulk_create(
        Unit(edition=edition, delegation=groups[u % 40], region="mainland", category="enterprise",
             name=f"基准单位{tag}-{u}", uscc="")
        for u in range(max(n // 200, 40))
    )  # fmt: skip
    print(f"  {len(units)} units in 40 delegations; sealing {n} ID numbers …", flush=True)
    batch = []
    for i in range(n):
        sealed = crypto.seal(f"E{tag}{i:09d}")
        batch.append(
            Visitor(
                edition=edition, unit=units[i % len(units)], person_type="foreign",
                name=f"访客{i}", id_type="passport", id_number_encrypted=sealed.encrypted,
                id_number_index=sealed.index, id_number_masked=sealed.masked,
                status=STATUSES[i % 3], label=LABELS[i % 5], reference=f"B{tag[-3:]}{i:08d}",
            )
        )  # fmt: skip
        if len(batch) == 5000:
            Visitor.objects.bulk_create(batch)
            batch = []
    Visitor.objects.bulk_create(batch)
    return edition, groups, units


def users(group, tag):
    roles_sync()
    from django.contrib.auth.models import Group

    organiser = User.objects.create(username=f"bench-org-{tag}", is_staff=True)
    organiser.groups.add(Group.objects.get(name=ORGANISER))
    secretary = User.objects.create(username=f"bench-sec-{tag}", is_staff=True)
    secretary.groups.add(Group.objects.get(name=SECRETARY))
    Secretary.objects.create(user=secretary, delegation=group)
    return organiser, secretary


def timed(client, url, label, runs=3):
    best, queries = None, 0
    for _ in range(runs):
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - start
        assert response.status_code == 200, response.status_code
        best = elapsed if best is None else min(best, elapsed)
        queries = len(captured.captured_queries)
    print(f"  {label:<40} {best * 1000:8.0f} ms  {queries:3d} queries")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--visitors", type=int, default=400_000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run against PostgreSQL: set DATABASE_URL.")
    settings.ALLOWED_HOSTS = ["*"]
    tag = f"{int(time.time()) % 10000:04d}"
    start = time.perf_counter()
    edition, groups, units = build(args.visitors, tag)
    organiser, secretary = users(groups[0], tag)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE registration_visitor")
    print(f"  set up in {time.perf_counter() - start:.0f} s", flush=True)
    try:
        base = "/admin/registration/visitor/"
        for who, user in (("organiser", organiser), ("secretary of 1/40", secretary)):
            client = Client()
            client.force_login(user)
            print(f"{who}:")
            timed(client, base, "list")
            timed(client, base + "?status=pending_payment&label=vip", "status + label filter")
            timed(client, base + "?q=访客12345", "search by name")
    finally:
        Visitor.objects.filter(edition=edition).delete()
        Unit.objects.filter(edition=edition).delete()
        Secretary.objects.filter(user=secretary).delete()
        User.objects.filter(pk__in=[organiser.pk, secretary.pk]).delete()
        Delegation.objects.filter(pk__in=[g.pk for g in groups]).delete()
        edition.delete()


if __name__ == "__main__":
    main()
