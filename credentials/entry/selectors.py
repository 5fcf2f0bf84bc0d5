"""What the gate reads: entry rules, holds, earlier scans, and the admissions counted."""

from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import ExtractHour, TruncDate

from credentials.production.models import Credential

from .models import EntryRule, Scan, SecurityHold
from .rules import SHANGHAI, EarlierScan, Rule


def entry_rules(edition_id: int) -> dict[str, Rule]:
    """The edition's entry rules by label ("" for every label without its own)."""
    return {
        rule.label: Rule(
            anti_passback=rule.anti_passback,
            exit_scans=rule.exit_scans,
            everyone_out_at=rule.everyone_out_at,
        )
        for rule in EntryRule.objects.filter(edition_id=edition_id)
    }


def rule_as_json(rule: Rule) -> dict:
    return {
        "anti_passback": rule.anti_passback,
        "exit_scans": rule.exit_scans,
        "everyone_out_at": rule.everyone_out_at.strftime("%H:%M") if rule.everyone_out_at else None,
    }


def is_held(visitor_id: int) -> bool:
    return SecurityHold.objects.filter(visitor_id=visitor_id, released_at__isnull=True).exists()


def held_numbers(edition_id: int) -> list[str]:
    """The active credentials whose holders are on security hold."""
    return sorted(
        Credential.objects.filter(
            edition_id=edition_id,
            status=Credential.Status.ACTIVE,
            visitor__security_holds__released_at__isnull=True,
            visitor__security_holds__isnull=False,
        )
        .values_list("number", flat=True)
        .distinct()
    )


def earlier_scans(credential: Credential, *, before: datetime) -> list[EarlierScan]:
    """The holder's admitted scans of the day of ``before`` (Beijing) up to ``before``: what
    anti-passback looks at (the rules narrow it down further)."""
    local = before.astimezone(SHANGHAI)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        EarlierScan(
            number=credential.number,
            direction=direction,
            at=scanned_at,
            gate=gate,
            admitted=True,
        )
        for direction, scanned_at, gate in Scan.objects.filter(
            credential=credential,
            admitted=True,
            scanned_at__gte=day_start,
            scanned_at__lte=before,
        ).values_list("direction", "scanned_at", "gate")
    ]


def admissions(edition_id: int, *, visitors=None, days: int | None = None) -> dict:
    """Admissions (admitted entry scans) per day, per day and gate, and per hour of the day, in
    Beijing time; ``visitors`` (a queryset) limits to their credentials (a delegation's), and
    ``days`` to the last days. Five aggregate queries, whatever the numbers."""
    every_scan = Scan.objects.filter(edition_id=edition_id)
    if visitors is not None:
        every_scan = every_scan.filter(credential__visitor__in=visitors)
    scans = every_scan.filter(admitted=True, direction="in")
    if days is not None:
        scans = scans.filter(scanned_at__gte=datetime.now(tz=SHANGHAI) - timedelta(days=days))
    day = TruncDate("scanned_at", tzinfo=SHANGHAI)
    by_day = dict(
        scans.annotate(day=day).values_list("day").annotate(n=Count("pk")).order_by("day")
    )
    by_gate = list(
        scans.annotate(day=day)
        .values("day", "gate")
        .annotate(n=Count("pk"), forced=Count("pk", filter=Q(forced=True)))
        .order_by("day", "gate")
    )
    by_hour = dict(
        scans.annotate(hour=ExtractHour("scanned_at", tzinfo=SHANGHAI))
        .values_list("hour")
        .annotate(n=Count("pk"))
        .order_by("hour")
    )
    refused = dict(
        every_scan.filter(admitted=False)
        .values_list("reason")
        .annotate(n=Count("pk"))
        .order_by("reason")
    )
    flagged = every_scan.filter(flagged=True).count()
    return {
        "by_day": by_day,
        "by_gate": by_gate,
        "by_hour": by_hour,
        "refused": refused,
        "flagged": flagged,
    }
