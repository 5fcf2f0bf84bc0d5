"""The organiser's import of exhibitors and products: the row report, the preview that
changes nothing, the import (set-based, one audit entry), re-imports that update."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from ciie_portal.models import AuditEntry
from registration.exhibitors.directory import edition_has_exhibitors
from registration.exhibitors.importer import (
    COLUMNS,
    directory_check,
    directory_import,
    template_workbook,
)
from registration.exhibitors.models import Exhibitor, Product
from registration.reference import EXHIBITION_AREAS
from tests.ciie_portal.factories import EditionFactory

pytestmark = pytest.mark.django_db

TITLES = [titles[0] for titles in COLUMNS.values()]
EN_TITLES = [titles[1] for titles in COLUMNS.values()]


def row(**values) -> dict:
    base = {
        "exhibitor_code": "E001",
        "exhibitor_name": "上海医疗器械有限公司",
        "exhibitor_name_en": "Shanghai Medical Devices Co.",
        "country": "德国",
        "hall": "4.1",
        "booth": "A01",
        "area": "医疗器械及医药保健展区",
        "zone": "",
        "band": "",
        "contact_name": "",
        "contact_email": "",
        "product_code": "P1",
        "product_name": "超声诊断仪",
        "product_name_en": "Ultrasound scanner",
        "category": "医疗器械",
        "category_en": "Medical devices",
        "industry": "35",
        "description": "",
        "description_en": "",
    }
    base.update(values)
    return base


def csv_file(rows, *, titles=TITLES, bom=True, name="directory.csv") -> SimpleUploadedFile:
    stream = io.StringIO()
    writer = csv.writer(stream)
    writer.writerow(titles)
    for values in rows:
        writer.writerow([values.get(key, "") for key in COLUMNS])
    data = stream.getvalue().encode("utf-8")
    return SimpleUploadedFile(name, (b"\xef\xbb\xbf" if bom else b"") + data)


def xlsx_file(rows, *, titles=TITLES) -> SimpleUploadedFile:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(titles)
    for values in rows:
        sheet.append([values.get(key, "") for key in COLUMNS])
    stream = io.BytesIO()
    workbook.save(stream)
    return SimpleUploadedFile("directory.xlsx", stream.getvalue())


def do_import(upload, edition, actor=None):
    return directory_import(rows_file=upload, filename=upload.name, edition=edition, actor=actor)


def reasons(report) -> dict[int, str]:
    return {refused.number: " ".join(refused.messages) for refused in report.refused}


#: The exhibitor's columns left empty after its first row (as merged cells read).
SAME_EXHIBITOR = {
    key: ""
    for key in COLUMNS
    if key != "exhibitor_code" and not key.startswith(("product", "category", "desc", "industry"))
}

BAD_ROWS = [
    row(),  # 2: fine
    row(product_code="P2", product_name="血压计", product_name_en="Blood pressure monitor"),
    row(exhibitor_code="E002", area="月球展区"),  # 4: unknown area
    row(exhibitor_code="", product_code="P9"),  # 5: no exhibitor number
    row(exhibitor_code="E003", exhibitor_name="某公司", contact_email="not-an-email"),  # 6
    row(product_code="P1", product_name="重复"),  # 7: P1 twice for E001
    row(exhibitor_code="E004", exhibitor_name="Acme", country="Atlantis"),  # 8
    row(exhibitor_code="E005", exhibitor_name="某某", zone="不存在专区"),  # 9
    row(exhibitor_code="E006", exhibitor_name="某某某", industry="123"),  # 10
    row(exhibitor_code="E007", exhibitor_name="", product_code="P3"),  # 11: no name
    row(product_code="P4", exhibitor_name="另一个名字"),  # 12: differs from row 2
]


def test_the_preview_reports_each_bad_row_and_imports_nothing(edition):
    report = directory_check(rows_file=csv_file(BAD_ROWS), filename="x.csv", edition=edition)
    found = reasons(report)
    assert sorted(found) == [4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert "月球展区" in found[4] and "Unknown exhibition area" in found[4]
    assert "exhibitor number is missing" in found[5]
    assert "not-an-email" in found[6]
    assert "already on row 2" in found[7]
    assert "Atlantis" in found[8]
    assert "不存在专区" in found[9]
    assert "GB/T 4754" in found[10]
    assert "exhibitor name is missing" in found[11]
    assert "differ from row 2" in found[12]
    assert (report.exhibitors_new, report.products_new, report.total) == (1, 2, 11)
    assert not Exhibitor.objects.exists() and not Product.objects.exists()


def test_import_writes_valid_rows_with_search_text_and_industries(edition, organiser):
    report = do_import(csv_file(BAD_ROWS, bom=False), edition, organiser)
    assert report.applied and len(report.refused) == 9
    exhibitor = Exhibitor.objects.get()
    assert (exhibitor.edition, exhibitor.code, exhibitor.country.code) == (edition, "E001", "DE")
    assert exhibitor.area == "medical_healthcare"
    assert exhibitor.industries == ["35"]
    assert "上海医疗器械有限公司" in exhibitor.search_text
    assert "shanghai medical devices co." in exhibitor.search_text
    assert "shanghaiyiliaoqixieyouxiangongsi" in exhibitor.search_text
    assert "shylqxyxgs" in exhibitor.search_text
    assert "血压计" in exhibitor.search_text  # its products' names
    product = Product.objects.get(code="P2")
    assert product.search_text.startswith("血压计 blood pressure monitor xueyaji xyj ")
    entry = AuditEntry.objects.get(action="exhibitor_directory.import")
    assert entry.data["products_new"] == 2 and entry.data["refused"] == 9
    assert edition_has_exhibitors(edition.pk)


def test_reimport_updates_rather_than_duplicates(edition, organiser):
    do_import(csv_file([row(), row(product_code="P2", product_name="血压计")]), edition)
    first = Exhibitor.objects.get()
    report = do_import(
        xlsx_file(
            [
                row(exhibitor_name="上海新名字有限公司", booth="B02", zone="康复养老专区"),
                {**row(product_code="P3", product_name="轮椅", industry="37"), **SAME_EXHIBITOR},
            ],
            titles=EN_TITLES,  # English titles are understood too
        ),
        edition,
        organiser,
    )
    assert (report.exhibitors_new, report.exhibitors_updated) == (0, 1)
    assert (report.products_new, report.products_updated) == (1, 1)
    exhibitor = Exhibitor.objects.get()
    assert exhibitor.pk == first.pk and exhibitor.created_at == first.created_at
    assert (exhibitor.name, exhibitor.booth, exhibitor.zone) == (
        "上海新名字有限公司", "B02", "rehabilitation_elderly_care",
    )  # fmt: skip
    # P2 was not in the file: kept; the exhibitor's search reads every product.
    assert sorted(exhibitor.products.values_list("code", flat=True)) == ["P1", "P2", "P3"]
    assert exhibitor.industries == ["35", "37"]
    assert "血压计" in exhibitor.search_text and "轮椅" in exhibitor.search_text


def test_the_same_number_in_another_edition_is_another_exhibitor(edition):
    other = EditionFactory(number=11)
    do_import(csv_file([row()]), edition)
    do_import(csv_file([row()]), other)
    assert Exhibitor.objects.filter(code="E001").count() == 2
    assert Product.objects.count() == 2


def test_names_slugs_and_codes_are_understood(edition):
    report = do_import(
        csv_file(
            [
                row(
                    area="medical_healthcare",
                    zone="Biomedicine Zone",
                    country="Germany",
                    band="100万美元以下",
                    contact_email="a@example.com",
                ),
                row(
                    exhibitor_code="E2",
                    exhibitor_name="法国公司",
                    area="Automobile",
                    country="FRA",
                    band="under_100",
                    product_code="X",
                ),
                row(
                    exhibitor_code="E3",
                    exhibitor_name="台湾公司",
                    area="消费品",
                    country="中国台湾",
                    product_code="Y",
                ),
            ]  # fmt: skip
        ),
        edition,
    )
    assert not report.refused
    found = {e.code: e for e in Exhibitor.objects.all()}
    assert (found["E001"].zone, found["E001"].min_order_band) == ("biomedicine", "under_100")
    assert (found["E2"].area, found["E2"].country.code) == ("automobile", "FR")
    assert (found["E3"].area, found["E3"].country.code) == ("consumer_goods", "TW")


def test_exhibitor_columns_may_be_left_empty_after_its_first_row(edition):
    second = {**row(product_code="P2", product_name="血压计", industry=""), **SAME_EXHIBITOR}
    report = do_import(csv_file([row(), second]), edition)
    assert not report.refused
    assert Exhibitor.objects.get().booth == "A01"
    assert Product.objects.count() == 2


def test_a_file_without_the_needed_columns_is_refused(edition):
    upload = SimpleUploadedFile("x.csv", "展商编号,展品名称\nE1,X\n".encode())
    with pytest.raises(Exception, match="展商名称"):
        directory_check(rows_file=upload, filename="x.csv", edition=edition)


def test_a_csv_not_in_utf8_is_refused(edition):
    upload = SimpleUploadedFile("x.csv", ",".join(TITLES).encode("gbk"))
    with pytest.raises(Exception, match="UTF-8"):
        directory_check(rows_file=upload, filename="x.csv", edition=edition)


def test_a_few_thousand_rows_import_in_a_few_statements(edition, django_assert_max_num_queries):
    rows = [
        row(exhibitor_code=f"E{n // 10:04d}", exhibitor_name=f"医疗公司{n // 10}",
            product_code=f"P{n}", product_name=f"医疗设备{n}")
        for n in range(3000)
    ]  # fmt: skip
    upload = csv_file(rows)
    # A few statements on PostgreSQL; SQLite takes at most 999 parameters a statement (older
    # builds), so the 3,000 products' inserts and updates go in more batches there.
    bound = 20 if connection.vendor == "postgresql" else 60
    with django_assert_max_num_queries(bound):
        report = do_import(upload, edition)
    assert not report.refused
    assert Exhibitor.objects.count() == 300 and Product.objects.count() == 3000
    # Again: updates only, still a few statements.
    with django_assert_max_num_queries(bound):
        report = do_import(csv_file(rows), edition)
    assert (report.exhibitors_updated, report.products_updated) == (300, 3000)
    assert Product.objects.count() == 3000


def test_the_template_has_the_titles():
    workbook = load_workbook(io.BytesIO(template_workbook()), read_only=True)
    titles = [cell.value for cell in next(workbook.worksheets[0].iter_rows(max_row=1))]
    assert titles == TITLES


# --- The admin pages --------------------------------------------------------------------------


@pytest.fixture
def importer(organiser):
    organiser.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="registration",
            codename__in=["view_exhibitor", "add_exhibitor", "change_exhibitor"],
        )
    )
    return organiser


def test_admin_preview_then_import(client, edition, importer):
    client.force_login(importer)
    url = reverse("admin:registration_exhibitor_import")
    response = client.post(url, {"file": xlsx_file(BAD_ROWS), "edition": edition.pk})
    assert response.status_code == 200
    page = response.content.decode()
    assert "refused-rows" in page and "月球展区" in page
    assert not Exhibitor.objects.exists()
    plan = response.context["plan"]
    assert plan
    response = client.post(url, {"plan": plan})
    assert response.status_code == 200
    assert Exhibitor.objects.filter(edition=edition).count() == 1
    assert Product.objects.count() == 2
    # The plan is used once: the kept file is gone.
    response = client.post(url, {"plan": plan}, follow=True)
    assert Product.objects.count() == 2


def test_admin_template_download(client, importer):
    client.force_login(importer)
    response = client.get(reverse("admin:registration_exhibitor_import_template"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")


def test_admin_import_refused_without_permission(client, edition, secretary, organiser):
    url = reverse("admin:registration_exhibitor_import")
    template = reverse("admin:registration_exhibitor_import_template")
    client.force_login(secretary)
    assert client.get(url).status_code == 403
    response = client.post(url, {"file": csv_file([row()]), "edition": edition.pk})
    assert response.status_code == 403
    assert client.get(template).status_code == 403
    assert not Exhibitor.objects.exists()
    # The organiser's role holds the directory's permissions (ciie_portal/roles.py).
    client.force_login(organiser)
    assert client.get(url).status_code == 200
    assert client.get(template).status_code == 200


def test_admin_import_refused_for_a_unit_contact(client, edition, contact):
    client.force_login(contact)
    response = client.get(reverse("admin:registration_exhibitor_import"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_demo_directory_loads_twice_without_a_refused_row(edition):
    from registration.exhibitors import demo_directory

    demo_directory.load(edition)
    demo_directory.load(edition)
    assert Exhibitor.objects.filter(edition=edition).count() == 12
    assert set(Exhibitor.objects.values_list("area", flat=True)) == {
        slug for slug, _zh, _en in EXHIBITION_AREAS
    }
    assert 36 <= Product.objects.count() <= 48
