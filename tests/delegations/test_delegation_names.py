"""Delegations, the edition and its entry periods named in English for visitors who chose English,
and delegations found by Chinese, pinyin, pinyin initials or English (landing page, admin,
sign-up picker)."""

import pytest
from django.conf import settings
from django.utils import translation

from delegations.models import Delegation
from tests.delegations.factories import DelegationFactory
from tests.registration.factories import UnitFactory


def _english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def test_the_guangdong_delegations_have_their_english_names(db):
    names = dict(Delegation.objects.values_list("code", "name_en"))
    assert names["gd"] == "Guangdong Trading Delegation"
    assert names["gd-guangzhou"] == "Guangzhou Sub-delegation"
    assert names["gd-science-technology"] == "Science and Technology Sub-delegation"
    assert all(names[code] for code in names if code.startswith("gd"))


def test_the_name_follows_the_language_and_falls_back_to_chinese(db, guangzhou):
    unnamed = DelegationFactory(name="上海交易团", name_en="")
    with translation.override("en"):
        assert guangzhou.display_name == str(guangzhou) == "Guangzhou Sub-delegation"
        assert unnamed.display_name == "上海交易团"
    with translation.override("zh-hans"):
        assert guangzhou.display_name == str(guangzhou) == "广东广州交易分团"


def test_the_landing_page_shows_english_names_in_english(client, edition, guangdong):
    edition.name_en = "The 10th China International Import Expo"
    edition.save()
    period = edition.entry_periods.get()
    period.name_en = "All days"
    period.save()
    DelegationFactory(name="上海交易团", name_en="")

    _english(client)
    content = client.get("/").content.decode()
    assert "The 10th China International Import Expo" in content
    assert "All days" in content
    assert "Guangdong Trading Delegation" in content
    assert "Guangzhou Sub-delegation" in content
    assert "广东广州交易分团" not in content
    assert "上海交易团" in content  # no English name: the Chinese one

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    content = client.get("/").content.decode()
    assert "广东广州交易分团" in content and "全程" in content
    assert "Guangzhou Sub-delegation" not in content


@pytest.mark.parametrize("query", ["Guangzhou", "guangzhou", "gz", "广州", "GUANGZHOU sub"])
def test_the_landing_page_finds_a_delegation_by_chinese_pinyin_or_english(client, edition, query):
    DelegationFactory(name="浙江交易团", name_en="Zhejiang Trading Delegation")
    content = client.get("/", {"q": query}).content.decode()
    assert "广东广州交易分团" in content
    assert "广东佛山交易分团" not in content
    assert "浙江交易团" not in content


def test_a_search_that_finds_nothing_says_so(client, edition):
    _english(client)
    content = client.get("/", {"q": "atlantis"}).content.decode()
    assert 'id="no-delegation-found"' in content
    assert "广东交易团" not in content


def test_the_dashboard_names_the_unit_s_delegation_in_english(client, edition, guangzhou):
    unit = UnitFactory(edition=edition, delegation=guangzhou)
    client.force_login(unit.account)
    _english(client)
    content = client.get("/accounts/").content.decode()
    assert "Guangzhou Sub-delegation" in content


def test_the_sign_up_picker_names_delegations_in_english_and_carries_pinyin(client, edition):
    client.post(
        "/accounts/register/",
        {"region": "mainland", "category": "enterprise", "kind": "unit", "privacy": "on"},
    )
    _english(client)
    content = client.get("/accounts/register/account/").content.decode()
    assert "Guangdong Trading Delegation · Guangzhou Sub-delegation" in content
    assert 'data-search="guangdongguangzhoujiaoyifentuan gdgzjyft guangzhousubdelegation"' in (
        content
    )


@pytest.mark.parametrize("query", ["Guangzhou", "guangzhou", "gz"])
def test_the_admin_finds_delegations_by_english_and_pinyin(client, organiser, query):
    client.force_login(organiser)
    response = client.get("/admin/delegations/delegation/", {"q": query})
    assert response.status_code == 200
    found = {row.code for row in response.context["cl"].result_list}
    assert "gd-guangzhou" in found
    assert "gd-foshan" not in found


def test_organisers_fill_in_english_names_in_the_admin(client, organiser, guangzhou):
    client.force_login(organiser)
    page = client.get(f"/admin/delegations/delegation/{guangzhou.pk}/change/").content.decode()
    assert 'name="name_en"' in page
