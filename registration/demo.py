"""Demo: a unit registered for the previous edition only, so that “我是往届进博会观众” can be tried
out by password, SMS code or email code."""

from ciie_portal.audit import audit_record
from ciie_portal.choices import Region, UnitCategory

from .models import IdType, PersonType, Unit, User, Visitor
from .validators import resident_id_check_char, uscc_check_char

RETURNING_USCC = "91440300MA5F8K2N1"  # the check character follows
RETURNING_USCC = RETURNING_USCC + uscc_check_char(RETURNING_USCC)


def load(context: dict) -> None:
    previous = context["previous_edition"]
    contact, _created = User.objects.get_or_create(username=RETURNING_USCC)
    contact.first_name = "周往届"
    contact.mobile = "13800138001"
    contact.email = "returning@example.com"
    contact.set_password("Returning#2026")
    contact.save()
    context["accounts"].append(
        ("往届单位 深圳往届示范科技有限公司", RETURNING_USCC, "Returning#2026",
         "/accounts/register/returning/")
    )  # fmt: skip
    unit, created = Unit.objects.get_or_create(
        edition=previous,
        uscc=RETURNING_USCC,
        defaults={
            "account": contact, "region": Region.MAINLAND, "category": UnitCategory.ENTERPRISE,
            "name": "深圳往届示范科技有限公司", "short_name": "往届示范",
            "status": Unit.Status.APPROVED, "province": "440000", "city": "440300",
            "district": "440305", "street": "深圳市南山区科技园科苑路 8 号",
            "contact_name": "周往届", "contact_title": "ms", "contact_mobile": "13800138001",
            "contact_email": "returning@example.com", "nature": "private", "industry": "6513",
            "capital_band": "under_30m", "interest_areas": ["technical_equipment"],
            "purchase_1y": "100_500", "purchase_5y": "500_1000",
        },
    )  # fmt: skip
    if created:
        audit_record(actor="demo", obj=unit, action="unit.create", to_state=unit.status)
    body = "44030519880606123"
    people = [
        # Held the previous credential and passed the review: may reuse it.
        (PersonType.MAINLAND, "黄往届", IdType.RESIDENT_ID, body + resident_id_check_char(body),
         Visitor.Status.REVIEW_PASSED),
        # Registered but never paid for.
        (PersonType.FOREIGN, "MILLER Anna", IdType.PASSPORT, "E87654321",
         Visitor.Status.PENDING_PAYMENT),
    ]  # fmt: skip
    for person_type, name, id_type, number, status in people:
        if Visitor.objects.filter(edition=previous).with_id_number(number).exists():
            continue
        visitor = Visitor(
            edition=previous, unit=unit, person_type=person_type, name=name, id_type=id_type,
            status=status, label="visitor",
        )  # fmt: skip
        visitor.id_number = number
        visitor.save()
        audit_record(actor="demo", obj=visitor, action="visitor.create", to_state=status)
    from .exhibitors import demo_directory

    # 展商名录: 12 exhibitors over the six areas, 3–4 products each (safe to run again).
    demo_directory.load(context["edition"])
