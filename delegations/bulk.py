"""批量注册: delegation secretaries register visitors from a spreadsheet.

The spreadsheet is the template that ``template_workbook`` builds: one visitor per row under a
row of Chinese column titles. ``bulk_register`` reads it and saves every row that passes as an
already saved (已保存) visitor of its unit, each row in its own transaction; the report says,
for every refused row, which columns were wrong and why.

With the information check on, a row is validated exactly as the web form validates it
(``registration.forms_visitors.visitor_values_clean``). With it off, only what the database
needs is checked: the unit (found, in the secretary's subtree), the person type, the ID
document (``visitor_save`` still checks the number's format and that it is unique in the
edition) and the name.

The column titles and the Chinese labels of the choices are the file format: they live in
``COLUMNS`` and ``LABELS`` below and nowhere else.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _
from django_countries import countries
from openpyxl.utils.datetime import from_excel

from ciie_portal.crypto import normalize_id
from ciie_portal.spreadsheets import (
    NOTES_SHEET,
    RowReport,
    SpreadsheetError,
    cell_text,
    fold,
    read_sheet,
    sheet_workbook,
)
from registration.forms_visitors import visitor_values_clean
from registration.models import (
    ID_TYPES_BY_PERSON,
    IdType,
    JobCategory,
    PersonType,
    Pickup,
    Sex,
    Unit,
    Visitor,
)
from registration.services import visitor_save
from registration.validators import resident_id_check_char, validate_id_number

from .paid_by import visitors_mark_paid_by_delegation
from .selectors import scope_to_user

# --- The file format ---------------------------------------------------------------------------

#: Column key (the VisitorForm field name where there is one) → the column's title in row 1.
COLUMNS = {
    "unit": "统一社会信用代码",
    "person_type": "人员类型",
    "name": "姓名",
    "surname_en": "英文姓",
    "given_name_en": "英文名",
    "permit_name": "入境证/通行证姓名",
    "sex": "性别",
    "birth_date": "出生日期",
    "nationality": "国籍/地区",
    "id_type": "证件类型",
    "id_number": "证件号码",
    "job_category": "职务类别",
    "position": "职务",
    "mobile": "手机",
    "email": "邮箱",
    "entry_period": "入场日期",
    "pickup": "领取方式",
    "paid_by_delegation": "交易团代付",
}
#: Columns a file must have; the others may be left out (their cells count as empty).
REQUIRED_COLUMNS = ("unit", "person_type", "name", "id_type", "id_number")
#: Columns that Excel must keep as text (long numbers lose digits as figures).
TEXT_COLUMNS = ("unit", "id_number", "mobile")

YES, NO = "yes", "no"

#: The Chinese label of each choice, as written in the spreadsheet.
LABELS: dict[str, dict[str, str]] = {
    "person_type": {
        "中国大陆地区人员": PersonType.MAINLAND,
        "港澳台地区人员": PersonType.HMT,
        "其他国家/地区人员": PersonType.FOREIGN,
        "中国（永居海外）": PersonType.OVERSEAS_CHINESE,
    },
    "sex": {"男": Sex.MALE, "女": Sex.FEMALE},
    "id_type": {
        "居民身份证": IdType.RESIDENT_ID,
        "港澳居民来往内地通行证": IdType.HOME_RETURN_PERMIT,
        "台湾居民来往大陆通行证": IdType.TAIWAN_PERMIT,
        "港澳台居民居住证": IdType.HMT_RESIDENCE_PERMIT,
        "外国人永久居留身份证": IdType.FOREIGNER_PR_CARD,
        "护照": IdType.PASSPORT,
    },
    "job_category": {
        "管理人员": JobCategory.MANAGEMENT,
        "采购人员": JobCategory.PURCHASING,
        "销售人员": JobCategory.SALES,
        "技术人员": JobCategory.TECHNICAL,
        "行政人员": JobCategory.ADMINISTRATION,
        "其他": JobCategory.OTHER,
    },
    "pickup": {"快递": Pickup.COURIER, "交易团代领": Pickup.DELEGATION},
    # 交易团代付: empty means "as the unit" (否 unless the whole unit is paid for).
    "paid_by_delegation": {"是": YES, "否": NO},
}
#: Spellings that are also understood (never offered in the template).
LABEL_ALIASES: dict[str, dict[str, str]] = {
    "person_type": {"其他国家或地区人员": PersonType.FOREIGN, "中国大陆": PersonType.MAINLAND},
    "sex": {"男性": Sex.MALE, "女性": Sex.FEMALE},
    "paid_by_delegation": {
        **dict.fromkeys(("y", "1", "true", "代付"), YES),
        **dict.fromkeys(("n", "0", "false"), NO),
    },
}
#: Hong Kong, Macao and Taiwan in the 国籍/地区 column (any ISO code or Chinese country name
#: is understood too).
REGION_NAMES = {"中国香港": "HK", "中国澳门": "MO", "中国台湾": "TW"}
REGION_ALIASES = {"香港": "HK", "澳门": "MO", "台湾": "TW"}

#: Columns each person type has; a value in another column is ignored (as the web form does).
PERSON_COLUMNS = {
    PersonType.MAINLAND: {"name"},
    PersonType.HMT: {"name", "permit_name", "nationality"},
    PersonType.FOREIGN: {"name", "surname_en", "given_name_en", "permit_name", "nationality"},
    PersonType.OVERSEAS_CHINESE: {"name", "nationality"},
}
PERSON_ONLY_COLUMNS = {"surname_en", "given_name_en", "permit_name", "nationality"}

MAX_ROWS = 2000
EXAMPLE_BIRTH = date(1985, 3, 15)
_EXAMPLE_ID_BODY = "44010619850315001"
EXAMPLE = {
    "unit": "91440101XXXXXXXXXX",
    "person_type": "中国大陆地区人员",
    "name": "张三",
    "sex": "男",
    "birth_date": EXAMPLE_BIRTH,
    "id_type": "居民身份证",
    "id_number": _EXAMPLE_ID_BODY + resident_id_check_char(_EXAMPLE_ID_BODY),
    "job_category": "采购人员",
    "position": "采购经理",
    "mobile": "13900000000",
    "email": "zhangsan@example.com",
    "entry_period": "全程",
    "pickup": "交易团代领",
    "paid_by_delegation": "否",
}


@cache
def _lookup(column: str) -> dict[str, str]:
    values = {**LABEL_ALIASES.get(column, {}), **LABELS[column]}
    table = {fold(label): value for label, value in values.items()}
    # The stored values (resident_id, M, …) are understood as well.
    table.update({fold(str(value)): value for value in values.values()})
    return table


@cache
def _country_names() -> dict[str, str]:
    names = {}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            names.update({fold(str(name)): code for code, name in countries})
    names.update({fold(name): code for name, code in {**REGION_ALIASES, **REGION_NAMES}.items()})
    return names


# --- The report --------------------------------------------------------------------------------


@dataclass
class BulkReport:
    check: bool
    saved_rows: list[int] = field(default_factory=list)
    visitor_ids: list[int] = field(default_factory=list)
    refused: list[RowReport] = field(default_factory=list)  # labelled with the visitor's name

    @property
    def saved_count(self) -> int:
        return len(self.saved_rows)

    @property
    def refused_count(self) -> int:
        return len(self.refused)

    @property
    def total(self) -> int:
        return self.saved_count + self.refused_count


#: The file as a whole cannot be read: nothing was imported.
BulkFileError = SpreadsheetError


# --- Reading -----------------------------------------------------------------------------------


def read_rows(rows_file) -> list[dict]:
    """The rows of the first sheet (not 说明) as dicts of column key → text.

    ``birth_date`` keeps the cell's value (a date cell stays a date); ``row`` is the
    spreadsheet's row number. Empty rows are skipped.
    """
    sheet_rows = read_sheet(
        rows_file,
        columns=COLUMNS,
        required=REQUIRED_COLUMNS,
        max_rows=MAX_ROWS,
        skip_sheets=(NOTES_SHEET,),
        messages={
            "not_xlsx": _(
                "The file is not an Excel workbook (.xlsx). Fill in the template and upload it "
                "as an .xlsx file."
            ),
            "columns": _(
                "The first row must hold the column titles of the template; missing: %(columns)s."
            ),
            "too_many_rows": _(
                "A file may hold at most %(max)d visitors: split it into several files."
            ),
        },
    )
    rows = []
    for sheet_row in sheet_rows:
        row = dict(sheet_row.values)
        row["birth_date"] = sheet_row.cells.get("birth_date")
        # An ID number typed as a figure: Excel keeps 15 digits and loses the rest.
        number_cell = sheet_row.cells.get("id_number")
        row["id_number_was_figure"] = isinstance(number_cell, int | float) and not isinstance(
            number_cell, bool
        )
        row["row"] = sheet_row.number
        rows.append(row)
    return rows


class RowError(Exception):
    pass


def _choice(column: str, text: str) -> str:
    if not text:
        return ""
    try:
        return _lookup(column)[fold(text)]
    except KeyError:
        raise RowError(
            _("“%(value)s” is not one of: %(allowed)s.")
            % {"value": text, "allowed": "、".join(LABELS[column])}
        ) from None


def _nationality(text: str) -> str:
    if not text:
        return ""
    code = fold(text).upper()
    if len(code) in (2, 3) and countries.alpha2(code):
        return countries.alpha2(code)
    try:
        return _country_names()[fold(text)]
    except KeyError:
        raise RowError(
            _(
                "“%(value)s” is not a country or region: enter an ISO code such as DE, or "
                "%(regions)s."
            )
            % {"value": text, "regions": "、".join(REGION_NAMES)}
        ) from None


_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]0{1,2}:00(?::00)?)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def _birth_date(value) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value)
    match = _DATE.match(unicodedata.normalize("NFKC", text)) or _COMPACT_DATE.match(text)
    if match is None and type(value) in (int, float) and 1 <= value < 2958466:
        return from_excel(value).date()  # a date cell formatted as a plain number
    if match is not None:
        try:
            return date(*(int(part) for part in match.groups()))
        except ValueError:
            pass
    raise RowError(_("“%(value)s” is not a date: write it as YYYY-MM-DD.") % {"value": text})


# --- Registering -------------------------------------------------------------------------------


def _form_field_column(name: str) -> str | None:
    if name == "address":  # the delivery address comes with 快递
        return "pickup"
    return name if name in COLUMNS else None


class _Reasons(list):
    """Why a row is refused: (column title, message) pairs."""

    def add(self, column: str | None, message) -> None:
        self.append((COLUMNS[column] if column else _("Row"), str(message)))

    def add_error(self, error: ValidationError) -> None:
        if hasattr(error, "error_dict"):
            for name, errors in error.error_dict.items():
                for message in ValidationError(errors).messages:
                    self.add(_form_field_column(name), message)
        else:
            for message in error.messages:
                self.add(None, message)


#: The visitor's fields taken as the row writes them, and those ``_parse`` turned into values.
_TEXT_FIELDS = ("name", "surname_en", "given_name_en", "permit_name", "position", "mobile", "email")
_PARSED_FIELDS = ("sex", "birth_date", "nationality", "id_type", "id_number", "job_category")
_PARSED_FIELDS += ("entry_period", "pickup", "address")


class _Importer:
    def __init__(self, *, user, edition, check: bool):
        self.user, self.edition, self.check = user, edition, check
        self.units: dict[str, Unit | None] = {}
        self.addresses: dict[int, object] = {}
        self.entry_periods = {fold(p.name): p for p in edition.entry_periods.all()}
        self.seen: dict[str, int] = {}  # ID number → the first row that has it

    def unit(self, code: str) -> Unit | None:
        code = normalize_id(code)
        if code not in self.units:
            units = scope_to_user(Unit.objects.filter(edition=self.edition), self.user)
            self.units[code] = (
                units.filter(Q(uscc=code) | Q(account_number=code))
                .select_related("edition")
                .first()
            )
        return self.units[code]

    def default_address(self, unit: Unit):
        if unit.pk not in self.addresses:
            self.addresses[unit.pk] = unit.addresses.filter(is_default=True).first()
        return self.addresses[unit.pk]

    def register(self, row: dict, report: BulkReport) -> None:
        reasons = _Reasons()
        visitor = None
        values = self._parse(row, reasons)
        if not reasons:
            try:
                visitor = self._save(row, values, reasons)
            except ValidationError as error:
                reasons.add_error(error)
        if visitor is None:
            if not reasons:  # never silently: a row is either saved or explained
                reasons.add(None, _("The row could not be saved."))
            if row.get("id_number_was_figure") and any(
                title == COLUMNS["id_number"] for title, _message in reasons
            ):
                reasons.add(
                    "id_number",
                    _(
                        "Excel stored the ID number as a figure and may have lost digits: "
                        "format the column as text and type it again."
                    ),
                )
            name = row.get("name") or " ".join(
                part for part in (row.get("surname_en"), row.get("given_name_en")) if part
            )
            report.refused.append(RowReport(number=row["row"], label=name, reasons=list(reasons)))
        else:
            report.saved_rows.append(row["row"])
            report.visitor_ids.append(visitor.pk)

    def _parse(self, row: dict, reasons) -> dict:
        """Turn the row's texts into values; whatever cannot be stored is refused."""
        values: dict = {}
        code = row.get("unit", "")
        unit = self.unit(code) if code else None
        if not code:
            reasons.add("unit", _("Enter the unit's Unified Social Credit Code."))
        elif unit is None:
            # The same words whether the unit does not exist or belongs to another delegation.
            reasons.add(
                "unit",
                _(
                    "Unit not found: no unit with this code is registered in this edition "
                    "under your delegation."
                ),
            )
        elif unit.status == Unit.Status.REJECTED:
            reasons.add(
                "unit", _("This unit's registration was rejected: no visitors can be added.")
            )
        values["unit"] = unit
        try:
            person_type = _choice("person_type", row.get("person_type", ""))
        except RowError as error:
            reasons.add("person_type", error)
            person_type = None
        if person_type == "":
            reasons.add("person_type", _("Enter the person type."))
        values["person_type"] = person_type
        if person_type:
            # Columns of other person types are ignored, as the web form ignores them.
            for column in PERSON_ONLY_COLUMNS - PERSON_COLUMNS[person_type]:
                row[column] = ""
        for column in [name for name in LABELS if name != "person_type"]:
            try:
                values[column] = _choice(column, row.get(column, ""))
            except RowError as error:
                reasons.add(column, error)
                values[column] = None
        try:
            values["birth_date"] = _birth_date(row.get("birth_date"))
        except RowError as error:
            reasons.add("birth_date", error)
        try:
            values["nationality"] = _nationality(row.get("nationality", ""))
        except RowError as error:
            reasons.add("nationality", error)
        period = row.get("entry_period", "")
        values["entry_period"] = self.entry_periods.get(fold(period)) if period else None
        if period and values["entry_period"] is None:
            reasons.add(
                "entry_period",
                _("“%(value)s” is not one of this edition's entry days: %(allowed)s.")
                % {
                    "value": period,
                    "allowed": "、".join(p.name for p in self.entry_periods.values()) or "—",
                },
            )
        number = normalize_id(row.get("id_number", ""))
        values["id_number"] = number
        if not number:
            reasons.add("id_number", _("Enter the ID number."))
        elif number in self.seen:
            reasons.add(
                "id_number",
                _("The same ID number is already in row %(row)d of this file.")
                % {"row": self.seen[number]},
            )
        else:
            self.seen[number] = row["row"]
        if person_type:
            allowed = ID_TYPES_BY_PERSON[person_type]
            if values["id_type"] == "" and len(allowed) == 1:
                values["id_type"] = allowed[0]  # the only document of this person type
            if values["id_type"] == "":
                reasons.add("id_type", _("Enter the ID type."))
            elif values["id_type"] and values["id_type"] not in allowed:
                labels = {value: label for label, value in LABELS["id_type"].items()}
                reasons.add(
                    "id_type",
                    _("This person type registers with: %(allowed)s.")
                    % {"allowed": "、".join(labels[value] for value in allowed)},
                )
        values["address"] = None
        if unit is not None and values["pickup"] == Pickup.COURIER:
            values["address"] = self.default_address(unit)
            if values["address"] is None and self.check:
                reasons.add(
                    "pickup",
                    _(
                        "The unit has no default delivery address for the credential to be "
                        "sent to: choose collection by the delegation, or ask the unit to add "
                        "one."
                    ),
                )
        return values

    def _save(self, row: dict, values: dict, reasons) -> Visitor | None:
        if self.check:
            return self._save_checked(row, values, reasons)
        return self._save_unchecked(row, values, reasons)

    def _save_checked(self, row: dict, values: dict, reasons) -> Visitor | None:
        """Every row validated as the web form validates it (photos come later)."""
        unit, person_type = values["unit"], values["person_type"]
        cleaned, errors = visitor_values_clean(
            unit=unit,
            person_type=person_type,
            values={
                **{name: row.get(name, "") for name in _TEXT_FIELDS},
                **{name: values[name] for name in _PARSED_FIELDS},
            },
        )
        if errors:
            for name, refusals in errors.items():
                for error in refusals:
                    for message in error.messages:
                        reasons.add(_form_field_column(name), message)
            return None
        skip = ("id_number", "id_type")
        with transaction.atomic():
            visitor = visitor_save(
                unit=unit,
                actor=self.user,
                values={
                    **{k: v for k, v in cleaned.items() if k not in skip},
                    "person_type": person_type,
                },
                id_type=cleaned["id_type"],
                id_number=cleaned["id_number"],
            )
            self._paid_by(visitor, values)
            return visitor

    def _save_unchecked(self, row: dict, values: dict, reasons) -> Visitor | None:
        """Only what the database needs: a name, the ID document, values that fit."""
        unit, person_type = values["unit"], values["person_type"]
        texts = {
            column: row.get(column, "")
            for column in ("name", "surname_en", "given_name_en", "permit_name", "position")
        }
        texts.update(mobile="".join(row.get("mobile", "").split()), email=row.get("email", ""))
        if person_type == PersonType.FOREIGN:
            texts["surname_en"] = texts["surname_en"].upper()
            if not texts["name"] and texts["surname_en"]:
                texts["name"] = f"{texts['surname_en']} {texts['given_name_en']}".strip()
        if not texts["name"]:
            reasons.add("name", _("Enter the name."))
        for column, text in texts.items():
            limit = Visitor._meta.get_field(column).max_length
            if len(text) > limit:
                reasons.add(
                    column,
                    _("At most %(max)d characters (this has %(length)d).")
                    % {"max": limit, "length": len(text)},
                )
        try:
            validate_id_number(values["id_type"], values["id_number"])
        except ValidationError as error:
            for message in error.messages:
                reasons.add("id_number", message)
        if reasons:
            return None
        with transaction.atomic():
            visitor = visitor_save(
                unit=unit,
                actor=self.user,
                values={
                    **texts,
                    "person_type": person_type,
                    "sex": values["sex"],
                    "birth_date": values["birth_date"],
                    "nationality": values["nationality"],
                    "job_category": values["job_category"],
                    "entry_period": values["entry_period"],
                    "pickup": values["pickup"],
                    "address": values["address"],
                },
                id_type=values["id_type"],
                id_number=values["id_number"],
            )
            self._paid_by(visitor, values)
            return visitor

    def _paid_by(self, visitor: Visitor, values: dict) -> None:
        """交易团代付 as the row says: 是 marks the visitor, 否 unmarks one of a unit the
        delegation pays for, empty keeps what the visitor inherited from its unit. A refusal
        (the unit is not approved or awaiting review) refuses the row."""
        wanted = values.get("paid_by_delegation")
        if not wanted or (wanted == YES) == visitor.paid_by_delegation:
            return
        try:
            visitors_mark_paid_by_delegation(
                visitors=Visitor.objects.filter(pk=visitor.pk),
                paid=wanted == YES,
                actor=self.user,
            )
        except ValidationError as error:
            raise ValidationError({"paid_by_delegation": error.messages}) from None


def bulk_register(*, rows_file, user, edition, check: bool = True) -> BulkReport:
    """Register the visitors of an uploaded spreadsheet for ``user``'s units in ``edition``.

    Each row is saved in its own transaction (a refused row changes nothing and never undoes
    another). Raises ``BulkFileError`` when the file itself cannot be read.
    """
    rows = read_rows(rows_file)
    importer = _Importer(user=user, edition=edition, check=check)
    report = BulkReport(check=check)
    for row in rows:
        importer.register(row, report)
    return report


# --- The template ------------------------------------------------------------------------------


def _column_notes(edition) -> dict[str, tuple[str, str]]:
    """Column key → (what to enter, allowed values) for the 说明 sheet."""
    id_labels = {value: label for label, value in LABELS["id_type"].items()}
    person_labels = {value: label for label, value in LABELS["person_type"].items()}
    documents = "；".join(
        f"{person_labels[person]}：{'、'.join(id_labels[value] for value in allowed)}"
        for person, allowed in ID_TYPES_BY_PERSON.items()
    )
    periods = "、".join(edition.entry_periods.values_list("name", flat=True)) if edition else ""

    def listed(column):
        return "、".join(LABELS[column])

    return {
        "unit": (
            _(
                "Required. The unit's Unified Social Credit Code (or its account number if it "
                "has none). The unit must be registered in the current edition under your "
                "delegation."
            ),
            "",
        ),
        "person_type": (_("Required. The visitor's person type."), listed("person_type")),
        "name": (
            _(
                "Required, as on the ID document. Persons of another country or region may "
                "leave it empty: their English name is used."
            ),
            "",
        ),
        "surname_en": (_("Surname in English: persons of another country or region."), ""),
        "given_name_en": (_("Given name in English: persons of another country or region."), ""),
        "permit_name": (
            _(
                "Name on the entry permit: persons from Hong Kong, Macao, Taiwan or another "
                "country or region."
            ),
            "",
        ),
        "sex": (_("Sex."), listed("sex")),
        "birth_date": (
            _(
                "Date of birth, as YYYY-MM-DD or as a date cell. With an ID card it must agree "
                "with the number."
            ),
            "1985-03-15",
        ),
        "nationality": (
            _(
                "Nationality (persons of another country or region), region (Hong Kong, Macao, "
                "Taiwan) or country of residence (Chinese citizens residing abroad): an ISO "
                "code such as DE or the Chinese name. Empty for the Chinese mainland."
            ),
            "DE、US、" + "、".join(REGION_NAMES),
        ),
        "id_type": (
            _("Required (may be left empty where a person type has only one document)."),
            documents,
        ),
        "id_number": (
            _(
                "Required. The document's number; unique in this edition. Keep the column "
                "formatted as text so that Excel keeps every digit."
            ),
            "",
        ),
        "job_category": (_("Job category."), listed("job_category")),
        "position": (_("Position (job title)."), ""),
        "mobile": (_("Mobile number."), ""),
        "email": (_("Email address (optional)."), ""),
        "entry_period": (
            _("Entry days: the name of one of this edition's entry periods."),
            periods,
        ),
        "pickup": (
            _(
                "How the credential is received. Courier (快递) sends it to the unit's default "
                "delivery address."
            ),
            listed("pickup"),
        ),
        "paid_by_delegation": (
            _(
                "Paid by the delegation: 是 if your delegation pays this visitor's credential "
                "fee (the unit is then never asked to pay), 否 if the unit pays. Empty: as the "
                "unit is marked in the admin. Only for units that are approved or awaiting "
                "review; it can be undone in the admin until an order exists."
            ),
            listed("paid_by_delegation") + "（yes/no、Y/N、1/0）",
        ),
    }


def template_workbook(edition) -> bytes:
    """The 批量注册 template: titles, one example row and a 说明 sheet explaining each column."""
    example = dict(EXAMPLE)
    first_period = edition.entry_periods.first() if edition else None
    if first_period is not None:
        example["entry_period"] = first_period.name
    general = [
        _("Row 1 holds the column titles: do not change them. Row 2 is an example: delete it."),
        _("One visitor per row. Columns in red are required."),
        _(
            "With the information check on, every row is checked as the visitor form checks "
            "it; with it off, only the unit, the person type, the ID document and the name."
        ),
        _(
            "Rows that pass are saved, not submitted: photos are added and the visitors are "
            "submitted afterwards. Refused rows are listed with their reasons."
        ),
    ]
    notes = [[line] for line in general] + [[]]
    notes.append([_("Column"), _("What to enter"), _("Allowed values")])
    notes_header = len(notes)
    notes += [
        [COLUMNS[key], explanation, allowed]
        for key, (explanation, allowed) in _column_notes(edition).items()
    ]
    return sheet_workbook(
        title=_("Visitors"),
        titles=list(COLUMNS.values()),
        rows=[[example.get(key, "") for key in COLUMNS]],
        required=[COLUMNS[key] for key in REQUIRED_COLUMNS],
        text_columns=[COLUMNS[key] for key in TEXT_COLUMNS],
        widths={COLUMNS["id_number"]: 22},
        formats={(2, COLUMNS["birth_date"]): "yyyy-mm-dd"},
        notes=notes,
        notes_header=notes_header,
        notes_widths=(22, 70, 60),
    )
