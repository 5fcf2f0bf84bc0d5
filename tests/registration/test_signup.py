from datetime import timedelta

import pytest
from django.utils import timezone

from ciie_portal.choices import UnitCategory
from ciie_portal.models import Notice
from registration.models import InvitationCode, RecommendationCode, Unit, User, VerificationCode
from tests.registration.factories import UnitFactory, make_uscc

PASSWORD = "Zx!9ciie-portal"
MOBILE = "13912345670"


def enter(client, region="mainland", category="enterprise", kind="unit"):
    return client.post(
        "/accounts/register/",
        {"region": region, "category": category, "kind": kind, "privacy": "on"},
    )


def request_code(client, mobile=MOBILE, **meta):
    return client.post("/accounts/register/code/", {"purpose": "signup", "mobile": mobile}, **meta)


def last_code(mobile=MOBILE) -> str:
    return Notice.objects.filter(recipient=mobile).latest("pk").params["code"]


def account_data(guangzhou, **overrides):
    return {
        "delegation": guangzhou.pk,
        "name": "广州测试贸易有限公司",
        "uscc": make_uscc(4242),
        "mobile": MOBILE,
        "password1": PASSWORD,
        "password2": PASSWORD,
        **overrides,
    }


def test_the_entry_page_needs_the_privacy_consent(client, edition):
    response = client.post(
        "/accounts/register/", {"region": "mainland", "category": "enterprise", "kind": "unit"}
    )
    assert response.status_code == 200
    assert "请阅读并同意隐私条款" in response.content.decode()


def test_the_entry_page_refuses_an_overseas_category_for_a_mainland_unit(client, edition):
    response = enter(client, category=UnitCategory.OVERSEAS_ENTERPRISE)
    assert response.status_code == 200
    assert (
        "errorlist" in response.content.decode() or "invalid-feedback" in response.content.decode()
    )


def test_a_new_enterprise_registers_and_is_signed_in(client, edition, guangzhou):
    enter(client)
    assert request_code(client).json()["sent_to"] == "139****5670"
    data = account_data(guangzhou, sms_code=last_code())
    response = client.post("/accounts/register/account/", data)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/unit/"
    user = User.objects.get(username=data["uscc"])
    assert user.check_password(PASSWORD)
    assert user.mobile == MOBILE
    unit = Unit.objects.get(account=user)
    assert (unit.edition, unit.delegation, unit.name, unit.category) == (
        edition,
        guangzhou,
        "广州测试贸易有限公司",
        UnitCategory.ENTERPRISE,
    )
    assert unit.status == Unit.Status.DRAFT
    assert client.get("/accounts/").status_code == 200
    # The code was stored hashed only.
    stored = VerificationCode.objects.get()
    assert stored.used_at is not None
    assert last_code() not in stored.code_hash


def _refusal(client, guangzhou, **overrides):
    enter(client)
    request_code(client)
    data = account_data(guangzhou, sms_code=last_code(), **overrides)
    response = client.post("/accounts/register/account/", data)
    assert response.status_code == 200
    assert not User.objects.filter(username=data["uscc"]).exists() or overrides.get("uscc")
    return response.content.decode()


def test_it_refuses_a_duplicate_uscc_and_keeps_what_was_typed(client, edition, guangzhou):
    taken = UnitFactory(edition=edition)
    content = _refusal(client, guangzhou, uscc=taken.uscc, name="保留的单位名称")
    assert "已注册本届进博会" in content
    assert "保留的单位名称" in content
    assert Unit.objects.filter(uscc=taken.uscc).count() == 1


def test_it_refuses_a_bad_check_character(client, edition, guangzhou):
    good = make_uscc(77)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    content = _refusal(client, guangzhou, uscc=bad)
    assert "校验码" in content
    assert not Unit.objects.exists()


def test_it_refuses_a_wrong_sms_code(client, edition, guangzhou):
    enter(client)
    request_code(client)
    wrong = "000000" if last_code() != "000000" else "111111"
    response = client.post("/accounts/register/account/", account_data(guangzhou, sms_code=wrong))
    assert "验证码不正确" in response.content.decode()
    assert not Unit.objects.exists()


def test_it_refuses_an_expired_sms_code(client, edition, guangzhou):
    enter(client)
    request_code(client)
    VerificationCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(
        "/accounts/register/account/", account_data(guangzhou, sms_code=last_code())
    )
    assert "已过期" in response.content.decode()
    assert not Unit.objects.exists()


def test_a_second_code_within_60_seconds_is_refused_with_the_wait(client, edition):
    enter(client)
    assert request_code(client).status_code == 200
    VerificationCode.objects.update(created_at=timezone.now() - timedelta(seconds=30))
    refused = request_code(client)
    assert refused.status_code == 429
    assert 29 <= refused.json()["wait_seconds"] <= 31
    assert "秒" in refused.json()["error"]
    # At the 61st second the next code goes out.
    VerificationCode.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    assert request_code(client).status_code == 200
    assert VerificationCode.objects.count() == 2


def test_at_most_ten_codes_a_day_per_number(client, edition):
    enter(client)
    for n in range(10):
        assert request_code(client).status_code == 200, n
        VerificationCode.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    refused = request_code(client)
    assert refused.status_code == 429
    assert VerificationCode.objects.count() == 10


def test_at_most_ten_codes_a_day_per_address(client, edition):
    enter(client)
    for n in range(10):
        assert request_code(client, mobile=f"1391234{n:04d}").status_code == 200
    assert request_code(client, mobile="13999999999").status_code == 429


def test_the_send_code_button_works_without_javascript(client, edition, guangzhou):
    enter(client)
    data = account_data(guangzhou, send_code="1", name="无脚本单位")
    response = client.post("/accounts/register/account/", data)
    content = response.content.decode()
    assert "验证码已发送" in content
    assert "无脚本单位" in content
    assert VerificationCode.objects.filter(target=MOBILE).count() == 1


def test_a_government_unit_needs_an_invitation_code(client, edition, guangzhou):
    edition.invitation_code_categories = [UnitCategory.GOVERNMENT]
    edition.save()
    enter(client, category=UnitCategory.GOVERNMENT)
    request_code(client)
    response = client.post(
        "/accounts/register/account/", account_data(guangzhou, sms_code=last_code())
    )
    assert "invitation_code" in response.content.decode()
    assert "这个字段是必填项" in response.content.decode() or "必填" in response.content.decode()
    assert not Unit.objects.exists()


def test_an_invitation_code_places_the_unit_in_its_delegation(client, edition, guangzhou):
    edition.invitation_code_categories = [UnitCategory.GOVERNMENT]
    edition.save()
    InvitationCode.objects.create(edition=edition, code="GZ2027", delegation=guangzhou)
    enter(client, category=UnitCategory.GOVERNMENT)
    request_code(client)
    data = account_data(guangzhou, sms_code=last_code(), invitation_code="gz2027")
    del data["delegation"]
    assert client.post("/accounts/register/account/", data).status_code == 302
    assert Unit.objects.get().delegation == guangzhou


def test_a_recommendation_code_is_checked_when_given(client, edition, guangzhou):
    RecommendationCode.objects.create(edition=edition, code="Q2021537", partner="上海交易团")
    content = _refusal(client, guangzhou, recommendation_code="NOPE")
    assert "推荐码无效" in content
    client.logout()
    enter(client)
    VerificationCode.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    request_code(client)
    data = account_data(guangzhou, sms_code=last_code(), recommendation_code="q2021537")
    assert client.post("/accounts/register/account/", data).status_code == 302
    assert Unit.objects.get().recommendation_code == "Q2021537"


def test_an_overseas_unit_without_uscc_gets_an_account_number(client, edition):
    enter(client, region="other", category=UnitCategory.OVERSEAS_ENTERPRISE)
    mobile = "+4915112345678"
    request_code(client, mobile=mobile)
    data = {
        "name": "Example Trading GmbH",
        "mobile": mobile,
        "sms_code": last_code(mobile),
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    assert client.post("/accounts/register/account/", data).status_code == 302
    unit = Unit.objects.get()
    assert unit.uscc == ""
    assert len(unit.account_number) == 10 and unit.account_number.startswith("W")
    assert User.objects.get(username=unit.account_number) == unit.account


def test_the_signup_page_needs_the_entry_step(client, edition):
    response = client.get("/accounts/register/account/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/register/"


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_pages_are_translated(client, edition, language):
    client.cookies["django_language"] = language
    content = client.get("/accounts/register/").content.decode()
    if language == "en":
        assert "Unit category" in content
    else:
        assert "单位观众分类" in content or "单位类别" in content


def test_an_enterprise_without_code_joins_the_delegation_of_its_province(
    client, edition, guangdong
):
    enter(client)
    request_code(client)
    data = account_data(guangdong, sms_code=last_code(), province="440000")
    del data["delegation"]
    assert client.post("/accounts/register/account/", data).status_code == 302
    assert Unit.objects.get().delegation == guangdong


def test_a_province_without_a_delegation_is_refused(client, edition, guangdong):
    enter(client)
    request_code(client)
    data = account_data(guangdong, sms_code=last_code(), province="650000")
    del data["delegation"]
    response = client.post("/accounts/register/account/", data)
    assert response.status_code == 200
    assert "province" in response.context["form"].errors
    assert not Unit.objects.exists()


def test_the_licence_ocr_fills_in_name_and_code(client, edition):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from registration import ocr
    from tests.registration.test_ocr import encode, render_licence

    if not ocr.ocr_available():
        pytest.skip("Tesseract with chi_sim is not installed")
    enter(client)
    uscc = make_uscc(31)
    image = SimpleUploadedFile(
        "licence.png", encode(render_licence(uscc=uscc, name="广州示范贸易有限公司")), "image/png"
    )
    response = client.post("/accounts/register/licence-ocr/", {"licence": image})
    assert response.json() == {"available": True, "name": "广州示范贸易有限公司", "uscc": uscc}


def test_behind_a_proxy_the_ip_limit_counts_the_forwarded_address(client, edition, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    enter(client)
    for n in range(10):
        response = request_code(client, mobile=f"1391234{n:04d}", HTTP_X_FORWARDED_FOR="1.2.3.4")
        assert response.status_code == 200
    # Another visitor behind the same proxy is not held back by the first one's limit.
    assert (
        request_code(client, mobile="13999999999", HTTP_X_FORWARDED_FOR="5.6.7.8").status_code
        == 200
    )
    assert (
        request_code(client, mobile="13999999998", HTTP_X_FORWARDED_FOR="1.2.3.4").status_code
        == 429
    )
