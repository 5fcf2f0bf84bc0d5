"""Demo people: secretaries, finance, organiser, the review, credential and gate staff, and one
unit with two visitors.

Passwords are printed by ``manage.py demo_load``; they are for a local demo only.
"""

from django.contrib.auth.models import Group

from ciie_portal.audit import audit_record
from ciie_portal.choices import Region, UnitCategory
from ciie_portal.roles import (
    CREDENTIAL_OFFICE,
    FINANCE,
    GATE,
    ORGANISER,
    SECRETARY,
    SECURITY_REVIEWER,
)
from registration.models import DeliveryAddress, IdType, PersonType, Unit, User, Visitor
from registration.services import address_create, visitor_create
from registration.validators import resident_id_check_char, uscc_check_char

from .models import Delegation, Secretary

DEMO_USCC = "91440101MA5CD3MP1"  # the check character follows
DEMO_USCC = DEMO_USCC + uscc_check_char(DEMO_USCC)


def _staff(username: str, password: str, *, group: str, first_name: str = "") -> User:
    user, _ = User.objects.get_or_create(username=username)
    user.is_staff = True
    user.first_name = first_name
    user.set_password(password)
    user.save()
    user.groups.set([Group.objects.get(name=group)])
    return user


def _secretary(username: str, password: str, delegation: Delegation) -> User:
    user = _staff(username, password, group=SECRETARY)
    Secretary.objects.update_or_create(user=user, defaults={"delegation": delegation})
    return user


def _resident_id(body: str) -> str:
    return body + resident_id_check_char(body)


def load(context: dict) -> None:
    edition = context["edition"]
    accounts = context["accounts"]
    guangdong = Delegation.objects.get(code="gd")
    guangzhou = Delegation.objects.get(code="gd-guangzhou")
    # A second trade delegation so that "another delegation's secretary" can be tried out.
    other, _ = Delegation.objects.update_or_create(
        code="demo-zj",
        defaults={
            "name": "浙江交易团（演示）",
            "name_en": "Zhejiang Trading Delegation (demo)",
            "contact_unit": "浙江省商务厅",
            "position": 100,
        },
    )

    _secretary("gd-secretary", "Guangdong#2027", guangdong)
    accounts.append(("秘书处 广东交易团", "gd-secretary", "Guangdong#2027", "/admin/"))
    _secretary("gz-secretary", "Guangzhou#2027", guangzhou)
    accounts.append(("秘书处 广东广州交易分团", "gz-secretary", "Guangzhou#2027", "/admin/"))
    _secretary("zj-secretary", "Zhejiang#2027", other)
    accounts.append(("秘书处 浙江交易团（演示）", "zj-secretary", "Zhejiang#2027", "/admin/"))
    _staff("finance", "Finance#2027", group=FINANCE, first_name="财务")
    accounts.append(("财务", "finance", "Finance#2027", "/admin/"))
    _staff("organiser", "Organiser#2027", group=ORGANISER, first_name="主办方")
    accounts.append(("主办方", "organiser", "Organiser#2027", "/admin/"))
    _staff("reviewer", "Reviewer#2027", group=SECURITY_REVIEWER, first_name="人员背审")
    accounts.append(("人员背审", "reviewer", "Reviewer#2027", "/admin/"))
    _staff("office", "Office#2027", group=CREDENTIAL_OFFICE, first_name="制证")
    accounts.append(("制证", "office", "Office#2027", "/admin/"))
    _staff("gate", "Gate#2027", group=GATE, first_name="入场核验")
    accounts.append(("入场核验", "gate", "Gate#2027", "/gate/"))

    contact, _ = User.objects.get_or_create(username=DEMO_USCC)
    contact.first_name = "陈联络"
    contact.mobile = "13800138000"
    contact.set_password("Unit#2027")
    contact.save()
    accounts.append(("单位联络员 广州示范贸易有限公司", DEMO_USCC, "Unit#2027", "/accounts/login/"))

    unit, created = Unit.objects.get_or_create(
        edition=edition,
        uscc=DEMO_USCC,
        defaults={
            "account": contact,
            "delegation": guangzhou,
            "region": Region.MAINLAND,
            "category": UnitCategory.ENTERPRISE,
            "name": "广州示范贸易有限公司",
            "short_name": "示范贸易",
        },
    )
    if created:
        audit_record(actor=contact, obj=unit, action="unit.create", to_state=unit.status)
    if not DeliveryAddress.objects.filter(unit=unit).exists():
        address_create(
            unit=unit,
            actor=contact,
            recipient="陈联络",
            mobile="13800138000",
            province="440000",
            city="440100",
            district="440106",
            address="广东省广州市天河区天河路 100 号",
            postcode="510620",
        )
    people = [
        (PersonType.MAINLAND, "李明", IdType.RESIDENT_ID, _resident_id("44010619850315123")),
        (PersonType.FOREIGN, "SMITH John", IdType.PASSPORT, "E12345678"),
    ]
    for person_type, name, id_type, number in people:
        if not Visitor.objects.filter(edition=edition).with_id_number(number).exists():
            visitor_create(
                unit=unit,
                actor=contact,
                person_type=person_type,
                name=name,
                id_type=id_type,
                id_number=number,
            )
