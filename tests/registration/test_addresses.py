"""Delivery addresses: at most five per unit, exactly one default, every change audited."""

from datetime import timedelta
from functools import partial

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from ciie_portal.models import AuditEntry
from registration.models import DeliveryAddress
from registration.services import address_create, address_delete, address_set_default
from tests.ciie_portal.factories import EditionFactory
from tests.conftest import on_postgres
from tests.races import run_at_once
from tests.registration.factories import DeliveryAddressFactory, UnitFactory


def add(unit, actor, n: int, **kwargs) -> DeliveryAddress:
    return address_create(
        unit=unit,
        actor=actor,
        recipient=f"收件人{n}",
        mobile=f"1390000000{n}",
        address=f"上海市青浦区崧泽大道{n}号",
        postcode="201702",
        **kwargs,
    )


def defaults(unit) -> list[int]:
    return list(
        DeliveryAddress.objects.filter(unit=unit, is_default=True).values_list("pk", flat=True)
    )


def audit(action: str):
    return AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(DeliveryAddress), action=action
    )


def test_it_makes_the_first_address_the_default(unit, contact):
    first = add(unit, contact, 1, province="310000", city="310100", district="310118")
    second = add(unit, contact, 2)

    stored = DeliveryAddress.objects.get(pk=first.pk)
    assert stored.unit == unit
    assert stored.recipient == "收件人1"
    assert stored.mobile == "13900000001"
    assert stored.address == "上海市青浦区崧泽大道1号"
    assert stored.postcode == "201702"
    assert (stored.province, stored.city, stored.district) == ("310000", "310100", "310118")
    assert stored.is_default
    assert not DeliveryAddress.objects.get(pk=second.pk).is_default
    assert defaults(unit) == [first.pk]


def test_a_new_default_address_takes_the_default(unit, other_unit, contact, other_contact):
    first = add(unit, contact, 1)
    add(unit, contact, 2)
    elsewhere = add(other_unit, other_contact, 1)

    third = add(unit, contact, 3, is_default=True)

    assert third.is_default
    assert defaults(unit) == [third.pk]
    assert not DeliveryAddress.objects.get(pk=first.pk).is_default
    # Another unit's default is not touched.
    assert defaults(other_unit) == [elsewhere.pk]


def test_it_refuses_a_sixth_address(unit, other_unit, contact, other_contact):
    for n in range(1, 6):
        add(unit, contact, n)
    add(other_unit, other_contact, 1)

    with pytest.raises(ValidationError) as error, translation.override("en"):
        add(unit, contact, 6, is_default=True)

    assert "at most 5" in " ".join(error.value.messages)
    assert DeliveryAddress.objects.filter(unit=unit).count() == 5
    assert not DeliveryAddress.objects.filter(unit=unit, recipient="收件人6").exists()
    assert len(defaults(unit)) == 1
    assert audit("address.create").filter(object_repr__startswith="收件人6").count() == 0
    # The limit is per unit.
    assert DeliveryAddress.objects.filter(unit=other_unit).count() == 1


def test_it_sets_the_default(unit, contact):
    first = add(unit, contact, 1)
    second = add(unit, contact, 2)
    third = add(unit, contact, 3)

    result = address_set_default(address=third, actor=contact)

    assert result.is_default
    assert defaults(unit) == [third.pk]
    assert not DeliveryAddress.objects.get(pk=first.pk).is_default
    assert not DeliveryAddress.objects.get(pk=second.pk).is_default

    # Setting the default that already is the default changes nothing.
    address_set_default(address=DeliveryAddress.objects.get(pk=third.pk), actor=contact)
    assert defaults(unit) == [third.pk]


def test_deleting_the_default_makes_the_oldest_remaining_the_default(unit, contact):
    now = timezone.now()
    # Created out of order: the oldest is not the one with the lowest id.
    newest = DeliveryAddressFactory(unit=unit, is_default=True)
    middle = DeliveryAddressFactory(unit=unit)
    oldest = DeliveryAddressFactory(unit=unit)
    for address, age in ((newest, 1), (middle, 2), (oldest, 3)):
        DeliveryAddress.objects.filter(pk=address.pk).update(created_at=now - timedelta(days=age))

    address_delete(address=newest, actor=contact)

    assert not DeliveryAddress.objects.filter(pk=newest.pk).exists()
    assert defaults(unit) == [oldest.pk]
    assert DeliveryAddress.objects.filter(unit=unit).count() == 2


def test_deleting_another_address_keeps_the_default(unit, contact):
    first = add(unit, contact, 1)
    second = add(unit, contact, 2)
    third = add(unit, contact, 3)
    address_set_default(address=third, actor=contact)

    address_delete(address=DeliveryAddress.objects.get(pk=first.pk), actor=contact)

    assert defaults(unit) == [third.pk]
    assert set(DeliveryAddress.objects.filter(unit=unit).values_list("pk", flat=True)) == {
        second.pk,
        third.pk,
    }


def test_deleting_the_last_address_leaves_none(unit, contact):
    only = add(unit, contact, 1)

    address_delete(address=only, actor=contact)

    assert not DeliveryAddress.objects.filter(unit=unit).exists()


def test_every_change_is_audited_with_its_actor(unit, contact, secretary):
    first = add(unit, contact, 1)
    second = add(unit, secretary, 2)
    second_pk = second.pk
    address_set_default(address=second, actor=contact)
    address_delete(address=second, actor=secretary)

    entries = list(AuditEntry.objects.order_by("pk"))
    assert [(e.action, e.object_id, e.actor_id, e.actor_repr) for e in entries] == [
        ("address.create", str(first.pk), contact.pk, contact.username),
        ("address.create", str(second_pk), secretary.pk, secretary.username),
        ("address.set_default", str(second_pk), contact.pk, contact.username),
        ("address.delete", str(second_pk), secretary.pk, secretary.username),
    ]
    content_type = ContentType.objects.get_for_model(DeliveryAddress)
    assert all(entry.content_type == content_type for entry in entries)
    assert entries[0].object_repr == "收件人1 上海市青浦区崧泽大道1号"
    assert entries[-1].object_repr == "收件人2 上海市青浦区崧泽大道2号"


def test_a_refused_address_is_not_audited(unit, contact):
    for n in range(1, 6):
        add(unit, contact, n)

    with pytest.raises(ValidationError):
        add(unit, contact, 6)

    assert audit("address.create").count() == 5


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_two_tabs_adding_the_fifth_address_at_once_make_five():
    unit = UnitFactory(edition=EditionFactory())
    actor = unit.account
    for n in range(1, 5):
        DeliveryAddressFactory(unit=unit, is_default=n == 1, recipient=f"收件人{n}")

    def tab(n):
        with translation.override("en"):
            return add(unit, actor, n)

    outcomes = run_at_once(*(partial(tab, n) for n in (5, 6)), timeout=30)
    created = [outcome.value for outcome in outcomes if outcome.ok]
    refused = [o.error for o in outcomes if isinstance(o.error, ValidationError)]
    errors = [o.error for o in outcomes if o.error and not isinstance(o.error, ValidationError)]

    assert errors == []
    assert len(created) == 1
    assert len(refused) == 1
    assert "at most 5" in " ".join(refused[0].messages)
    assert DeliveryAddress.objects.filter(unit=unit).count() == 5
    assert len(defaults(unit)) == 1
    assert audit("address.create").count() == 1


def test_deleting_a_stale_copy_of_the_new_default_keeps_one_default(unit, contact):
    first = add(unit, contact, 1)
    second = add(unit, contact, 2)
    stale_second = DeliveryAddress.objects.get(pk=second.pk)
    # Another tab makes the second address the default, then this tab deletes it.
    address_set_default(address=second, actor=contact)
    address_delete(address=stale_second, actor=contact)
    assert list(DeliveryAddress.objects.filter(unit=unit, is_default=True)) == [first]


def test_setting_a_deleted_address_as_default_is_refused(unit, contact):
    first = add(unit, contact, 1)
    second = add(unit, contact, 2)
    address_delete(address=DeliveryAddress.objects.get(pk=second.pk), actor=contact)
    with pytest.raises(ValidationError):
        address_set_default(address=second, actor=contact)
    assert list(DeliveryAddress.objects.filter(unit=unit, is_default=True)) == [first]
