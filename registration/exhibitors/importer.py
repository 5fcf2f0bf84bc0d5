"""The organiser's import of the exhibitor directory (展商展品导入).

One row per product, the exhibitor's columns repeated on each of its rows (or left empty after
its first row, as merged cells read). Titles in Chinese or English (``COLUMNS``). An .xlsx or a
.csv (UTF-8, with or without a BOM).

``directory_check`` reads a file and says what importing it would do, row by row, changing
nothing (the preview). ``directory_import`` imports its valid rows for an edition, in one
transaction, set-based: exhibitors are upserted by (edition, exhibitor number), products by
(exhibitor, product number) — a re-import updates, never duplicates; products missing from a
file stay as they are. Each exhibitor's ``industries`` and ``search_text`` are rebuilt from all
its products, and one audit entry records the counts.
"""

import codecs
import csv
import functools
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_countries import countries

from ciie_portal.audit import audit_record
from ciie_portal.models import Edition
from ciie_portal.spreadsheets import (
    RowReport,
    SheetRow,
    SpreadsheetError,
    cell_text,
    fold,
    read_sheet,
    sheet_workbook,
)

from ..reference import EXHIBITION_AREAS, PURCHASE_BANDS, SPECIAL_ZONES, industry_name
from .directory import exhibitor_search_text, forget_directory, product_search_text
from .models import Exhibitor, Product

#: Rows a file may hold.
MAX_ROWS = 100_000
#: Rows written per INSERT.
BATCH = 2000

#: Column key → (Chinese title, English title, other titles understood). The template file
#: has the titles of the active language.
COLUMNS = {
    "exhibitor_code": ("展商编号", "Exhibitor number", "展商号", "Exhibitor No.", "Exhibitor code"),
    "exhibitor_name": ("展商名称", "Exhibitor name", "展商中文名称", "企业名称"),
    "exhibitor_name_en": ("展商英文名称", "Exhibitor English name", "Exhibitor name (English)"),
    "country": ("国家或地区", "Country or region", "国别", "国家/地区", "Country"),
    "hall": ("展馆", "Hall"),
    "booth": ("展位号", "Booth", "展位", "Booth number"),
    "area": ("展区", "Exhibition area", "Area"),
    "zone": ("专区", "Special zone", "Zone"),
    "band": ("最小订单规模", "Smallest order", "起订规模", "Minimum order"),
    "contact_name": ("展商联系人", "Contact name", "联系人", "Contact person"),
    "contact_email": ("联系人邮箱", "Contact email", "邮箱", "Email"),
    "product_code": ("展品编号", "Product number", "展品号", "Product No.", "Product code"),
    "product_name": ("展品名称", "Product name", "展品中文名称"),
    "product_name_en": ("展品英文名称", "Product English name", "Product name (English)"),
    "category": ("展品类别", "Category", "类别"),
    "category_en": ("展品英文类别", "English category", "Category (English)"),
    "industry": ("行业代码", "Industry", "所属行业", "Industry (GB/T 4754)"),
    "description": ("展品描述", "Description", "描述", "展品介绍"),
    "description_en": ("展品英文描述", "English description", "Description (English)"),
}
REQUIRED = ("exhibitor_code", "exhibitor_name", "area", "product_code", "product_name")

#: The exhibitor's columns, and the model field each fills.
EXHIBITOR_FIELDS = {
    "exhibitor_name": "name",
    "exhibitor_name_en": "name_en",
    "country": "country",
    "hall": "hall",
    "booth": "booth",
    "area": "area",
    "zone": "zone",
    "band": "min_order_band",
    "contact_name": "contact_name",
    "contact_email": "contact_email",
}
PRODUCT_FIELDS = {
    "product_name": "name",
    "product_name_en": "name_en",
    "category": "category",
    "category_en": "category_en",
    "industry": "industry",
    "description": "description",
    "description_en": "description_en",
}

_TEMPLATE_WIDTHS = {"exhibitor_name": 30, "product_name": 26, "description": 40}


def column_title(key: str) -> str:
    chinese, english, *_others = COLUMNS[key]
    return english if translation.get_language() == "en" else chinese


@functools.cache
def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


# ---------------------------------------------------------------------------------------------
# Lookups: areas, zones, bands, countries by slug, code or name
# ---------------------------------------------------------------------------------------------


def _area_variants(slug: str, chinese: str, english: str) -> set[str]:
    names = {slug, chinese, english, chinese.removesuffix("展区").removesuffix("专区")}
    for suffix in (" Exhibition Area", " Zone"):
        names.add(english.removesuffix(suffix))
    return {fold(name) for name in names}


@functools.cache
def _areas() -> dict[str, str]:
    return {v: slug for slug, zh, en in EXHIBITION_AREAS for v in _area_variants(slug, zh, en)}


@functools.cache
def _zones() -> dict[str, str]:
    return {v: slug for slug, zh, en in SPECIAL_ZONES for v in _area_variants(slug, zh, en)}


@functools.cache
def _bands() -> dict[str, str]:
    found = {}
    for language in ("zh-hans", "en"):
        with translation.override(language):
            found.update({fold(str(label)): slug for slug, label in PURCHASE_BANDS})
    found.update({fold(slug): slug for slug, _label in PURCHASE_BANDS})
    return found


#: Names organisers write that are not django-countries' own.
_COUNTRY_ALIASES = {
    "台湾": "TW",
    "中国台湾": "TW",
    "taiwan": "TW",
    "香港": "HK",
    "中国香港": "HK",
    "hongkong": "HK",
    "澳门": "MO",
    "中国澳门": "MO",
    "macao": "MO",
    "macau": "MO",
    "美国": "US",
    "usa": "US",
    "unitedstates": "US",
    "英国": "GB",
    "uk": "GB",
    "unitedkingdom": "GB",
    "韩国": "KR",
    "southkorea": "KR",
    "korea": "KR",
    "俄罗斯": "RU",
    "russia": "RU",
    "越南": "VN",
    "vietnam": "VN",
    "荷兰": "NL",
    "netherlands": "NL",
}


@functools.cache
def _countries() -> dict[str, str]:
    found = {}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for code, name in countries:
                found[fold(name)] = code
    for code, _name in countries:
        found[fold(code)] = code
        found[fold(countries.alpha3(code))] = code
    found.update({fold(alias): code for alias, code in _COUNTRY_ALIASES.items()})
    return found


# ---------------------------------------------------------------------------------------------
# Reading a file
# ---------------------------------------------------------------------------------------------


_MESSAGES = {
    "not_xlsx": gettext_lazy("The file is neither an Excel workbook (.xlsx) nor a CSV file."),
    "no_sheet": gettext_lazy("The workbook has no sheet of exhibitors."),
    "columns": gettext_lazy("The first row must hold the column titles; missing: %(columns)s."),
    "too_many_rows": gettext_lazy(
        "A file may hold at most %(max)d rows: split it into several files."
    ),
}


def _read_csv(rows_file) -> list[SheetRow]:
    data = rows_file.read()
    if isinstance(data, str):
        text = data
    else:
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SpreadsheetError(
                _("The CSV file is not in UTF-8: save it again as “CSV UTF-8”."), code="encoding"
            ) from None
    lines = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = [fold(title) for title in next(lines, [])]
    position = {}
    for key, titles in COLUMNS.items():
        wanted = {fold(title) for title in titles}
        found = next((index for index, title in enumerate(header) if title in wanted), None)
        if found is not None:
            position[key] = found
    missing = [column_title(key) for key in REQUIRED if key not in position]
    if missing:
        raise SpreadsheetError(
            str(_MESSAGES["columns"]) % {"columns": "、".join(missing)}, code="columns"
        )
    rows = []
    for number, line in enumerate(lines, start=2):
        values = {
            key: cell_text(line[index]) if index < len(line) else ""
            for key, index in position.items()
        }
        if not any(values.values()):
            continue
        if len(rows) >= MAX_ROWS:
            raise SpreadsheetError(
                str(_MESSAGES["too_many_rows"]) % {"max": MAX_ROWS}, code="too_many_rows"
            )
        rows.append(SheetRow(number=number, values=values, cells=values))
    return rows


def read_rows(rows_file, filename: str = "") -> list[SheetRow]:
    """The rows of an uploaded .xlsx or .csv (by its name), keyed by ``COLUMNS``; raises
    ``SpreadsheetError`` for a file that cannot be read as a whole."""
    name = (filename or getattr(rows_file, "name", "") or "").lower()
    if name.endswith(".csv"):
        return _read_csv(rows_file)
    return read_sheet(
        rows_file,
        columns={key: list(titles) for key, titles in COLUMNS.items()},
        required=REQUIRED,
        max_rows=MAX_ROWS,
        messages={key: str(message) for key, message in _MESSAGES.items()},
    )


# ---------------------------------------------------------------------------------------------
# Checking rows
# ---------------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What a file held and what was (or, in a preview, would be) done with it."""

    total: int = 0
    refused: list[RowReport] = field(default_factory=list)
    exhibitors_new: int = 0
    exhibitors_updated: int = 0
    products_new: int = 0
    products_updated: int = 0
    applied: bool = False
    #: The accepted rows: exhibitor number → its values; (exhibitor number, product number) →
    #: the product's values.
    exhibitors: dict[str, dict] = field(default_factory=dict, repr=False)
    products: dict[tuple[str, str], dict] = field(default_factory=dict, repr=False)

    @property
    def accepted(self) -> int:
        return len(self.products)

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.total,
            "refused": len(self.refused),
            "exhibitors_new": self.exhibitors_new,
            "exhibitors_updated": self.exhibitors_updated,
            "products_new": self.products_new,
            "products_updated": self.products_updated,
        }


def _exhibitor_values(values: dict, report: RowReport, titles: dict[str, str]) -> dict:
    """The exhibitor's columns of a row as model values (only those filled in)."""
    found = {}
    for key, name in EXHIBITOR_FIELDS.items():
        text = values.get(key, "")
        if not text:
            continue
        title = titles[key]
        if key == "area":
            slug = _areas().get(fold(text))
            if slug is None:
                report.add(title, _("Unknown exhibition area “%(value)s”.") % {"value": text})
                continue
            text = slug
        elif key == "zone":
            slug = _zones().get(fold(text))
            if slug is None:
                report.add(title, _("Unknown special zone “%(value)s”.") % {"value": text})
                continue
            text = slug
        elif key == "band":
            slug = _bands().get(fold(text))
            if slug is None:
                report.add(title, _("Unknown order band “%(value)s”.") % {"value": text})
                continue
            text = slug
        elif key == "country":
            code = _countries().get(fold(text))
            if code is None:
                report.add(title, _("Unknown country or region “%(value)s”.") % {"value": text})
                continue
            text = code
        elif key == "contact_email":
            try:
                validate_email(text)
            except ValidationError:
                report.add(title, _("“%(value)s” is not an email address.") % {"value": text})
                continue
        limit = _max_length(Exhibitor, name)
        if limit and len(text) > limit:
            report.add(title, _("At most %(max)d characters.") % {"max": limit})
            continue
        found[name] = text
    return found


def _is_division(text: str) -> bool:
    return text.isdigit() and len(text) == 2 and bool(industry_name(text))


def _product_values(values: dict, report: RowReport, titles: dict[str, str]) -> dict:
    found = {}
    for key, name in PRODUCT_FIELDS.items():
        text = values.get(key, "")
        title = titles[key]
        if key == "industry" and text and not _is_division(text):
            report.add(
                title,
                _("“%(value)s” is not a GB/T 4754 division (two digits, e.g. 35).")
                % {"value": text},
            )
            continue
        limit = _max_length(Product, name)
        if limit and len(text) > limit:
            report.add(title, _("At most %(max)d characters.") % {"max": limit})
            continue
        found[name] = text
    return found


def _check_code(values: dict, key: str, model, report: RowReport, titles, missing_message) -> str:
    code = values.get(key, "")
    if not code:
        report.add(titles[key], missing_message)
    elif len(code) > _max_length(model, "code"):
        limit = _max_length(model, "code")
        report.add(titles[key], _("At most %(max)d characters.") % {"max": limit})
        return ""
    return code


def check_rows(rows: list[SheetRow]) -> ImportReport:
    """Each row accepted or refused with its reasons; nothing read from the database."""
    result = ImportReport(total=len(rows))
    titles = {key: column_title(key) for key in COLUMNS}
    first_rows: dict[str, int] = {}  # exhibitor number → the row that described it
    product_rows: dict[tuple[str, str], int] = {}
    for row in rows:
        values = row.values
        report = RowReport(
            number=row.number,
            label=values.get("product_name") or values.get("exhibitor_name", ""),
        )
        missing = _("The exhibitor number is missing.")
        code = _check_code(values, "exhibitor_code", Exhibitor, report, titles, missing)
        product_code = _check_code(
            values, "product_code", Product, report, titles, _("The product number is missing.")
        )
        exhibitor = _exhibitor_values(values, report, titles)
        product = _product_values(values, report, titles)
        if not product.get("name"):
            report.add(titles["product_name"], _("The product name is missing."))
        if code and code in result.exhibitors:
            described = result.exhibitors[code]
            differing = [
                titles[key]
                for key, name in EXHIBITOR_FIELDS.items()
                if name in exhibitor and exhibitor[name] != described.get(name, "")
            ]
            if differing:
                report.add(
                    None,
                    _("%(columns)s differ from row %(row)d of the same exhibitor.")
                    % {"columns": "、".join(differing), "row": first_rows[code]},
                )
        elif code:
            if not exhibitor.get("name"):
                report.add(titles["exhibitor_name"], _("The exhibitor name is missing."))
            if not exhibitor.get("area") and not values.get("area"):
                report.add(titles["area"], _("The exhibition area is missing."))
        if code and product_code and (code, product_code) in product_rows:
            report.add(
                titles["product_code"],
                _("Product number %(code)s is already on row %(row)d for this exhibitor.")
                % {"code": product_code, "row": product_rows[(code, product_code)]},
            )
        if report.reasons:
            result.refused.append(report)
            continue
        if code not in result.exhibitors:
            result.exhibitors[code] = {name: exhibitor.get(name, "") for name in exhibitor_keys()}
            first_rows[code] = row.number
        product_rows[(code, product_code)] = row.number
        result.products[(code, product_code)] = product
    return result


def exhibitor_keys() -> list[str]:
    return list(EXHIBITOR_FIELDS.values())


# ---------------------------------------------------------------------------------------------
# The services
# ---------------------------------------------------------------------------------------------


def _count_against(result: ImportReport, edition) -> tuple[dict[str, int], dict]:
    """Fill the new/updated counts; return (exhibitor number → pk, the edition's products by
    exhibitor number: {product number: (name, name_en, industry)})."""
    existing = dict(Exhibitor.objects.filter(edition=edition).values_list("code", "pk").order_by())
    stored: dict[str, dict[str, tuple[str, str]]] = {}
    for exhibitor_code, code, search_text, industry in (
        Product.objects.filter(exhibitor__edition=edition)
        .values_list("exhibitor__code", "code", "search_text", "industry")
        .order_by()
        .iterator(chunk_size=5000)
    ):
        stored.setdefault(exhibitor_code, {})[code] = (search_text, industry)
    result.exhibitors_new = sum(1 for code in result.exhibitors if code not in existing)
    result.exhibitors_updated = len(result.exhibitors) - result.exhibitors_new
    result.products_new = sum(
        1 for code, product_code in result.products if product_code not in stored.get(code, {})
    )
    result.products_updated = len(result.products) - result.products_new
    return existing, stored


def directory_check(*, rows_file, filename: str = "", edition) -> ImportReport:
    """The preview: what importing the file for ``edition`` would do. Changes nothing."""
    result = check_rows(read_rows(rows_file, filename))
    _count_against(result, edition)
    return result


def directory_import(*, rows_file, filename: str = "", edition, actor) -> ImportReport:
    """Import the valid rows of the file for ``edition`` (one transaction, a few statements
    whatever the number of rows); the refused ones are reported and change nothing."""
    result = check_rows(read_rows(rows_file, filename))
    with transaction.atomic():
        # One import of an edition at a time.
        Edition.objects.select_for_update().filter(pk=edition.pk).first()
        existing, stored = _count_against(result, edition)
        if result.products:
            _write(result, edition, stored)
        audit_record(
            actor=actor,
            obj=edition,
            action="exhibitor_directory.import",
            reason=filename[:200],
            data=result.counts(),
        )
        result.applied = True
    forget_directory()
    return result


def _write(result: ImportReport, edition, stored: dict) -> None:
    now = timezone.now()
    texts = {
        key: product_search_text(
            values["name"], values["name_en"], values["category"], values["category_en"]
        )
        for key, values in result.products.items()
    }
    # Every product of each exhibitor of the file once imported: stored ones, then the file's.
    products_of: dict[str, dict[str, tuple[str, str]]] = {}
    for (code, product_code), values in result.products.items():
        products_of.setdefault(code, dict(stored.get(code, {})))[product_code] = (
            texts[(code, product_code)],
            values["industry"],
        )
    exhibitors = []
    for code, values in result.exhibitors.items():
        products = products_of[code].values()
        exhibitors.append(
            Exhibitor(
                edition=edition,
                code=code,
                **values,
                industries=sorted({industry for _text, industry in products if industry}),
                search_text=exhibitor_search_text(
                    values["name"], values["name_en"], [text for text, _i in products]
                ),
                created_at=now,
                updated_at=now,
            )
        )
    Exhibitor.objects.bulk_create(
        exhibitors,
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["edition", "code"],
        update_fields=[*exhibitor_keys(), "industries", "search_text", "updated_at"],
    )
    pks = dict(
        Exhibitor.objects.filter(edition=edition)
        .filter(code__in=list(result.exhibitors))
        .values_list("code", "pk")
        .order_by()
    )
    products = [
        Product(
            exhibitor_id=pks[code],
            code=product_code,
            **values,
            search_text=texts[(code, product_code)],
        )
        for (code, product_code), values in result.products.items()
    ]
    Product.objects.bulk_create(
        products,
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["exhibitor", "code"],
        update_fields=[*PRODUCT_FIELDS.values(), "search_text"],
    )


# ---------------------------------------------------------------------------------------------
# The template file
# ---------------------------------------------------------------------------------------------


def template_workbook() -> bytes:
    """An empty import file: the titles in the active language, one example row, and notes."""
    titles = [column_title(key) for key in COLUMNS]
    example = {
        "exhibitor_code": "E0001",
        "exhibitor_name": "示例医疗科技有限公司",
        "exhibitor_name_en": "Example Medical Technology GmbH",
        "country": "DE",
        "hall": "4.1",
        "booth": "4.1A001",
        "area": "医疗器械及医药保健展区",
        "zone": "康复养老专区",
        "band": "under_100",
        "contact_name": "Anna Müller",
        "contact_email": "anna@example.com",
        "product_code": "P0001",
        "product_name": "便携式超声诊断仪",
        "product_name_en": "Portable ultrasound scanner",
        "category": "医疗器械",
        "category_en": "Medical devices",
        "industry": "35",
        "description": "手持式，适用于基层医疗机构",
        "description_en": "Hand-held, for community clinics",
    }
    notes = [
        [_("Column"), _("Required"), _("What to write")],
        *[
            [
                f"{titles_[0]} / {titles_[1]}",
                _("yes") if key in REQUIRED else "",
                _column_note(key),
            ]
            for key, titles_ in COLUMNS.items()
        ],
        [
            _(
                "One row per product; repeat the exhibitor's columns on each of its rows, or leave "
                "them empty after its first row. Importing again updates exhibitors by exhibitor "
                "number and products by product number."
            ),  # fmt: skip
        ],
    ]
    return sheet_workbook(
        title=_("Exhibitors and products"),
        titles=titles,
        rows=[[example[key] for key in COLUMNS]],
        required=[column_title(key) for key in REQUIRED],
        text_columns=[column_title(key) for key in ("exhibitor_code", "product_code", "industry")],
        widths={column_title(key): width for key, width in _TEMPLATE_WIDTHS.items()},
        notes=notes,
        notes_header=1,
        notes_widths=[30, 10, 70],
    )


def _column_note(key: str) -> str:
    notes = {
        "country": _("ISO code (DE) or name in Chinese or English."),
        "area": _("One of the six exhibition areas, in Chinese or English."),
        "zone": _("A special zone in Chinese or English, or empty."),
        "band": _("A purchase band as on the registration form, or empty."),
        "industry": _("GB/T 4754-2017 division, two digits (e.g. 35), or empty."),
        "contact_email": _("Receives the meeting requests, or empty."),
    }
    return str(notes.get(key, ""))
