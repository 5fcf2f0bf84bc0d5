from importlib import import_module

import pytest
from django.core.exceptions import ValidationError

from delegations.models import Delegation

source = import_module("delegations.migrations.0003_guangdong_delegation")


def test_guangdong_has_its_27_sub_delegations(db):
    guangdong = Delegation.objects.get(name="广东交易团")
    assert guangdong.parent is None
    assert guangdong.contact_unit == "广东省商务厅"
    names = list(guangdong.children.order_by("position").values_list("name", flat=True))
    assert len(names) == 27
    assert names[0] == "广东广州交易分团"
    assert names[25] == "广东农业交易分团"
    assert names[26] == "广东科技交易分团"
    assert len(set(names)) == 27


def test_rows_are_exactly_as_annex_2_gives_them(db):
    for _, name, unit, person, phone in source.ANNEX_2:
        delegation = Delegation.objects.get(name=name)
        assert delegation.contact_unit == unit
        contact = delegation.contacts.get()
        assert (contact.persons, contact.phone) == (person, phone)
    health = Delegation.objects.get(name="广东卫生健康交易分团").contacts.get()
    assert health.phone == "020-83828301、83885173"


def test_the_science_sub_delegation_has_its_two_contact_offices(db):
    science = Delegation.objects.get(name="广东科技交易分团")
    assert science.parent.name == "广东交易团"
    assert science.contact_unit == "广东省科学技术厅"
    offices = list(science.contacts.values_list("office", "persons", "phone"))
    assert offices == [
        ("省科技合作研究促进中心", "丘雅、黄莎莎", "020-83717947、83163254"),
        ("省科技厅成果与区域处", "郭映琦、杨保志", "020-83163891、83163862"),
    ]


def test_a_sub_delegation_cannot_have_sub_delegations(db):
    guangzhou = Delegation.objects.get(code="gd-guangzhou")
    nested = Delegation(name="广州某区分团", code="gz-nested", parent=guangzhou)
    with pytest.raises(ValidationError):
        nested.full_clean()
