"""批量注册: secretaries register visitors from a spreadsheet, with a row-by-row report."""

import io
from datetime import date, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from ciie_portal.models import AuditEntry
from delegations.bulk import COLUMNS, NOTES_SHEET, bulk_register
from registration.models import Visitor
from registration.validators import resident_id_sex
from tests.registration.factories import (
    DeliveryAddressFactory,
    UnitFactory,
    VisitorFactory,
    make_resident_id,
)

TEMPLATE_URL = "/staff/bulk/template.xlsx"
UPLOAD_URL = "/staff/bulk/"
TITLES = list(COLUMNS.values())


def mainland(unit, n, *, birth="19850315", **overrides):
    number = make_resident_id(n, birth=birth, region="440106")
    row = {
        "unit": unit.uscc,
        "person_type": "中国大陆地区人员",
        "name": f"李明{n}",
        "sex": "男" if resident_id_sex(number) == "M" else "女",
        "birth_date": f"{birth[:4]}-{birth[4:6]}-{birth[6:]}",
        "id_type": "居民身份证",
        "id_number": number,
        "job_category": "采购人员",
        "position": "采购经理",
        "mobile": "13912340000",
        "email": "li@example.com",
        "entry_period": "全程",
        "pickup": "交易团代领",
    }
    row.update(overrides)
    return row


def foreigner(unit, **overrides):
    row = {
        "unit": unit.uscc,
        "person_type": "其他国家/地区人员",
        "surname_en": "Mueller",
        "given_name_en": "Hans",
        "permit_name": "MUELLER HANS",
        "sex": "男",
        "birth_date": datetime(1979, 5, 2),  # a date cell
        "nationality": "DE",
        "id_type": "护照",
        "id_number": "C01X00T47",
        "job_category": "技术人员",
        "position": "Engineer",
        "mobile": "+4915112345678",
        "email": "hans@example.com",
        "entry_period": "全程",
        "pickup": "快递",
    }
    row.update(overrides)
    return row


def hong_kong(unit, **overrides):
    row = {
        "unit": unit.uscc,
        "person_type": "港澳台地区人员",
        "name": "陈大文",
        "permit_name": "陈大文",
        "sex": "男",
        "birth_date": "1990/07/01",
        "nationality": "中国香港",
        "id_type": "港澳居民来往内地通行证",
        "id_number": "H1234567801",
        "job_category": "销售人员",
        "position": "销售总监",
        "mobile": "85291234567",
        "entry_period": "全程",
        "pickup": "交易团代领",
    }
    row.update(overrides)
    return row


def workbook(rows, *, titles=TITLES) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(titles)
    for row in rows:
        sheet.append([row.get(key, "") for key in COLUMNS])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(content: bytes, name="visitors.xlsx"):
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def post(client, user, rows, *, check=True):
    client.force_login(user)
    data = {"file": upload(workbook(rows))}
    if check:
        data["check"] = "on"
    response = client.post(UPLOAD_URL, data)
    assert response.status_code == 200
    return response


def refused(response) -> dict[int, list[tuple[str, str]]]:
    return {row.number: row.reasons for row in response.context["report"].refused}


@pytest.fixture
def address(unit):
    return DeliveryAddressFactory(unit=unit, is_default=True)


# --- Template ------------------------------------------------------------------------------------


def test_the_template_downloads_as_xlsx_with_the_column_titles(client, secretary, edition):
    client.force_login(secretary)
    response = client.get(TEMPLATE_URL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "attachment" in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book.worksheets[0]
    assert [cell.value for cell in sheet[1]] == TITLES
    example = {title: cell.value for title, cell in zip(TITLES, sheet[2], strict=True)}
    assert example["人员类型"] == "中国大陆地区人员"
    assert example["入场日期"] == "全程"
    notes = book[NOTES_SHEET]
    explained = {row[0] for row in notes.iter_rows(values_only=True)}
    assert set(TITLES) <= explained
    allowed = " ".join(str(row[-1]) for row in notes.iter_rows(values_only=True))
    for label in ("管理人员", "交易团代领", "港澳居民来往内地通行证", "中国（永居海外）"):
        assert label in allowed


def test_the_template_uploaded_as_it_is_saves_nothing(client, secretary, edition, unit):
    client.force_login(secretary)
    template = b"".join(client.get(TEMPLATE_URL).streaming_content)
    response = client.post(UPLOAD_URL, {"file": upload(template), "check": "on"})
    assert Visitor.objects.count() == 0
    assert list(refused(response)) == [2]  # the example row: its unit does not exist


# --- Upload --------------------------------------------------------------------------------------


def test_the_upload_page_renders_in_the_admin(client, secretary, edition):
    client.force_login(secretary)
    response = client.get(UPLOAD_URL)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="nav-sidebar"' in content  # admin.site.each_context: the admin's sidebar
    assert TEMPLATE_URL in content
    assert 'id="id_check" checked' in content  # the information check is on by default


def test_good_rows_are_saved_and_bad_rows_reported(
    client, secretary, edition, unit, other_unit, address
):
    bad_digit = mainland(unit, 4)
    bad_digit["id_number"] = bad_digit["id_number"][:-1] + (
        "0" if bad_digit["id_number"][-1] != "0" else "1"
    )
    rows = [
        mainland(unit, 1),  # row 2
        foreigner(unit),  # row 3
        hong_kong(unit),  # row 4
        bad_digit,  # row 5
        mainland(other_unit, 5),  # row 6: a unit of another delegation
    ]
    response = post(client, secretary, rows)
    report = response.context["report"]
    assert (report.saved_count, report.refused_count) == (3, 2)
    assert report.saved_rows == [2, 3, 4]
    assert Visitor.objects.count() == 3
    assert set(Visitor.objects.values_list("unit", flat=True)) == {unit.pk}
    assert not Visitor.objects.filter(unit=other_unit).exists()

    reasons = refused(response)
    assert list(reasons) == [5, 6]
    assert [column for column, _message in reasons[5]] == ["证件号码"]
    assert [column for column, _message in reasons[6]] == ["统一社会信用代码"]
    assert "not found" in reasons[6][0][1].lower() or "未找到" in reasons[6][0][1]
    content = response.content.decode()
    assert "证件号码" in content and "统一社会信用代码" in content

    saved = Visitor.objects.get(unit=unit, person_type="foreign")
    assert saved.status == Visitor.Status.SAVED
    assert saved.name == "MUELLER Hans"  # as the web form builds it
    assert saved.birth_date == date(1979, 5, 2)
    assert saved.nationality == "DE"
    assert saved.address == address  # 快递: the unit's default address
    hk = Visitor.objects.get(unit=unit, person_type="hmt")
    assert (hk.nationality, hk.id_type, hk.pickup) == ("HK", "home_return_permit", "delegation")
    first = Visitor.objects.get(unit=unit, person_type="mainland")
    assert first.entry_period == edition.entry_periods.get()
    assert first.job_category == "purchasing"
    # Saved by the secretary, on the record.
    assert AuditEntry.objects.filter(action="visitor.create").count() == 3


def test_a_row_error_never_undoes_the_other_rows(client, secretary, edition, unit):
    VisitorFactory(unit=unit, id_number=mainland(unit, 2)["id_number"])
    response = post(client, secretary, [mainland(unit, 1), mainland(unit, 2), mainland(unit, 3)])
    assert list(refused(response)) == [3]
    assert Visitor.objects.filter(unit=unit).count() == 3  # 1 before, 2 imported


def test_the_check_can_be_turned_off(client, secretary, edition, unit):
    wrong_birth = mainland(unit, 1, birth_date="1990-01-01")  # the number says 1985-03-15
    response = post(client, secretary, [wrong_birth], check=True)
    assert [column for column, _m in refused(response)[2]] == ["出生日期"]
    assert not Visitor.objects.exists()

    response = post(client, secretary, [wrong_birth], check=False)
    assert response.context["report"].saved_count == 1
    visitor = Visitor.objects.get()
    assert visitor.birth_date == date(1990, 1, 1)
    assert visitor.status == Visitor.Status.SAVED


def test_with_the_check_off_only_what_the_database_needs_is_checked(
    client, secretary, edition, unit
):
    bare = {
        "unit": unit.uscc,
        "person_type": "中国大陆地区人员",
        "name": "王五",
        "id_number": make_resident_id(7),  # ID type left empty: mainland has only one
    }
    nameless = {**mainland(unit, 8), "name": ""}
    response = post(client, secretary, [bare, nameless], check=False)
    assert response.context["report"].saved_rows == [2]
    assert [column for column, _m in refused(response)[3]] == ["姓名"]
    assert Visitor.objects.get().id_type == "resident_id"
    # With the check on, the bare row misses what the form requires.
    Visitor.objects.all().delete()
    response = post(client, secretary, [bare], check=True)
    columns = {column for column, _m in refused(response)[2]}
    assert {"性别", "出生日期", "职务类别", "职务", "手机", "领取方式"} <= columns


def test_a_duplicate_id_number_is_refused(client, secretary, edition, unit, other_unit):
    twice = mainland(unit, 1)
    registered = mainland(unit, 2)
    VisitorFactory(unit=other_unit, id_number=registered["id_number"])
    response = post(client, secretary, [twice, dict(twice, name="重复"), registered])
    reasons = refused(response)
    assert list(reasons) == [3, 4]
    assert reasons[3][0][0] == "证件号码" and "2" in reasons[3][0][1]
    assert reasons[4][0][0] == "证件号码"
    assert other_unit.name not in reasons[4][0][1]  # never says which unit holds it
    assert Visitor.objects.filter(unit=unit).count() == 1


def test_a_csv_renamed_xlsx_is_refused_with_a_message(client, secretary, edition, unit):
    client.force_login(secretary)
    csv = f"统一社会信用代码,人员类型,姓名\n{unit.uscc},中国大陆地区人员,李明\n"
    response = client.post(
        UPLOAD_URL, {"file": upload(csv.encode("utf-8"), "visitors.xlsx"), "check": "on"}
    )
    assert response.status_code == 200
    assert response.context["report"] is None
    errors = response.context["adminform"].form.errors["file"]
    assert errors and ".xlsx" in errors[0]
    assert not Visitor.objects.exists()
    response = client.post(UPLOAD_URL, {"file": upload(b"a,b\n", "visitors.csv")})
    assert response.context["adminform"].form.errors["file"]


def test_a_file_without_the_column_titles_is_refused(client, secretary, edition, unit):
    client.force_login(secretary)
    content = workbook([mainland(unit, 1)], titles=["A", "B", "C"])
    response = client.post(UPLOAD_URL, {"file": upload(content), "check": "on"})
    errors = response.context["adminform"].form.errors["file"]
    assert "统一社会信用代码" in errors[0]
    assert not Visitor.objects.exists()


def test_unknown_labels_are_reported_per_column(client, secretary, edition, unit):
    row = mainland(unit, 1, sex="男人", pickup="自取", entry_period="第一天", birth_date="昨天")
    response = post(client, secretary, [row])
    columns = [column for column, _m in refused(response)[2]]
    assert columns == ["性别", "领取方式", "出生日期", "入场日期"]
    assert "交易团代领" in dict(refused(response)[2])["领取方式"]


def test_courier_without_a_default_address_is_refused_when_checking(
    client, secretary, edition, unit
):
    response = post(client, secretary, [mainland(unit, 1, pickup="快递")])
    assert [column for column, _m in refused(response)[2]] == ["领取方式"]


# --- Who may import into which unit --------------------------------------------------------------


def test_another_delegations_secretary_cannot_import_into_this_unit(
    client, other_secretary, edition, unit
):
    response = post(client, other_secretary, [mainland(unit, 1)])
    reasons = refused(response)[2]
    assert [column for column, _m in reasons] == ["统一社会信用代码"]
    # The same words as for a code that does not exist at all.
    nowhere = post(client, other_secretary, [{**mainland(unit, 2), "unit": "91310000MA0000000X"}])
    assert refused(nowhere)[2] == reasons
    assert not Visitor.objects.exists()


def test_a_trade_delegation_secretary_imports_into_a_sub_delegations_unit(
    client, group_secretary, edition, unit
):
    response = post(client, group_secretary, [mainland(unit, 1)])
    assert response.context["report"].saved_count == 1
    assert Visitor.objects.get().unit == unit


def test_only_units_of_the_current_edition(client, secretary, edition, unit, guangzhou):
    from tests.ciie_portal.factories import EditionFactory

    old = UnitFactory(edition=EditionFactory(number=9), delegation=guangzhou)
    response = post(client, secretary, [mainland(old, 1)])
    assert [column for column, _m in refused(response)[2]] == ["统一社会信用代码"]


def test_finance_and_unit_contacts_get_no_access(client, finance, contact, edition):
    client.force_login(finance)
    assert client.get(UPLOAD_URL).status_code == 403
    assert client.get(TEMPLATE_URL).status_code == 403
    assert client.post(UPLOAD_URL, {}).status_code == 403
    client.force_login(contact)
    response = client.get(UPLOAD_URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.get(TEMPLATE_URL).status_code == 302


def test_the_service_reads_a_file_directly(secretary, edition, unit):
    report = bulk_register(
        rows_file=io.BytesIO(workbook([mainland(unit, 1), hong_kong(unit, nationality="德国")])),
        user=secretary,
        edition=edition,
    )
    assert report.saved_rows == [2]
    assert [column for column, _m in report.refused[0].reasons] == ["国籍/地区"]
