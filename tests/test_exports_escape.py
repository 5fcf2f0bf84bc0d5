"""No file the portal writes holds a live formula: a unit may name a visitor
``=HYPERLINK("http://evil","点击")``, a recipient ``=cmd|' /C calc'!A0``; every CSV and .xlsx
writes such a text as text, a single quote before it (``ciie_portal.spreadsheets.safe_cell``).

Each export is driven through its own page or admin action with a hostile value in every text
column it writes, and the file is read back (csv, openpyxl). The last tests make sure no module
writes a CSV or a workbook without going through ``ciie_portal/spreadsheets.py``.
"""

import ast
import csv
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from django.utils.translation import gettext_lazy
from openpyxl import load_workbook
from PIL import Image

from ciie_portal.roles import CREDENTIAL_OFFICE, SECURITY_REVIEWER
from ciie_portal.spreadsheets import (
    FORMULA_STARTS,
    NOTES_SHEET,
    cell_text,
    csv_rows_write,
    read_sheet,
    safe_cell,
    sheet_workbook,
)
from credentials.models import Credential, Parcel, PrintBatch
from credentials.production.services import (
    credentials_revoke_changed,
    production_job_run,
    production_job_start,
)
from credentials.review.spreadsheet import COLUMNS as REVIEW_COLUMNS
from credentials.review.spreadsheet import RESULT_PASSED
from delegations.bulk import COLUMNS as BULK_COLUMNS
from delegations.models import Delegation
from registration.models import Label, Pickup, Unit, Visitor
from tests.conftest import approved_unit_fixtures
from tests.registration.factories import UserFactory, VisitorFactory

# Labels, lock, the review and production need an approved unit (``delegations.gates``).
unit, other_unit = approved_unit_fixtures()

#: OWASP's examples: each starts with a character a spreadsheet reads as a formula.
HOSTILE = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

hostile_values = pytest.mark.parametrize("hostile", HOSTILE, ids=repr)


def quoted(text: str) -> str:
    """What a hostile text must read as in the file: the same text after a single quote."""
    assert text.startswith(FORMULA_STARTS), text  # the test puts a hostile value there
    return "'" + text


def csv_rows(content: bytes) -> list[list[str]]:
    text = content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def csv_by_title(content: bytes) -> list[dict[str, str]]:
    titles, *rows = csv_rows(content)
    return [dict(zip(titles, row, strict=True)) for row in rows]


def assert_no_formula_in_csv(content: bytes) -> None:
    """A cell that starts like a formula must be a number (a negative figure)."""
    for row in csv_rows(content):
        for value in row:
            if value.startswith(FORMULA_STARTS):
                float(value)  # raises for text: a formula Excel would run


def xlsx_text(value: str) -> str:
    """A text as openpyxl reads it back: XML turns a carriage return into a line feed."""
    return value.replace("\r", "\n")


def workbook_of(content: bytes):
    """The workbook, after checking that no cell of any sheet is a formula or text that a
    spreadsheet would take for one."""
    book = load_workbook(io.BytesIO(content))
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(FORMULA_STARTS), (
                        sheet.title,
                        cell.coordinate,
                        cell.value,
                    )
    return book


def sheet_by_title(sheet) -> list[dict]:
    titles, *rows = sheet.iter_rows(values_only=True)
    return [dict(zip(titles, row, strict=True)) for row in rows]


def hostile_unit(unit, guangzhou, hostile):
    """The unit and its delegation both named with the hostile text."""
    Delegation.objects.filter(pk=guangzhou.pk).update(name=hostile)
    Unit.objects.filter(pk=unit.pk).update(name=hostile)
    unit.refresh_from_db()
    return unit


def staff_of(group: str):
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


# --- The helper ----------------------------------------------------------------------------------


def test_safe_cell_quotes_formula_like_text_and_leaves_numbers_dates_and_nothing_alone():
    for text in HOSTILE:
        assert safe_cell(text) == "'" + text
    assert safe_cell("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert safe_cell("+86 139 0000 0000") == "'+86 139 0000 0000"  # OWASP's price: a quote
    assert safe_cell("张三") == "张三"
    assert safe_cell("a=1") == "a=1"  # only the first character counts
    assert safe_cell("'=1") == "'=1"  # already text for any spreadsheet
    assert safe_cell("") == ""
    assert safe_cell(None) is None
    for number in (0, 12, -5, -2.5, Decimal("-12.30"), Decimal("88.00"), True):
        assert safe_cell(number) is number  # a negative number is a number, not text
    assert safe_cell(date(2027, 11, 5)) == date(2027, 11, 5)
    assert safe_cell(datetime(2027, 11, 5, 9, 30)) == datetime(2027, 11, 5, 9, 30)
    # Anything else is written as its text, quoted like any text.
    label = gettext_lazy("label")
    assert type(safe_cell(label)) is str and safe_cell(label) == str(label)

    class Named:
        def __str__(self):
            return "-1+1"

    assert safe_cell(Named()) == "'-1+1"


def test_the_csv_writer_quotes_text_and_keeps_numbers_and_empty_cells():
    buffer = io.StringIO()
    csv_rows_write(
        buffer,
        [
            ["=1+1", -5, Decimal("-12.30"), None, "\t=1", "x,=1"],
            ["\r=1", 3.5, "", "+86 139", "@A1", 0],
        ],
        titles=["=title", "figure", "amount", "nothing", "tab", "comma"],
    )
    content = buffer.getvalue().encode("utf-8")
    assert content.startswith("\ufeff".encode())  # Excel reads UTF-8 only after a BOM
    assert csv_rows(content) == [
        ["'=title", "figure", "amount", "nothing", "tab", "comma"],
        ["'=1+1", "-5", "-12.30", "", "'\t=1", "x,=1"],
        ["'\r=1", "3.5", "", "'+86 139", "'@A1", "0"],
    ]
    assert_no_formula_in_csv(content)


def test_the_workbook_writer_types_text_as_text_and_keeps_numbers_dates_and_empty_cells():
    content = sheet_workbook(
        title="=sheet",
        titles=["=title", "figure", "amount", "when", "nothing", "code"],
        rows=[
            ['=HYPERLINK("http://x","y")', -5, Decimal("-12.30"), date(2027, 11, 5), None, "-7"],
            ["\t=1", 2.5, Decimal("3"), datetime(2027, 11, 5, 9, 30), "", "@SUM(A1)"],
        ],
        text_columns=["code"],
        choices={"code": ["通过", "不通过"]},
        notes=[["=note"], [], ["+header"], ["-line", 4]],
        notes_header=3,
    )
    book = workbook_of(content)
    sheet = book.worksheets[0]
    first, second = list(sheet.iter_rows(min_row=2))
    assert [cell.value for cell in sheet[1]][0] == "'=title"
    assert (first[0].value, first[0].data_type) == ('\'=HYPERLINK("http://x","y")', "s")
    assert (first[1].value, first[1].data_type) == (-5, "n")  # a negative number
    assert (first[2].value, first[2].data_type) == (-12.3, "n")
    assert first[3].value == datetime(2027, 11, 5) and first[3].is_date
    assert first[4].value is None  # nothing stays empty
    assert (first[5].value, first[5].number_format) == ("'-7", "@")
    assert [cell.value for cell in second] == [
        "'\t=1",
        2.5,
        3,
        datetime(2027, 11, 5, 9, 30),
        None,
        "'@SUM(A1)",
    ]
    notes = list(book[NOTES_SHEET].iter_rows(values_only=True))
    assert notes[0][0] == "'=note" and notes[2][0] == "'+header" and notes[3] == ("'-line", 4)
    # What the portal wrote reads back as it was: a review batch, a parcel list come back.
    rows = read_sheet(io.BytesIO(content), columns={"value": "=title", "code": "code"})
    assert [row.values for row in rows] == [
        {"value": '=HYPERLINK("http://x","y")', "code": "-7"},
        {"value": "=1", "code": "@SUM(A1)"},  # the tab goes as any outer space does
    ]


def test_reading_drops_only_the_quote_before_a_formula_like_text():
    assert cell_text("'=1+1") == "=1+1"
    assert cell_text("'+86 139") == "+86 139"
    assert cell_text("'abc") == "'abc"
    assert cell_text("O'Brien") == "O'Brien"
    assert cell_text(-5) == "-5"


# --- The secretaries' visitor list (CSV) --------------------------------------------------------


@hostile_values
def test_the_visitor_csv_export_writes_every_text_as_text(
    client, secretary, edition, unit, guangzhou, hostile
):
    hostile_unit(unit, guangzhou, hostile)
    period = edition.entry_periods.get()
    period.name = hostile
    period.save()
    visitor = VisitorFactory(
        unit=unit, name=hostile, reference=hostile[:12], id_number=hostile, entry_period=period
    )
    client.force_login(secretary)

    response = client.post(
        "/admin/registration/visitor/",
        {"action": "export_csv", "_selected_action": [visitor.pk]},
    )

    assert response["Content-Type"].startswith("text/csv")
    assert_no_formula_in_csv(response.content)
    [row] = csv_rows(response.content)[1:]
    reference, name, unit_name, delegation, _, id_number, _, _, entry_days = row
    assert (reference, name, unit_name, delegation) == (
        quoted(hostile[:12]),
        quoted(hostile),
        quoted(hostile),
        quoted(hostile),
    )
    assert entry_days == quoted(str(period))
    assert id_number == safe_cell(visitor.id_number_masked)  # masked: "=HY****Y\")"…


# --- The security review: the reviewer's batch and the delegation's list (.xlsx) ---------------


def awaiting_review(unit, hostile) -> Visitor:
    return VisitorFactory(
        unit=unit,
        status=Visitor.Status.PENDING_REVIEW,
        label=Label.VISITOR,
        sex="M",
        birth_date=date(1980, 1, 1),
        name=hostile,
        reference=hostile[:12],
        id_number=hostile,
    )


def assert_review_row(row: dict, visitor: Visitor, hostile: str) -> None:
    titles = REVIEW_COLUMNS
    assert row[titles["reference"]] == xlsx_text(quoted(hostile[:12]))
    assert row[titles["name"]] == xlsx_text(quoted(hostile))
    assert row[titles["unit"]] == xlsx_text(quoted(hostile))
    assert row[titles["delegation"]] == xlsx_text(quoted(hostile))
    assert row[titles["id_number"]] == safe_cell(visitor.id_number)  # in clear, normalised


@hostile_values
def test_the_review_batch_writes_every_text_as_text(roles, client, unit, guangzhou, hostile):
    hostile_unit(unit, guangzhou, hostile)
    visitor = awaiting_review(unit, hostile)
    client.force_login(staff_of(SECURITY_REVIEWER))

    response = client.post("/admin/credentials/reviewbatch/export/", {"limit": 100})

    assert response["Content-Type"].startswith(XLSX_TYPE)
    [row] = sheet_by_title(workbook_of(response.content).worksheets[0])
    assert_review_row(row, visitor, hostile)


@hostile_values
def test_the_delegations_review_list_writes_every_text_as_text(
    client, secretary, unit, guangzhou, hostile
):
    hostile_unit(unit, guangzhou, hostile)
    visitor = awaiting_review(unit, hostile)
    client.force_login(secretary)

    response = client.post("/admin/credentials/reviewbatch/delegation-list/")

    assert response["Content-Type"].startswith(XLSX_TYPE)
    [row] = sheet_by_title(workbook_of(response.content).worksheets[0])
    assert_review_row(row, visitor, hostile)


def test_a_review_batch_with_quoted_texts_imports_back_to_its_visitors(
    roles, client, unit, guangzhou
):
    """The import matches rows by reference and ID number: the quote must not break that."""
    hostile_unit(unit, guangzhou, HOSTILE[0])
    visitor = VisitorFactory(
        unit=unit,
        status=Visitor.Status.PENDING_REVIEW,
        label=Label.VISITOR,
        name=HOSTILE[0],
        id_number="-X1234567",  # an ID number as such a document might hold it
    )
    client.force_login(staff_of(SECURITY_REVIEWER))
    export = client.post("/admin/credentials/reviewbatch/export/", {"limit": 100})
    book = workbook_of(export.content)
    sheet = book.worksheets[0]
    titles = [cell.value for cell in sheet[1]]
    assert sheet.cell(row=2, column=titles.index(REVIEW_COLUMNS["id_number"]) + 1).value == (
        "'-X1234567"
    )
    sheet.cell(row=2, column=titles.index(REVIEW_COLUMNS["result"]) + 1).value = RESULT_PASSED
    buffer = io.BytesIO()
    book.save(buffer)

    imports = "/admin/credentials/reviewbatch/import/"
    preview = client.post(imports, {"file": SimpleUploadedFile("r.xlsx", buffer.getvalue())})
    client.post(imports, {"plan": preview.context["plan"]})

    visitor.refresh_from_db()
    assert visitor.status == Visitor.Status.REVIEW_PASSED


# --- The parcel list for the courier (.xlsx) -----------------------------------------------------


@hostile_values
def test_the_parcel_export_writes_every_text_as_text(
    roles, client, edition, unit, guangzhou, hostile
):
    hostile_unit(unit, guangzhou, hostile)
    parcel = Parcel.objects.create(
        number=hostile[:16],
        edition=edition,
        unit=unit,
        recipient=hostile,
        mobile=hostile[:20],
        address_text=hostile,
        postcode=hostile[:10],
        courier=hostile,
        tracking_number=hostile,
    )
    client.force_login(staff_of(CREDENTIAL_OFFICE))

    response = client.post(
        "/admin/credentials/parcel/", {"action": "export_xlsx", "_selected_action": [parcel.pk]}
    )

    assert response["Content-Type"].startswith(XLSX_TYPE)
    [row] = sheet_by_title(workbook_of(response.content).worksheets[0])
    assert row == {
        "包裹号": xlsx_text(quoted(hostile[:16])),
        "快递公司": xlsx_text(quoted(hostile)),
        "快递单号": xlsx_text(quoted(hostile)),
        "收件人": xlsx_text(quoted(hostile)),
        "收件人手机": xlsx_text(quoted(hostile[:20])),
        "收件地址": xlsx_text(quoted(hostile)),
        "邮编": xlsx_text(quoted(hostile[:10])),
        "单位名称": xlsx_text(quoted(hostile)),
        "证件数": 0,
    }


# --- The bulk registration template (.xlsx) ------------------------------------------------------


@hostile_values
def test_the_bulk_template_writes_the_entry_period_names_as_text(
    client, secretary, edition, hostile
):
    period = edition.entry_periods.get()
    period.name = hostile
    period.save()
    client.force_login(secretary)

    response = client.get("/staff/bulk/template.xlsx")

    book = workbook_of(b"".join(response.streaming_content))
    [example] = sheet_by_title(book.worksheets[0])
    assert example[BULK_COLUMNS["entry_period"]] == xlsx_text(quoted(hostile))
    notes = {row[0]: row for row in book[NOTES_SHEET].iter_rows(values_only=True)}
    assert notes[BULK_COLUMNS["entry_period"]][2] == xlsx_text(quoted(hostile))


# --- The print batch: its manifest and its cards' status now (CSV) -------------------------------


@pytest.fixture
def production(private_media):
    """What production needs: private storage, an empty revocation cache, English texts."""
    cache.clear()
    with translation.override("en"):
        yield


@pytest.fixture
def photo(production):
    buffer = io.BytesIO()
    Image.new("RGB", (413, 531), (200, 160, 130)).save(buffer, format="JPEG", quality=90)
    return default_storage.save("visitor-photos/photo.jpg", ContentFile(buffer.getvalue()))


@hostile_values
def test_the_print_batch_manifest_and_status_write_every_text_as_text(
    roles, client, edition, unit, guangzhou, photo, hostile
):
    hostile_unit(unit, guangzhou, hostile)
    visitor = VisitorFactory(
        unit=unit,
        status=Visitor.Status.REVIEW_PASSED,
        label=Label.VISITOR,
        entry_period=edition.entry_periods.first(),
        pickup=Pickup.COURIER,
        photo=photo,
        name=hostile,
        reference=hostile[:12],
    )
    job = production_job_start(edition=edition, actor=None)
    assert production_job_run(job_id=job.pk) == "done"
    Visitor.objects.filter(pk=visitor.pk).update(label=Label.VIP)
    assert credentials_revoke_changed([visitor.pk], hostile) == 1
    batch = PrintBatch.objects.get()
    client.force_login(staff_of(CREDENTIAL_OFFICE))

    manifest = client.get(f"/admin/credentials/printbatch/{batch.pk}/manifest.csv")
    status = client.get(f"/admin/credentials/printbatch/{batch.pk}/status.csv")

    manifest_content = b"".join(manifest.streaming_content)
    assert_no_formula_in_csv(manifest_content)
    [row] = csv_by_title(manifest_content)
    assert (row["name"], row["unit"], row["delegation"], row["visitor_reference"]) == (
        quoted(hostile),
        quoted(hostile),
        quoted(hostile),
        quoted(hostile[:12]),
    )
    assert_no_formula_in_csv(status.content)
    [row] = csv_by_title(status.content)
    assert (row["name"], row["unit"], row["delegation"], row["revoked_reason"]) == (
        quoted(hostile),
        quoted(hostile),
        quoted(hostile),
        quoted(hostile),
    )
    assert row["status"] == Credential.Status.REVOKED


# --- No writer of its own ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
HELPER = Path("ciie_portal/spreadsheets.py")
#: Not the portal's code: tests, the virtualenv, build output, data and pages.
NOT_CODE = {"tests", "build", "node_modules", "locale", "static", "templates", "var", "docs"}
#: What may be imported from openpyxl outside the helper: reading, never writing.
READING = {"openpyxl": {"load_workbook"}, "openpyxl.utils.datetime": {"from_excel"}}
#: Other libraries that write spreadsheets.
OTHER_WRITERS = ("xlsxwriter", "xlwt", "pyexcel", "tablib", "pandas", "odf")


def writers_in(source: str) -> list[tuple[int, str]]:
    """Where ``source`` writes a CSV or a workbook by itself: (line, what)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            base = node.value.id if isinstance(node.value, ast.Name) else None
            if base == "csv" and node.attr in ("writer", "DictWriter"):
                found.append((node.lineno, f"csv.{node.attr}"))
            elif base == "openpyxl" and node.attr not in READING["openpyxl"]:
                found.append((node.lineno, f"openpyxl.{node.attr}"))
            elif node.attr in ("to_csv", "to_excel"):
                found.append((node.lineno, node.attr))
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = {alias.name for alias in node.names}
            imported = f"from {node.module} import {', '.join(sorted(names))}"
            if node.module == "csv" and names & {"writer", "DictWriter", "*"}:
                found.append((node.lineno, imported))
            elif node.module.split(".")[0] == "openpyxl":
                if not names <= READING.get(node.module, set()):
                    found.append((node.lineno, imported))
            elif node.module.split(".")[0] in OTHER_WRITERS:
                found.append((node.lineno, f"from {node.module}"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in OTHER_WRITERS:
                    found.append((node.lineno, f"import {alias.name}"))
    return found


def portal_sources():
    for folder in sorted(ROOT.iterdir()):
        if not folder.is_dir() or folder.name.startswith(".") or folder.name in NOT_CODE:
            continue
        if folder.name.endswith(".egg-info"):
            continue
        for path in sorted(folder.rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(ROOT)
    yield from (path.relative_to(ROOT) for path in sorted(ROOT.glob("*.py")))


def test_every_csv_and_workbook_is_written_through_the_helper():
    """A new export that builds its own writer would skip ``safe_cell``: write it with
    ``csv_rows_write`` or ``sheet_workbook`` (ciie_portal/spreadsheets.py) instead."""
    sources = list(portal_sources())
    assert HELPER in sources and Path("credentials/production/cards.py") in sources
    assert Path("registration/management/commands/import_previous_edition.py") in sources
    bypassing = {
        f"{path}:{line}: {what}"
        for path in sources
        if path != HELPER
        for line, what in writers_in((ROOT / path).read_text(encoding="utf-8"))
    }
    assert not bypassing, "\n".join(sorted(bypassing))
    # And the helper is where the writing is.
    written = {what for _, what in writers_in((ROOT / HELPER).read_text(encoding="utf-8"))}
    assert "csv.writer" in written
    assert any("Workbook" in what for what in written)


def test_the_check_finds_a_writer_of_its_own():
    source = """
import csv
from csv import DictWriter
import openpyxl
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
import xlsxwriter

csv.writer(stream)
openpyxl.Workbook()
frame.to_csv("out.csv")
"""
    assert sorted(what for _, what in writers_in(source)) == [
        "csv.writer",
        "from csv import DictWriter",
        "from openpyxl import Workbook",
        "from openpyxl.cell import WriteOnlyCell",
        "import xlsxwriter",
        "openpyxl.Workbook",
        "to_csv",
    ]
    reading = """
import csv
from openpyxl import load_workbook
from openpyxl.utils.datetime import from_excel
rows = list(csv.reader(handle)) + list(csv.DictReader(handle))
"""
    assert writers_in(reading) == []
