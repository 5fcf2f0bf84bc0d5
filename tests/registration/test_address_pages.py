"""The delivery address pages (证件快递常用地址): list, add, edit, make default, delete."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ciie_portal.choices import Region, UnitCategory
from ciie_portal.models import AuditEntry
from registration.models import DeliveryAddress
from registration.services import address_update
from tests.registration.factories import DeliveryAddressFactory, UnitFactory

LIST = "/accounts/addresses/"
ADD = "/accounts/addresses/add/"


def edit_url(address) -> str:
    return f"/accounts/addresses/{address.pk}/edit/"


def delete_url(address) -> str:
    return f"/accounts/addresses/{address.pk}/delete/"


def default_url(address) -> str:
    return f"/accounts/addresses/{address.pk}/default/"


def valid_data(**overrides) -> dict:
    data = {
        "recipient": "李收件",
        "mobile": "139 0000 0001",
        "province": "310000",
        "city": "310100",
        "district": "310118",
        "address": "崧泽大道333号",
        "postcode": "201702",
    }
    data.update(overrides)
    return data


def defaults(unit) -> list[int]:
    return list(
        DeliveryAddress.objects.filter(unit=unit, is_default=True).values_list("pk", flat=True)
    )


@pytest.fixture
def signed_in(client, contact):
    client.force_login(contact)
    return client


@pytest.fixture
def english(signed_in):
    signed_in.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return signed_in


def test_adding_the_first_address_makes_it_the_default(signed_in, unit, contact):
    response = signed_in.post(ADD, valid_data())

    assert response.status_code == 302, response.context["form"].errors
    assert response["Location"] == LIST
    stored = DeliveryAddress.objects.get(unit=unit)
    assert stored.recipient == "李收件"
    assert stored.mobile == "13900000001"
    assert (stored.province, stored.city, stored.district) == ("310000", "310100", "310118")
    assert (stored.address, stored.postcode) == ("崧泽大道333号", "201702")
    assert stored.is_default
    assert AuditEntry.objects.filter(action="address.create", actor=contact).count() == 1

    page = signed_in.get(LIST)
    assert page.context["addresses"] == [stored]
    assert "上海市 青浦区 崧泽大道333号" in page.content.decode()


def test_the_list_page_adds_too_and_a_new_default_takes_over(signed_in, unit):
    first = DeliveryAddressFactory(unit=unit, is_default=True)

    response = signed_in.post(LIST, valid_data(recipient="第二位"))
    assert response.status_code == 302
    second = DeliveryAddress.objects.get(unit=unit, recipient="第二位")
    assert not second.is_default
    assert defaults(unit) == [first.pk]

    signed_in.post(LIST, valid_data(recipient="第三位", is_default="on"))
    third = DeliveryAddress.objects.get(unit=unit, recipient="第三位")
    assert defaults(unit) == [third.pk]
    # Default first.
    listed = signed_in.get(LIST).context["addresses"]
    assert [a.pk for a in listed] == [third.pk, first.pk, second.pk]


def test_the_list_shows_the_note_the_default_mark_and_the_buttons(english, unit):
    default = DeliveryAddressFactory(unit=unit, is_default=True, recipient="默认人")
    other = DeliveryAddressFactory(unit=unit, recipient="其他人")

    response = english.get(LIST)

    content = response.content.decode()
    assert "valid for the next six months" in content
    assert "free of charge" in content
    assert ">Default<" in content
    assert content.index("默认人") < content.index("其他人")
    assert f'action="{default_url(other)}"' in content
    assert f'action="{default_url(default)}"' not in content  # already the default
    for address in (default, other):
        assert f'href="{edit_url(address)}"' in content
        assert f'action="{delete_url(address)}"' in content
    assert content.count("csrfmiddlewaretoken") >= 4
    assert 'id="address-form"' in content
    assert 'data-division="district"' in content
    assert "limit" not in content.lower()


def test_edit_shows_the_address_and_saves_the_changes(signed_in, unit, contact):
    address = DeliveryAddressFactory(
        unit=unit, is_default=True, province="310000", city="310100", district="310118"
    )

    page = signed_in.get(edit_url(address))
    assert page.status_code == 200
    assert page.context["form"].initial["recipient"] == "王收件"
    assert 'value="310118" selected' in page.content.decode()

    response = signed_in.post(
        edit_url(address),
        valid_data(
            recipient="新收件人",
            mobile="13800138000",
            province="440000",
            city="440100",
            district="440106",
            address="天河路100号",
            postcode="510000",
        ),
    )

    assert response.status_code == 302, response.context["form"].errors
    address.refresh_from_db()
    assert (address.recipient, address.mobile, address.address, address.postcode) == (
        "新收件人",
        "13800138000",
        "天河路100号",
        "510000",
    )
    assert (address.province, address.city, address.district) == ("440000", "440100", "440106")
    # Unticked (the box is disabled on the default): it stays the default.
    assert address.is_default
    entry = AuditEntry.objects.get(action="address.update")
    assert entry.actor == contact
    assert entry.object_id == str(address.pk)
    assert "recipient" in entry.data["fields"]


def test_edit_can_make_the_address_the_default(signed_in, unit):
    first = DeliveryAddressFactory(unit=unit, is_default=True)
    second = DeliveryAddressFactory(unit=unit)

    response = signed_in.post(edit_url(second), valid_data(is_default="on"))

    assert response.status_code == 302, response.context["form"].errors
    assert defaults(unit) == [second.pk]
    first.refresh_from_db()
    assert not first.is_default


def test_address_update_never_leaves_the_unit_without_a_default(unit, contact):
    only = DeliveryAddressFactory(unit=unit, is_default=True)

    address_update(
        address=only, actor=contact, is_default=False, recipient="改名", street="新路1号"
    )

    only.refresh_from_db()
    assert only.is_default
    assert (only.recipient, only.address) == ("改名", "新路1号")
    assert AuditEntry.objects.get(action="address.update").data == {
        "fields": ["recipient", "address"]
    }
    with pytest.raises(TypeError):
        address_update(address=only, actor=contact, unit=None)


def test_editing_an_address_deleted_in_another_tab_is_refused(unit, contact):
    address = DeliveryAddressFactory(unit=unit, is_default=True)
    stale = DeliveryAddress.objects.get(pk=address.pk)
    DeliveryAddress.objects.filter(pk=address.pk).delete()

    with pytest.raises(ValidationError):
        address_update(address=stale, actor=contact, recipient="改名")
    assert not AuditEntry.objects.filter(action="address.update").exists()


def test_make_default(signed_in, unit, contact):
    first = DeliveryAddressFactory(unit=unit, is_default=True)
    second = DeliveryAddressFactory(unit=unit)

    response = signed_in.post(default_url(second))

    assert response.status_code == 302
    assert response["Location"] == LIST
    assert defaults(unit) == [second.pk]
    assert AuditEntry.objects.filter(action="address.set_default", actor=contact).count() == 1
    assert first.pk not in defaults(unit)


def test_deleting_the_default_makes_the_oldest_remaining_the_default(signed_in, unit):
    now = timezone.now()
    newest = DeliveryAddressFactory(unit=unit, is_default=True)
    middle = DeliveryAddressFactory(unit=unit)
    oldest = DeliveryAddressFactory(unit=unit)
    for address, age in ((newest, 1), (middle, 2), (oldest, 3)):
        DeliveryAddress.objects.filter(pk=address.pk).update(created_at=now - timedelta(days=age))

    response = signed_in.post(delete_url(newest))

    assert response.status_code == 302
    assert not DeliveryAddress.objects.filter(pk=newest.pk).exists()
    assert defaults(unit) == [oldest.pk]


def test_the_buttons_only_post(signed_in, unit):
    address = DeliveryAddressFactory(unit=unit, is_default=True)
    assert signed_in.get(delete_url(address)).status_code == 405
    assert signed_in.get(default_url(address)).status_code == 405
    assert DeliveryAddress.objects.filter(pk=address.pk).exists()


def test_the_sixth_address_is_refused_with_everything_kept(english, unit):
    for n in range(5):
        DeliveryAddressFactory(unit=unit, is_default=n == 0)

    listed = english.get(LIST)
    assert listed.context["form"] is None
    assert "You have reached the limit of 5 addresses" in listed.content.decode()
    assert 'id="address-form"' not in listed.content.decode()

    for url in (ADD, LIST):
        response = english.post(url, valid_data(recipient="第六位", address="第六大道6号"))

        assert response.status_code == 200
        form = response.context["form"]
        assert "at most 5 delivery addresses" in " ".join(form.non_field_errors())
        content = response.content.decode()
        assert "at most 5 delivery addresses" in content
        assert 'value="第六位"' in content
        assert 'value="第六大道6号"' in content
        assert 'value="310118" selected' in content
        assert DeliveryAddress.objects.filter(unit=unit).count() == 5
        assert not DeliveryAddress.objects.filter(recipient="第六位").exists()


def test_a_district_of_another_city_is_refused(signed_in, unit):
    # 440106 天河区 is in 广州, not in 上海.
    response = signed_in.post(ADD, valid_data(district="440106"))

    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["district"]
    assert form.errors.as_data()["district"][0].code == "district_invalid"
    assert 'value="李收件"' in response.content.decode()
    assert not DeliveryAddress.objects.filter(unit=unit).exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"mobile": "12345"}, "mobile"),
        ({"postcode": "20170"}, "postcode"),
        ({"province": ""}, "province"),
        ({"city": "440100"}, "city"),
        ({"district": ""}, "district"),
    ],
)
def test_mainland_fields_are_checked(signed_in, unit, overrides, field):
    response = signed_in.post(ADD, valid_data(**overrides))

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not DeliveryAddress.objects.filter(unit=unit).exists()


def test_a_unit_outside_the_mainland_types_the_address(edition):
    unit = UnitFactory(
        edition=edition,
        region=Region.OTHER,
        category=UnitCategory.OVERSEAS_ENTERPRISE,
        uscc="",
        account_number="W123456789",
    )
    client = Client()
    client.force_login(unit.account)

    page = client.get(ADD)
    assert "data-division" not in page.content.decode()
    response = client.post(
        ADD,
        {
            "recipient": "Jane Doe",
            "mobile": "+4915112345678",
            "address": "Unter den Linden 1, 10117 Berlin, Germany",
            "postcode": "",
            "province": "999999",  # ignored: there are no division fields
        },
    )

    assert response.status_code == 302, response.context["form"].errors
    stored = DeliveryAddress.objects.get(unit=unit)
    assert (stored.province, stored.city, stored.district, stored.postcode) == ("", "", "", "")
    assert stored.mobile == "+4915112345678"
    assert stored.is_default


def test_another_units_contact_cannot_touch_the_address(unit, other_unit, other_contact):
    address = DeliveryAddressFactory(unit=unit, is_default=True, recipient="本单位收件人")
    DeliveryAddressFactory(unit=other_unit, is_default=True, recipient="他单位收件人")
    other = Client()
    other.force_login(other_contact)

    assert other.get(edit_url(address)).status_code == 404
    assert other.post(edit_url(address), valid_data(recipient="篡改")).status_code == 404
    assert other.post(default_url(address)).status_code == 404
    assert other.post(delete_url(address)).status_code == 404

    address.refresh_from_db()
    assert address.recipient == "本单位收件人"
    assert address.is_default
    content = other.get(LIST).content.decode()
    assert "他单位收件人" in content
    assert "本单位收件人" not in content
    assert edit_url(address) not in content


def test_a_contact_without_a_unit_in_this_edition_gets_404(client, edition):
    from tests.registration.factories import UserFactory

    client.force_login(UserFactory())
    assert client.get(LIST).status_code == 404
    assert client.get(ADD).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, unit):
    address = DeliveryAddressFactory(unit=unit, is_default=True)

    for method, url in [
        ("get", LIST),
        ("post", LIST),
        ("get", ADD),
        ("get", edit_url(address)),
        ("post", delete_url(address)),
        ("post", default_url(address)),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url
    assert DeliveryAddress.objects.filter(pk=address.pk, is_default=True).exists()


def test_the_list_costs_the_same_for_one_and_five_addresses(
    signed_in, unit, django_assert_max_num_queries
):
    DeliveryAddressFactory(unit=unit, is_default=True, province="310000", city="310100")
    signed_in.get(LIST)  # the session is settled
    with CaptureQueriesContext(connection) as one:
        assert signed_in.get(LIST).status_code == 200

    for _n in range(4):
        DeliveryAddressFactory(unit=unit, province="440000", city="440100", district="440106")
    with django_assert_max_num_queries(len(one)):
        response = signed_in.get(LIST)
    assert len(response.context["addresses"]) == 5
