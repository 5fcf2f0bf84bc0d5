import pytest
from django.test import Client

from ciie_portal.choices import UnitCategory
from ciie_portal.models import AuditEntry
from registration import ocr
from registration.models import Unit, UnitDraft
from tests.registration.factories import UnitFactory
from tests.registration.images import big_noisy_jpeg, decompression_bomb, image_file, pdf_named_jpg


def valid_data(**overrides):
    data = {
        "name": "广州测试贸易有限公司",
        "short_name": "测试贸易",
        "province": "440000",
        "city": "440100",
        "district": "440106",
        "street": "天河路100号",
        "capital_band": "under_30m",
        "nature": "private",
        "industry": "6513 应用软件开发",
        "revenue": "120.50",
        "import_amount": "45",
        "export_amount": "0",
        "import_methods": ["general_trade", "cross_border_ecommerce"],
        "is_listed": "false",
        "contact_name": "陈联络",
        "contact_title": "ms",
        "contact_mobile": "13800138000",
        "contact_department": "采购部",
        "contact_position": "经理",
        "contact_phone": "020-12345678",
        "contact_email": "chen@example.com",
        "interest_areas": ["food_agricultural_products"],
        "interest_zones": ["dairy_products"],
        "purchase_1y": "1000_2000",
        "purchase_5y": "2000_5000",
    }
    data.update(overrides)
    return data


@pytest.fixture
def signed_in(client, contact):
    client.force_login(contact)
    return client


def test_it_saves_every_field_of_the_unit_information(signed_in, unit):
    data = valid_data(licence=image_file())
    response = signed_in.post("/accounts/unit/", data)
    assert response.status_code == 302, response.context["form"].errors
    unit.refresh_from_db()
    assert (unit.province, unit.city, unit.district) == ("440000", "440100", "440106")
    assert unit.industry == "6513"
    assert str(unit.revenue) == "120.50"
    assert unit.import_methods == ["general_trade", "cross_border_ecommerce"]
    assert unit.interest_areas == ["food_agricultural_products"]
    assert unit.purchase_5y == "2000_5000"
    assert unit.is_listed is False
    assert unit.contact_title == "ms"
    assert unit.info_saved_at is not None
    assert unit.licence.name.startswith("unit-documents/")
    assert AuditEntry.objects.filter(action="unit.info_save", actor=unit.account).exists()


def test_the_licence_is_served_only_to_its_unit(signed_in, unit, other_contact):
    signed_in.post("/accounts/unit/", valid_data(licence=image_file()))
    response = signed_in.get("/accounts/unit/licence/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, no-store"
    other = Client()
    other.force_login(other_contact)
    assert other.get("/accounts/unit/licence/").status_code == 404
    assert Client().get("/accounts/unit/licence/").status_code == 302


def test_staff_see_a_licence_only_within_their_delegation(
    signed_in, unit, secretary, other_secretary, finance
):
    signed_in.post("/accounts/unit/", valid_data(licence=image_file()))
    url = f"/staff/units/{unit.pk}/licence/"
    staff = Client()
    staff.force_login(secretary)
    response = staff.get(url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    for outsider in (other_secretary, finance):
        staff.force_login(outsider)
        assert staff.get(url).status_code == 404


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (pdf_named_jpg, "不是JPG或PNG图片"),
        (big_noisy_jpeg, "超过2 MB"),
        (decompression_bomb, "不是JPG或PNG图片"),
    ],
)
def test_it_refuses_bad_documents_and_keeps_the_rest(signed_in, unit, upload, message):
    response = signed_in.post("/accounts/unit/", valid_data(licence=upload(), short_name="保留"))
    assert response.status_code == 200
    content = response.content.decode()
    assert message in content
    assert 'value="保留"' in content
    unit.refresh_from_db()
    assert not unit.licence
    assert unit.info_saved_at is None


def test_a_valid_upload_is_kept_when_another_field_is_wrong(signed_in, unit):
    response = signed_in.post(
        "/accounts/unit/", valid_data(licence=image_file(), contact_email="not-an-email")
    )
    assert response.status_code == 200
    assert "licence-kept" in response.content.decode()
    # Fixed without choosing the file again.
    response = signed_in.post("/accounts/unit/", valid_data())
    assert response.status_code == 302
    unit.refresh_from_db()
    assert unit.licence


def test_a_district_from_another_city_is_refused(signed_in, unit):
    response = signed_in.post(
        "/accounts/unit/", valid_data(licence=image_file(), district="110101")
    )
    assert response.status_code == 200
    assert not Unit.objects.get(pk=unit.pk).info_saved_at


def test_an_unknown_industry_is_refused(signed_in, unit):
    response = signed_in.post("/accounts/unit/", valid_data(licence=image_file(), industry="9999"))
    assert response.status_code == 200
    assert "industry" in response.context["form"].errors


def test_a_government_unit_uploads_no_document(client, edition):
    unit = UnitFactory(edition=edition, category=UnitCategory.GOVERNMENT)
    client.force_login(unit.account)
    assert 'name="licence"' not in client.get("/accounts/unit/").content.decode()
    assert client.post("/accounts/unit/", valid_data()).status_code == 302


def test_autosave_survives_a_reload_and_a_new_login(signed_in, unit, contact):
    response = signed_in.post(
        "/accounts/unit/autosave/", {"short_name": "草稿简称", "street": "草稿地址"}
    )
    assert response.status_code == 200
    assert len(response.json()["saved_at"]) == 8
    draft = UnitDraft.objects.get(unit=unit)
    assert draft.data["short_name"] == ["草稿简称"]
    unit.refresh_from_db()
    assert unit.short_name == ""  # the draft never changes the unit itself
    fresh = Client()
    fresh.force_login(contact)
    content = fresh.get("/accounts/unit/").content.decode()
    assert 'value="草稿简称"' in content
    assert "草稿地址" in content
    # Saving the form for real removes the draft.
    assert signed_in.post("/accounts/unit/", valid_data(licence=image_file())).status_code == 302
    assert not UnitDraft.objects.filter(unit=unit).exists()


def test_autosave_never_touches_a_submitted_unit(signed_in, unit):
    Unit.objects.filter(pk=unit.pk).update(status=Unit.Status.SUBMITTED)
    response = signed_in.post("/accounts/unit/autosave/", {"short_name": "改不了"})
    assert response.status_code == 409
    assert not UnitDraft.objects.exists()
    page = signed_in.get("/accounts/unit/").content.decode()
    assert 'name="short_name"' not in page
    assert signed_in.post("/accounts/unit/", valid_data()).status_code == 200
    assert Unit.objects.get(pk=unit.pk).short_name == ""


def test_another_contact_never_sees_this_unit(unit, other_contact, other_unit):
    other = Client()
    other.force_login(other_contact)
    content = other.get("/accounts/unit/").content.decode()
    assert unit.name not in content
    assert other_unit.name in content


def test_without_tesseract_the_form_says_autofill_is_off(signed_in, unit, monkeypatch):
    monkeypatch.setattr(ocr, "ocr_available", lambda: False)
    content = signed_in.get("/accounts/unit/").content.decode()
    assert "自动识别" in content
    response = signed_in.post("/accounts/register/licence-ocr/", {"licence": image_file()})
    assert response.json() == {"available": False, "name": "", "uscc": ""}


def test_the_ocr_endpoint_refuses_a_renamed_pdf(signed_in, unit):
    response = signed_in.post("/accounts/register/licence-ocr/", {"licence": pdf_named_jpg()})
    assert response.status_code == 400


def test_the_ocr_endpoint_is_closed_to_strangers(client, edition):
    response = client.post("/accounts/register/licence-ocr/", {"licence": image_file()})
    assert response.status_code == 403
