"""A new enterprise registers and completes its unit information in a real browser."""

import re

import pytest
from playwright.sync_api import Page, expect

from ciie_portal.models import Notice
from delegations.models import Delegation
from registration.models import Unit
from tests.registration.factories import make_uscc

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def edition(edition):
    # Transactional tests empty the tables afterwards, reference data included: make sure the
    # delegations these journeys pick exist whatever ran before.
    guangdong, _ = Delegation.objects.get_or_create(
        code="gd", defaults={"name": "广东交易团", "province_code": "440000"}
    )
    Delegation.objects.get_or_create(
        code="gd-guangzhou", defaults={"name": "广东广州交易分团", "parent": guangdong}
    )
    return edition


PASSWORD = "Zx!9ciie-portal"

TEXT = {
    "zh-CN": {
        "register": "注册",
        "new": "新用户注册",
        "send": "发送验证码",
        "create": "创建账户",
        "save": "保存单位信息",
        "saved": "单位信息已保存",
        "autosaved": "已自动保存",
    },
    "en-US": {
        "register": "Register",
        "new": "New registration",
        "send": "Send code",
        "create": "Create account",
        "save": "Save unit information",
        "saved": "The unit information was saved",
        "autosaved": "Saved automatically",
    },
}


def _licence_png(tmp_path) -> str:
    from PIL import Image

    path = tmp_path / "licence.png"
    Image.new("RGB", (900, 600), "white").save(path)
    return str(path)


def _journey(page: Page, live_server, edition, tmp_path, language, n):
    text = TEXT[language]
    mobile = f"1391234{n:04d}"
    uscc = make_uscc(5000 + n)
    page.goto(live_server.url + "/")
    page.get_by_role("link", name=text["register"], exact=True).first.click()

    # Entry: region, category, unit registration, privacy.
    page.locator("input[name=region][value=mainland]").check()
    page.locator("input[name=category][value=enterprise]").check()
    page.locator("input[name=kind][value=unit]").check()
    page.locator("input[name=privacy]").check()
    page.get_by_role("button", name=text["new"]).click()

    # New account: search the delegation, fill in, verify the mobile by SMS code.
    page.locator("#delegation-filter").fill("广州")
    page.locator("#id_delegation").select_option(label="广东交易团 · 广东广州交易分团")
    page.locator("#id_name").fill("广州浏览器测试有限公司")
    page.locator("#id_uscc").fill(uscc)
    page.locator("#id_mobile").fill(mobile)
    page.get_by_role("button", name=text["send"]).click()
    expect(page.locator(".code-feedback")).to_contain_text("139****")
    code = Notice.objects.filter(recipient=mobile).latest("pk").params["code"]
    page.locator("#id_sms_code").fill(code)
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name=text["create"]).click()

    # Unit information.
    expect(page).to_have_url(re.compile(r"/accounts/unit/$"))
    page.locator("#id_short_name").fill("浏览器测试")
    page.locator("#id_province").select_option("440000")
    expect(page.locator("#id_city option[value='440100']")).to_have_count(1)
    page.locator("#id_city").select_option("440100")
    expect(page.locator("#id_district option[value='440106']")).to_have_count(1)
    page.locator("#id_district").select_option("440106")
    page.locator("#id_street").fill("天河路100号")
    # Autosave keeps what was typed so far.
    expect(page.locator("#autosave-status")).to_contain_text(text["autosaved"], timeout=12000)
    page.locator("input[name=capital_band][value=under_30m]").check()
    page.locator("#id_nature").select_option("private")
    page.locator("#id_industry").fill("6513 应用软件开发")
    page.locator("input[name=import_methods][value=general_trade]").check()
    page.locator("#id_revenue").fill("120")
    page.locator("#id_import_amount").fill("45")
    page.locator("#id_export_amount").fill("0")
    page.locator("input[name=licence]").set_input_files(_licence_png(tmp_path))
    page.locator("#id_contact_name").fill("陈联络")
    page.locator("input[name=contact_title][value=ms]").check()
    page.locator("#id_contact_mobile").fill(mobile)
    page.locator("#id_contact_department").fill("采购部")
    page.locator("#id_contact_position").fill("经理")
    page.locator("#id_contact_phone").fill("020-12345678")
    page.locator("#id_contact_email").fill("chen@example.com")
    page.locator("input[name=interest_areas][value=food_agricultural_products]").check()
    page.locator("#id_purchase_1y").select_option("1000_2000")
    page.locator("#id_purchase_5y").select_option("2000_5000")
    page.get_by_role("button", name=text["save"]).click()

    errors = page.locator(".is-invalid").evaluate_all("(els) => els.map(e => e.name)")
    assert not errors, errors
    expect(page.locator(".alert-success")).to_contain_text(text["saved"])
    unit = Unit.objects.get(uscc=uscc)
    assert unit.account.username == uscc
    assert (unit.district, unit.industry, unit.purchase_5y) == ("440106", "6513", "2000_5000")
    assert unit.licence
    assert unit.info_saved_at is not None


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_a_new_enterprise_registers_in_chinese(
    page, live_server, edition, tmp_path, browser_language
):
    _journey(page, live_server, edition, tmp_path, browser_language, 1)


@pytest.mark.phone
@pytest.mark.parametrize("browser_language", ["en-US"])
def test_a_new_enterprise_registers_in_english_on_a_phone(
    page, live_server, edition, tmp_path, browser_language
):
    assert page.viewport_size == {"width": 390, "height": 844}
    _journey(page, live_server, edition, tmp_path, browser_language, 2)
    # Nothing is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
