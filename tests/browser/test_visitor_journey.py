"""From a unit with its information to a submitted registration, in a real browser."""

import re

import pytest
from django.utils import timezone
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from registration.models import Unit, Visitor
from registration.validators import resident_id_sex
from tests.ciie_portal.factories import EntryPeriodFactory
from tests.registration.factories import PASSWORD, UnitFactory, make_resident_id

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = {
    "zh-CN": {
        "add_address": "添加地址",
        "addresses": "证件快递常用地址",
        "mainland": "+ 中国大陆地区人员",
        "foreign": "+ 其他国家/地区人员",
        "save": "保存",
        "submit_unit": "提交审核",
        "submitted": "预登记信息已提交",
    },
    "en-US": {
        "add_address": "Add address",
        "addresses": "Delivery addresses",
        "mainland": "+ Person from the Chinese mainland",
        "foreign": "+ Person from another country or region",
        "save": "Save",
        "submit_unit": "Submit for review",
        "submitted": "The registration was submitted",
    },
}


def _photo(tmp_path) -> str:
    image = Image.new("RGB", (413, 531), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((124, 80, 289, 292), fill=(90, 70, 60))
    draw.rectangle((62, 320, 351, 531), fill=(40, 50, 80))
    path = tmp_path / "photo.jpg"
    image.save(path, format="JPEG")
    return str(path)


@pytest.fixture
def ready_unit(edition):
    EntryPeriodFactory(edition=edition, name="后三天", first_day=edition.ends_on)
    edition.auto_approve_categories = []
    edition.save()
    unit = UnitFactory(edition=edition, info_saved_at=timezone.now(), contact_email="a@b.cn")
    unit.account.username = unit.uscc
    unit.account.save()
    return unit


def _sign_in(page: Page, live_server, unit):
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_username").fill(unit.uscc)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/$"))


def _journey(page, live_server, unit, tmp_path, language):
    text = TEXT[language]
    page.on("dialog", lambda dialog: dialog.accept())
    _sign_in(page, live_server, unit)

    # A delivery address.
    page.goto(live_server.url + "/accounts/addresses/")
    page.locator("#id_recipient").fill("陈联络")
    page.locator("#id_mobile").fill("13800138000")
    page.locator("#id_province").select_option("310000")
    expect(page.locator("#id_city option[value='310100']")).to_have_count(1)
    page.locator("#id_city").select_option("310100")
    expect(page.locator("#id_district option[value='310118']")).to_have_count(1)
    page.locator("#id_district").select_option("310118")
    page.locator("#id_address").fill("崧泽大道333号")
    page.locator("#id_postcode").fill("201702")
    page.get_by_role("button", name=text["add_address"], exact=True).click()
    expect(page.locator("body")).to_contain_text("崧泽大道333号")

    # A mainland visitor, saved with a photo.
    number = make_resident_id(21, birth="19850315", region="440106")
    page.goto(live_server.url + "/accounts/visitors/")
    page.get_by_role("link", name=text["mainland"]).click()
    page.locator("#id_name").fill("李明")
    page.locator(f"input[name=sex][value={resident_id_sex(number)}]").check()
    page.locator("#id_birth_date").fill("1985-03-15")
    page.locator("#id_id_number").fill(number)
    page.locator("#id_job_category").select_option("purchasing")
    page.locator("#id_position").fill("采购经理")
    page.locator("#id_mobile").fill("13912340000")
    page.locator("input[name=pickup][value=courier]").check()
    page.locator("#id_address").select_option(index=1)
    page.locator("#id_photo").set_input_files(_photo(tmp_path))
    page.get_by_role("button", name=text["save"], exact=True).click()
    expect(page.locator("#unsubmitted")).to_contain_text("1")

    # A foreign visitor, collected by the delegation.
    page.get_by_role("link", name=text["foreign"]).click()
    page.locator("#id_surname_en").fill("Smith")
    page.locator("#id_given_name_en").fill("John")
    page.locator("#id_permit_name").fill("SMITH JOHN")
    page.locator("input[name=sex][value=M]").check()
    page.locator("#id_birth_date").fill("1980-01-01")
    page.locator("#id_nationality").select_option("DE")
    page.locator("#id_id_number").fill("C01X00T47")
    page.locator("#id_job_category").select_option("sales")
    page.locator("#id_position").fill("Buyer")
    page.locator("#id_mobile").fill("+4915112345678")
    page.locator("input[name=pickup][value=delegation]").check()
    page.locator("#id_photo").set_input_files(_photo(tmp_path))
    page.get_by_role("button", name=text["save"], exact=True).click()
    invalid = page.locator(".invalid-feedback").all_inner_texts()
    assert not invalid, invalid
    expect(page.locator("#unsubmitted")).to_contain_text("2")

    # Preview and submit the unit with both visitors.
    page.goto(live_server.url + "/accounts/submit/")
    expect(page.locator("#unit-submit-form")).to_contain_text("SMITH John")
    # The visitors' consent to processing their ID documents and photos (PIPL art. 29).
    page.locator("#submit-sensitive-consent").check()
    page.get_by_role("button", name=text["submit_unit"]).click()
    expect(page.locator(".alert-success")).to_contain_text(text["submitted"])
    unit.refresh_from_db()
    assert unit.status == Unit.Status.SUBMITTED
    assert set(Visitor.objects.filter(unit=unit).values_list("status", flat=True)) == {
        Visitor.Status.SUBMITTED
    }
    assert Visitor.objects.filter(unit=unit, photo="").count() == 0


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_two_visitors_and_submission_in_chinese(
    page, live_server, ready_unit, tmp_path, browser_language
):
    _journey(page, live_server, ready_unit, tmp_path, browser_language)


@pytest.mark.phone
@pytest.mark.parametrize("browser_language", ["en-US"])
def test_two_visitors_and_submission_in_english_on_a_phone(
    page, live_server, ready_unit, tmp_path, browser_language
):
    _journey(page, live_server, ready_unit, tmp_path, browser_language)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
