"""Returning visitors (我是往届进博会观众): verify the earlier account by password, SMS code or
email code, and find the earlier unit and visitors brought forward; one-click registration links;
the import of an earlier edition's spreadsheet."""

import time
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation
from openpyxl import Workbook

from ciie_portal.models import AuditEntry, Notice
from ciie_portal.notices.services import render_notice
from registration.models import IdType, Label, PersonType, Unit, Visitor
from registration.returning import (
    ONE_CLICK_SALT,
    one_click_invite_send,
    one_click_token,
    unit_bring_forward,
)
from tests.ciie_portal.factories import EditionFactory
from tests.registration.factories import (
    PASSWORD,
    UnitFactory,
    UserFactory,
    VisitorFactory,
    make_resident_id,
    make_uscc,
)

URL = "/accounts/register/returning/"
NEW_PASSWORD = "Fresh-Lantern-72"
OLD_USCC = make_uscc(9001)
OLD_MOBILE = "13912345678"
OLD_EMAIL = "contact@shenzhen-old.example.com"
SMS_SENT = (
    "If this is the account of an earlier expo with a mobile number on file, a verification "
    "code was sent to that number."
)
EMAIL_SENT = (
    "If this is the account of an earlier expo with an email address on file, a verification "
    "code was sent to that address."
)
WRONG_PASSWORD = "The account or the password is not correct."


@pytest.fixture
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def previous_edition(db):
    return EditionFactory(number=9)


@pytest.fixture
def old_unit(previous_edition, guangzhou):
    account = UserFactory(username=OLD_USCC, mobile=OLD_MOBILE, email="")
    return UnitFactory(
        edition=previous_edition,
        account=account,
        delegation=guangzhou,
        uscc=OLD_USCC,
        name="深圳往届示范科技有限公司",
        short_name="往届示范",
        status=Unit.Status.APPROVED,
        province="440000",
        city="440300",
        district="440305",
        street="深圳市南山区科技园 1 号",
        capital_band="30m_100m",
        nature="private",
        industry="6510",
        revenue=Decimal("1200.50"),
        import_amount=Decimal("300.00"),
        import_methods=["general"],
        is_listed=True,
        contact_name="周往届",
        contact_title="ms",
        contact_mobile=OLD_MOBILE,
        contact_email=OLD_EMAIL,
        interest_areas=["food"],
        purchase_1y="1m_5m",
        recommendation_code="PARTNER1",
        licence="unit-documents/old-licence.png",
        info_saved_at="2026-05-01T10:00:00+08:00",
    )


@pytest.fixture
def old_visitors(old_unit):
    def visitor(n, status, label=Label.VISITOR):
        return VisitorFactory(
            unit=old_unit, id_number=make_resident_id(n), status=status, label=label
        )

    return {
        "passed": visitor(101, Visitor.Status.REVIEW_PASSED, Label.VIP),
        "failed": visitor(102, Visitor.Status.REVIEW_FAILED),
        "pending": visitor(103, Visitor.Status.PENDING_REVIEW),
        "cancelled": visitor(104, Visitor.Status.CANCELLED),
    }


def current_unit_of(user, edition):
    return Unit.objects.filter(account=user, edition=edition).first()


def signed_in_as(client):
    return client.session.get("_auth_user_id")


def send_code(client, method, username=OLD_USCC):
    response = client.post(
        f"{URL}?method={method}", {"method": method, "username": username, "send_code": "1"}
    )
    assert response.status_code == 200
    return response


def latest_code(recipient) -> str:
    notice = Notice.objects.filter(recipient=recipient).latest("pk")
    return notice.params["code"]


def assert_brought_forward(old_unit, visitors, edition):
    unit = current_unit_of(old_unit.account, edition)
    assert unit is not None
    assert unit.previous == old_unit
    assert unit.status == Unit.Status.DRAFT
    assert unit.info_saved_at is None
    assert unit.uscc == OLD_USCC
    assert unit.name == "深圳往届示范科技有限公司"
    assert unit.delegation == old_unit.delegation
    assert (unit.province, unit.city, unit.district) == ("440000", "440300", "440305")
    assert unit.revenue == Decimal("1200.50")
    assert unit.import_methods == ["general"]
    assert unit.is_listed is True
    assert unit.contact_email == OLD_EMAIL
    assert unit.interest_areas == ["food"]
    assert unit.recommendation_code == "PARTNER1"
    assert unit.licence.name == "unit-documents/old-licence.png"
    copies = {v.previous_id: v for v in Visitor.objects.filter(unit=unit)}
    assert set(copies) == {
        visitors["passed"].pk,
        visitors["failed"].pk,
        visitors["pending"].pk,
    }
    for key in ("passed", "failed", "pending"):
        copy, old = copies[visitors[key].pk], visitors[key]
        assert copy.edition == edition
        assert copy.status == Visitor.Status.SAVED
        assert copy.label == ""
        assert copy.name == old.name
        assert copy.id_number == old.id_number
        assert copy.id_number_index == old.id_number_index
        assert copy.reference != old.reference
        assert copy.reuse_eligible is (key == "passed")
    # The earlier edition is left as it was.
    assert Visitor.objects.filter(unit=old_unit).count() == 4
    return unit


# --- The three ways of verifying ------------------------------------------------------------


def test_it_brings_the_unit_forward_after_the_password(english, edition, old_unit, old_visitors):
    response = english.post(
        URL, {"method": "password", "username": OLD_USCC.lower()[:9] + " " + OLD_USCC[9:].lower(),
              "password": PASSWORD},
    )  # fmt: skip

    assert response.status_code == 302
    assert response["Location"] == "/accounts/unit/"
    unit = assert_brought_forward(old_unit, old_visitors, edition)
    assert signed_in_as(english) == str(old_unit.account_id)
    page = english.get(response["Location"]).content.decode()
    assert "Your earlier registration was brought forward. Please check and complete it." in page
    assert AuditEntry.objects.filter(action="unit.bring_forward", object_id=str(unit.pk)).exists()
    assert AuditEntry.objects.filter(action="visitor.bring_forward").count() == 3


def test_it_brings_the_unit_forward_after_an_sms_code(english, edition, old_unit, old_visitors):
    page = send_code(english, "sms").content.decode()
    # Where the code went is not shown: the same answer comes for a name that is no account.
    assert SMS_SENT in page
    assert "139****5678" not in page
    notice = Notice.objects.latest("pk")
    assert (notice.channel, notice.recipient) == ("sms", OLD_MOBILE)

    response = english.post(
        f"{URL}?method=sms",
        {
            "method": "sms",
            "username": OLD_USCC,
            "code": latest_code(OLD_MOBILE),
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/unit/"
    assert_brought_forward(old_unit, old_visitors, edition)
    old_unit.account.refresh_from_db()
    assert old_unit.account.check_password(NEW_PASSWORD)
    assert signed_in_as(english) == str(old_unit.account_id)


def test_it_brings_the_unit_forward_after_an_email_code(english, edition, old_unit, old_visitors):
    page = send_code(english, "email").content.decode()
    assert EMAIL_SENT in page
    assert "c***@shenzhen-old.example.com" not in page
    notice = Notice.objects.latest("pk")
    assert (notice.channel, notice.recipient) == ("email", OLD_EMAIL)

    response = english.post(
        f"{URL}?method=email",
        {
            "method": "email",
            "username": OLD_USCC,
            "code": latest_code(OLD_EMAIL),
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302
    assert_brought_forward(old_unit, old_visitors, edition)
    old_unit.account.refresh_from_db()
    assert old_unit.account.check_password(NEW_PASSWORD)


def test_it_sends_the_code_through_the_code_endpoint(english, edition, old_unit):
    response = english.post(
        "/accounts/register/code/",
        {"purpose": "returning", "channel": "email", "username": OLD_USCC},
    )

    assert response.status_code == 200
    assert response.json() == {"message": EMAIL_SENT, "sent_to": EMAIL_SENT, "wait_seconds": 60}
    notice = Notice.objects.latest("pk")
    assert (notice.channel, notice.recipient) == ("email", OLD_EMAIL)

    # A name that is no account gets the same answer, and nothing is sent.
    unknown = english.post(
        "/accounts/register/code/",
        {"purpose": "returning", "channel": "email", "username": make_uscc(4242)},
    )
    assert unknown.status_code == 200
    assert unknown.json() == response.json()
    assert Notice.objects.count() == 1


def test_it_takes_the_account_email_when_the_unit_has_none(english, edition, old_unit):
    Unit.objects.filter(pk=old_unit.pk).update(contact_email="")
    get_user_model().objects.filter(pk=old_unit.account_id).update(email="boss@example.com")

    page = send_code(english, "email").content.decode()

    assert EMAIL_SENT in page
    assert Notice.objects.latest("pk").recipient == "boss@example.com"


def test_a_wrong_password_is_refused(english, edition, old_unit, old_visitors):
    response = english.post(
        URL, {"method": "password", "username": OLD_USCC, "password": "Not-The-One-1"}
    )

    assert response.status_code == 200
    assert WRONG_PASSWORD in response.content.decode()
    assert current_unit_of(old_unit.account, edition) is None
    assert signed_in_as(english) is None
    assert english.session["returning_failed_methods"] == ["password"]


def test_a_wrong_code_is_refused(english, edition, old_unit, old_visitors):
    send_code(english, "sms")
    code = latest_code(OLD_MOBILE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    response = english.post(
        f"{URL}?method=sms",
        {
            "method": "sms",
            "username": OLD_USCC,
            "code": wrong,
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 200
    assert "The verification code is not correct." in response.content.decode()
    assert current_unit_of(old_unit.account, edition) is None
    old_unit.account.refresh_from_db()
    assert old_unit.account.check_password(PASSWORD)
    assert english.session["returning_failed_methods"] == ["sms"]


def test_an_unknown_account_is_refused(english, edition, old_unit):
    response = english.post(
        URL, {"method": "password", "username": make_uscc(4242), "password": PASSWORD}
    )

    # The answer of a wrong password: it does not tell that no account has this name.
    assert response.status_code == 200
    assert WRONG_PASSWORD in response.content.decode()
    assert "No account has this login name." not in response.content.decode()
    assert Unit.objects.filter(edition=edition).count() == 0


def test_an_account_without_an_earlier_registration_is_refused(english, edition, unit):
    response = english.post(
        URL, {"method": "password", "username": unit.account.username, "password": PASSWORD}
    )

    assert "This account has no registration from an earlier expo." in response.content.decode()
    assert signed_in_as(english) is None


def test_it_offers_to_register_anew_when_all_three_ways_fail(english, edition, old_unit):
    english.post(URL, {"method": "password", "username": OLD_USCC, "password": "Wrong-Guess-1"})
    page = english.get(URL).content.decode()
    assert "None of the three ways of verifying worked" not in page

    for method, recipient in (("sms", OLD_MOBILE), ("email", OLD_EMAIL)):
        send_code(english, method)
        wrong = f"{(int(latest_code(recipient)) + 1) % 1_000_000:06d}"
        english.post(
            f"{URL}?method={method}",
            {
                "method": method,
                "username": OLD_USCC,
                "code": wrong,
                "password1": NEW_PASSWORD,
                "password2": NEW_PASSWORD,
            },
        )

    page = english.get(URL).content.decode()
    assert (
        "None of the three ways of verifying worked: please register anew. Your earlier "
        "registration cannot then be brought forward."
    ) in page
    assert 'href="/accounts/register/"' in page
    assert current_unit_of(old_unit.account, edition) is None


def test_a_weak_new_password_is_not_a_failed_verification(english, edition, old_unit):
    send_code(english, "sms")

    response = english.post(
        f"{URL}?method=sms",
        {
            "method": "sms",
            "username": OLD_USCC,
            "code": latest_code(OLD_MOBILE),
            "password1": "123",
            "password2": "123",
        },
    )

    assert response.status_code == 200
    assert "This password is too short." in response.content.decode()
    assert "returning_failed_methods" not in english.session
    assert current_unit_of(old_unit.account, edition) is None


def test_an_account_already_registered_for_this_expo_just_signs_in(
    english, edition, old_unit, old_visitors
):
    current = UnitFactory(edition=edition, account=old_unit.account, uscc=OLD_USCC)

    response = english.post(URL, {"method": "password", "username": OLD_USCC, "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/"
    assert list(Unit.objects.filter(edition=edition)) == [current]
    assert not Visitor.objects.filter(unit=current).exists()
    assert signed_in_as(english) == str(old_unit.account_id)


# --- Bringing forward -----------------------------------------------------------------------


def test_it_never_brings_another_accounts_unit_into_this_account(
    english, edition, previous_edition, old_unit, old_visitors
):
    other_old = UnitFactory(edition=previous_edition, name="杭州往届贸易有限公司")
    theirs = VisitorFactory(
        unit=other_old, id_number=make_resident_id(201), status=Visitor.Status.REVIEW_PASSED
    )

    english.post(URL, {"method": "password", "username": OLD_USCC, "password": PASSWORD})

    mine = current_unit_of(old_unit.account, edition)
    assert mine.previous == old_unit
    assert mine.name == "深圳往届示范科技有限公司"
    assert not Visitor.objects.filter(unit=mine, previous=theirs).exists()
    assert current_unit_of(other_old.account, edition) is None
    assert list(Unit.objects.filter(edition=edition)) == [mine]

    # The service always creates the unit for the earlier unit's own account.
    theirs_now, copied, skipped = unit_bring_forward(
        previous_unit=other_old, edition=edition, actor=old_unit.account
    )
    assert theirs_now.account == other_old.account
    assert (copied, skipped) == (1, 0)
    assert Visitor.objects.get(unit=theirs_now).previous == theirs


def test_bringing_forward_twice_copies_once(edition, old_unit, old_visitors):
    first, copied, skipped = unit_bring_forward(
        previous_unit=old_unit, edition=edition, actor=old_unit.account
    )
    again, copied_again, skipped_again = unit_bring_forward(
        previous_unit=old_unit, edition=edition, actor=old_unit.account
    )

    assert (copied, skipped) == (3, 0)
    assert again == first
    assert (copied_again, skipped_again) == (0, 0)
    assert Unit.objects.filter(edition=edition).count() == 1
    assert Visitor.objects.filter(edition=edition).count() == 3
    assert AuditEntry.objects.filter(action="unit.bring_forward").count() == 1


def test_it_skips_visitors_already_registered_for_this_expo(
    edition, old_unit, old_visitors, other_unit
):
    VisitorFactory(unit=other_unit, id_number=old_visitors["pending"].id_number)

    unit, copied, skipped = unit_bring_forward(
        previous_unit=old_unit, edition=edition, actor=old_unit.account
    )

    assert (copied, skipped) == (2, 1)
    assert set(Visitor.objects.filter(unit=unit).values_list("previous_id", flat=True)) == {
        old_visitors["passed"].pk,
        old_visitors["failed"].pk,
    }


def test_it_refuses_a_unit_that_registered_anew(english, edition, old_unit):
    UnitFactory(edition=edition, uscc=OLD_USCC)  # another account took the code this year

    # A service called outside a request: English set here, not by the client's cookie.
    with translation.override("en"), pytest.raises(ValidationError, match="registered anew"):
        unit_bring_forward(previous_unit=old_unit, edition=edition, actor=None)
    assert current_unit_of(old_unit.account, edition) is None


# --- One-click registration -----------------------------------------------------------------


def test_it_mails_the_one_click_link_once_and_the_link_works(
    english, edition, previous_edition, old_unit, old_visitors, organiser,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    no_email = UnitFactory(edition=previous_edition, contact_email="")
    get_user_model().objects.filter(pk=no_email.account_id).update(email="")
    base = "https://expo.example.com/"

    with django_capture_on_commit_callbacks(execute=True):
        sent = one_click_invite_send(units=[old_unit, no_email], actor=organiser, base_url=base)
    again = one_click_invite_send(
        units=Unit.objects.filter(edition=previous_edition), actor=organiser, base_url=base
    )

    assert (sent, again) == (1, 0)
    notice = Notice.objects.get(key=f"one-click:{old_unit.pk}:{edition.number}")
    assert Notice.objects.filter(event="one_click_invite").count() == 1
    assert (notice.channel, notice.recipient) == ("email", OLD_EMAIL)
    assert notice.status == Notice.Status.SENT
    link = notice.params["link"]
    assert link.startswith("https://expo.example.com/accounts/register/returning/link/")
    assert link in render_notice(notice)["text"]

    path = link.removeprefix("https://expo.example.com")
    page = english.get(path)
    assert page.status_code == 200
    assert "深圳往届示范科技有限公司" in page.content.decode()
    assert signed_in_as(english) is None

    response = english.post(path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/unit/"
    assert_brought_forward(old_unit, old_visitors, edition)
    old_unit.account.refresh_from_db()
    assert old_unit.account.check_password(NEW_PASSWORD)
    assert signed_in_as(english) == str(old_unit.account_id)


def test_the_one_click_link_asks_for_matching_passwords(english, edition, old_unit):
    path = f"/accounts/register/returning/link/{one_click_token(old_unit)}/"

    response = english.post(path, {"password1": NEW_PASSWORD, "password2": "Other-Lantern-72"})

    assert response.status_code == 200
    assert "The two passwords do not match." in response.content.decode()
    assert current_unit_of(old_unit.account, edition) is None
    assert signed_in_as(english) is None


def test_a_tampered_one_click_link_is_refused(english, edition, old_unit, previous_edition):
    other_old = UnitFactory(edition=previous_edition)
    token = one_click_token(old_unit)
    pk, rest = token.split(":", 1)
    tampered = f"{other_old.pk}:{rest}"

    for bad in (tampered, token[:-2] + "xx", "nonsense"):
        response = english.post(
            f"/accounts/register/returning/link/{bad}/",
            {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
        assert response.status_code == 400
        assert "This registration link is not valid." in response.content.decode()
    assert Unit.objects.filter(edition=edition).count() == 0
    assert signed_in_as(english) is None


def test_an_expired_one_click_link_is_refused(english, edition, old_unit, monkeypatch):
    real_time = time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() - 15 * 24 * 3600)
    token = one_click_token(old_unit)
    monkeypatch.setattr(signing.time, "time", real_time)

    response = english.get(f"/accounts/register/returning/link/{token}/")

    assert response.status_code == 410
    assert "This registration link has expired." in response.content.decode()


def test_a_link_from_before_links_worked_once_is_never_accepted(english, edition, old_unit):
    token = signing.TimestampSigner(salt=ONE_CLICK_SALT).sign(str(old_unit.pk))

    response = english.post(
        f"/accounts/register/returning/link/{token}/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 410
    assert "This registration link has expired." in response.content.decode()
    assert signed_in_as(english) is None
    old_unit.account.refresh_from_db()
    assert old_unit.account.check_password(PASSWORD)


def test_a_link_of_an_account_already_registered_still_asks_for_the_password(
    english, edition, old_unit
):
    current = UnitFactory(edition=edition, account=old_unit.account, uscc=OLD_USCC)
    path = f"/accounts/register/returning/link/{one_click_token(old_unit)}/"

    page = english.get(path)

    assert page.status_code == 200
    assert 'name="password1"' in page.content.decode()
    assert signed_in_as(english) is None
    response = english.post(path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response["Location"] == "/accounts/"
    assert list(Unit.objects.filter(edition=edition)) == [current]


def test_units_registered_for_this_expo_get_no_invitation(edition, old_unit, organiser):
    UnitFactory(edition=edition, account=old_unit.account, uscc=OLD_USCC)

    sent = one_click_invite_send(units=[old_unit], actor=organiser, base_url="http://x")

    assert sent == 0
    assert not Notice.objects.filter(event="one_click_invite").exists()


# --- Import of an earlier edition -----------------------------------------------------------

HEADER = [
    "账号", "单位名称", "单位类别", "所在地区", "交易团", "联系人", "联系人手机", "联系人邮箱",
    "姓名", "人员类型", "证件类型", "证件号码", "人员标签", "背审结果",
]  # fmt: skip
IMPORT_USCC = make_uscc(7001)
OTHER_USCC = make_uscc(7002)


def _sheet(path, rows):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def _import_rows():
    good_id = make_resident_id(301, region="440305")
    bad_id = good_id[:-1] + ("0" if good_id[-1] != "0" else "1")
    unit_a = [IMPORT_USCC, "深圳导入科技有限公司", "企业", "中国大陆", "广东广州交易分团",
              "王导入", "13800001111", "import@example.com"]  # fmt: skip
    unit_b = [
        OTHER_USCC,
        "广州导入贸易有限公司",
        "enterprise",
        "中国大陆",
        "",
        "",
        "13800002222",
        "",
    ]
    return [
        [*unit_a, "李通过", "中国大陆地区人员", "居民身份证", good_id, "VIP", "通过"],
        [*unit_a, "陈待审", "中国大陆地区人员", "居民身份证", make_resident_id(302), "", ""],
        [*unit_a, "SMITH John", "其他国家/地区人员", "护照", "E12345678", "专业观众", "不通过"],
        [*unit_b, "赵校验", "中国大陆地区人员", "居民身份证", bad_id, "专业观众", "通过"],
        [*unit_b, "钱正常", "中国大陆地区人员", "居民身份证", make_resident_id(303), "", "通过"],
    ]


def test_it_imports_an_earlier_edition_and_again_without_duplicates(
    tmp_path, edition, previous_edition, guangzhou
):
    path = _sheet(tmp_path / "ciie9.xlsx", _import_rows())
    out = StringIO()

    call_command("import_previous_edition", str(path), edition=9, stdout=out)

    report = out.getvalue()
    assert "row 5 rejected: 证件号码" in report
    assert "5 rows, 4 imported, 1 rejected" in report
    users = get_user_model().objects.filter(username__in=[IMPORT_USCC, OTHER_USCC])
    assert users.count() == 2
    assert not any(user.has_usable_password() for user in users)
    account = users.get(username=IMPORT_USCC)
    assert (account.mobile, account.email) == ("13800001111", "import@example.com")
    unit = Unit.objects.get(edition=previous_edition, uscc=IMPORT_USCC)
    assert unit.account == account
    assert unit.name == "深圳导入科技有限公司"
    assert unit.delegation == guangzhou
    assert (unit.category, unit.region) == ("enterprise", "mainland")
    assert (unit.contact_name, unit.contact_email) == ("王导入", "import@example.com")
    visitors = {v.name: v for v in Visitor.objects.filter(unit=unit)}
    assert visitors["李通过"].status == Visitor.Status.REVIEW_PASSED
    assert visitors["李通过"].label == Label.VIP
    assert visitors["陈待审"].status == Visitor.Status.PENDING_REVIEW
    assert visitors["SMITH John"].status == Visitor.Status.REVIEW_FAILED
    assert (visitors["SMITH John"].person_type, visitors["SMITH John"].id_type) == (
        PersonType.FOREIGN,
        IdType.PASSPORT,
    )
    assert visitors["SMITH John"].id_number == "E12345678"
    other = Unit.objects.get(edition=previous_edition, uscc=OTHER_USCC)
    assert list(other.visitors.values_list("name", flat=True)) == ["钱正常"]

    again = StringIO()
    call_command("import_previous_edition", str(path), edition=9, stdout=again)

    assert "row 5 rejected" in again.getvalue()
    assert "Users created: 0. Units created: 0, updated: 0." in again.getvalue()
    assert "Visitors created: 0, updated: 0." in again.getvalue()
    assert get_user_model().objects.filter(username__in=[IMPORT_USCC, OTHER_USCC]).count() == 2
    assert Unit.objects.filter(edition=previous_edition).count() == 2
    assert Visitor.objects.filter(edition=previous_edition).count() == 4


def test_a_reimport_updates_the_review_result(tmp_path, edition, previous_edition):
    rows = _import_rows()[:1]
    call_command("import_previous_edition", str(_sheet(tmp_path / "a.xlsx", rows)), edition=9,
                 stdout=StringIO())  # fmt: skip
    rows[0][-1] = "不通过"
    call_command("import_previous_edition", str(_sheet(tmp_path / "b.xlsx", rows)), edition=9,
                 stdout=StringIO())  # fmt: skip

    visitor = Visitor.objects.get(edition=previous_edition)
    assert visitor.status == Visitor.Status.REVIEW_FAILED


def test_an_imported_account_verifies_by_sms_and_comes_forward(
    tmp_path, english, edition, previous_edition
):
    path = _sheet(tmp_path / "ciie9.xlsx", _import_rows())
    call_command("import_previous_edition", str(path), edition=9, stdout=StringIO())

    refused = english.post(URL, {"method": "password", "username": IMPORT_USCC, "password": "x"})
    # Said for every name (it must not tell which accounts have no password yet).
    assert "never had a password verifies by SMS or email code" in refused.content.decode()
    send_code(english, "sms", username=IMPORT_USCC)
    response = english.post(
        f"{URL}?method=sms",
        {
            "method": "sms",
            "username": IMPORT_USCC,
            "code": latest_code("13800001111"),
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302
    unit = Unit.objects.get(edition=edition, uscc=IMPORT_USCC)
    copies = {v.name: v.reuse_eligible for v in unit.visitors.all()}
    assert copies == {"李通过": True, "陈待审": False, "SMITH John": False}


def test_the_import_refuses_the_current_edition_and_missing_columns(tmp_path, edition):
    path = _sheet(tmp_path / "x.xlsx", [])
    with pytest.raises(CommandError, match="current"):
        call_command("import_previous_edition", str(path), edition=10)

    EditionFactory(number=8)
    workbook = Workbook()
    workbook.active.append(["账号", "单位名称"])
    workbook.save(tmp_path / "short.xlsx")
    with pytest.raises(CommandError, match="证件号码"):
        call_command("import_previous_edition", str(tmp_path / "short.xlsx"), edition=8)


def test_the_page_shows_the_three_ways(english, edition):
    for method, field in (("password", 'name="password"'), ("sms", 'name="code"'),
                          ("email", 'name="code"')):  # fmt: skip
        page = english.get(f"{URL}?method={method}").content.decode()
        assert field in page
        assert "Account and password" in page
        assert "Mobile SMS code" in page
        assert "Email code" in page
    assert 'name="password1"' not in english.get(URL).content.decode()


def test_failed_passwords_count_towards_the_lockout(english, settings, edition, old_unit):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        english.post(URL, {"method": "password", "username": OLD_USCC, "password": "Wrong-1a"})

    response = english.post(URL, {"method": "password", "username": OLD_USCC, "password": PASSWORD})

    assert response.status_code == 429
    assert current_unit_of(old_unit.account, edition) is None
    assert signed_in_as(english) is None
