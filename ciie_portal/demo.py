"""Demo editions: the current one (10th, 2027) and the previous one (9th, 2026)."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from .choices import UnitCategory
from .models import Edition, EntryPeriod, SideEvent
from .roles import roles_sync
from .services import edition_make_current

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


ORDINALS = {9: "9th", 10: "10th"}


def _edition(number: int, year: int, **overrides) -> Edition:
    values = {
        "name": f"第{'一二三四五六七八九十'[number - 1]}届中国国际进口博览会",
        "name_en": f"The {ORDINALS[number]} China International Import Expo",
        "starts_on": date(year, 11, 5),
        "ends_on": date(year, 11, 10),
        "registration_opens_at": _at(year - 1, 11, 20),
        "registration_closes_at": _at(year, 10, 20, 23, 59),
        "transfer_deadline": _at(year, 10, 12, 23, 59),
        "online_payment_deadline": _at(year, 10, 15, 23, 59),
        "reuse_fee_percent": Decimal("50.00"),
        # 7th edition rule: enterprises and public institutions are approved automatically.
        "auto_approve_categories": [UnitCategory.ENTERPRISE, UnitCategory.PUBLIC_INSTITUTION],
        # 2nd edition rule: these categories need a delegation's invitation code.
        "invitation_code_categories": [
            UnitCategory.GOVERNMENT,
            UnitCategory.PUBLIC_INSTITUTION,
            UnitCategory.SOCIAL_ORGANISATION,
        ],
        **overrides,
    }
    edition, _ = Edition.objects.update_or_create(number=number, defaults=values)
    for position, (name, name_en, first, last, fee) in enumerate(
        [
            ("全程", "All days", 6, 10, Decimal("200.00")),
            ("后三天", "Last three days", 8, 10, Decimal("100.00")),
        ]
    ):
        EntryPeriod.objects.update_or_create(
            edition=edition,
            first_day=date(year, 11, first),
            last_day=date(year, 11, last),
            defaults={"name": name, "name_en": name_en, "fee": fee, "position": position},
        )
    return edition


def load(context: dict) -> None:
    roles_sync()
    previous = _edition(9, 2026)
    current = _edition(10, 2027)
    edition_make_current(edition=current, actor="demo")
    _side_events(current)
    context.update(edition=current, previous_edition=previous)


def _side_events(edition: Edition) -> None:
    """配套活动: one taking sign-ups (a few places, so that the waiting list shows), one that
    needs the organiser's approval, one only listed."""
    for name, name_en, day, hour, places, approval in (
        ("进口食品供需对接会", "Imported food matchmaking", 6, 10, 3, False),
        ("医疗器械创新论坛", "Medical devices innovation forum", 7, 14, 50, True),
        ("虹桥国际经济论坛开幕式", "Hongqiao Forum: opening", 5, 9, None, False),
    ):
        starts = _at(2027, 11, day, hour)
        SideEvent.objects.update_or_create(
            edition=edition,
            name=name,
            defaults={
                "name_en": name_en,
                "starts_at": starts,
                "ends_at": _at(2027, 11, day, hour + 2),
                "venue": "国家会展中心（上海）",
                "organiser": "中国国际进口博览局",
                "contact": "021-12345678",
                "capacity": places,
                "signup_opens_at": _at(2026, 11, 20) if places else None,
                "signup_closes_at": _at(2027, 11, day - 1, 18) if places else None,
                "needs_approval": approval,
            },
        )
