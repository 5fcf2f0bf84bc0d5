"""Import the units and visitors of an earlier edition from a spreadsheet (see
docs/import_previous_edition.md). Safe to run again: a second import updates, never duplicates.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from openpyxl import load_workbook

from ciie_portal.audit import audit_record, audit_record_bulk
from ciie_portal.choices import Region, UnitCategory
from ciie_portal.crypto import normalize_id
from ciie_portal.models import Edition
from registration.models import IdType, Label, PersonType, Unit, User, Visitor
from registration.validators import validate_id_number, validate_uscc
from registration.watchlist import watchlist_match

ACTOR = "import_previous_edition"

COLUMNS = {
    "account": "账号",
    "unit_name": "单位名称",
    "category": "单位类别",
    "region": "所在地区",
    "delegation": "交易团",
    "contact_name": "联系人",
    "contact_mobile": "联系人手机",
    "contact_email": "联系人邮箱",
    "name": "姓名",
    "person_type": "人员类型",
    "id_type": "证件类型",
    "id_number": "证件号码",
    "label": "人员标签",
    "review": "背审结果",
}
OPTIONAL_COLUMNS = {"delegation", "contact_name", "contact_mobile", "contact_email", "label"}

REGIONS = {
    "中国大陆": Region.MAINLAND,
    "港澳台": Region.HMT,
    "港澳台地区": Region.HMT,
    "其他国家或地区": Region.OTHER,
    "其他国家/地区": Region.OTHER,
}
DOMESTIC_CATEGORIES = {
    "企业": UnitCategory.ENTERPRISE,
    "社会组织": UnitCategory.SOCIAL_ORGANISATION,
    "事业单位": UnitCategory.PUBLIC_INSTITUTION,
    "政府机构": UnitCategory.GOVERNMENT,
}
OVERSEAS_CATEGORIES = {
    "企业": UnitCategory.OVERSEAS_ENTERPRISE,
    "政府部门": UnitCategory.OVERSEAS_GOVERNMENT,
    "政府机构": UnitCategory.OVERSEAS_GOVERNMENT,
    "社会组织": UnitCategory.OVERSEAS_SOCIAL_ORGANISATION,
    "其他": UnitCategory.OVERSEAS_OTHER,
}
PERSON_TYPES = {
    "中国大陆地区人员": PersonType.MAINLAND,
    "港澳台地区人员": PersonType.HMT,
    "其他国家/地区人员": PersonType.FOREIGN,
    "其他国家或地区人员": PersonType.FOREIGN,
    "中国（永居海外）": PersonType.OVERSEAS_CHINESE,
    "中国(永居海外)": PersonType.OVERSEAS_CHINESE,
}
ID_TYPES = {
    "居民身份证": IdType.RESIDENT_ID,
    "港澳居民来往内地通行证": IdType.HOME_RETURN_PERMIT,
    "台湾居民来往大陆通行证": IdType.TAIWAN_PERMIT,
    "港澳台居民居住证": IdType.HMT_RESIDENCE_PERMIT,
    "外国人永久居留身份证": IdType.FOREIGNER_PR_CARD,
    "护照": IdType.PASSPORT,
}
LABELS = {"VIP": Label.VIP, "工作人员": Label.STAFF, "专业观众": Label.VISITOR}
REVIEW_RESULTS = {
    "通过": Visitor.Status.REVIEW_PASSED,
    "不通过": Visitor.Status.REVIEW_FAILED,
    "": Visitor.Status.PENDING_REVIEW,
}
MOBILE = re.compile(r"^\+?\d{6,15}$")
ACCOUNT_NUMBER = re.compile(r"^[0-9A-Z]{10}$")


class RowRejected(Exception):
    def __init__(self, column: str, message: str):
        super().__init__(f"{column}: {message}")


@dataclass
class Row:
    number: int
    login_name: str
    uscc: str
    account_number: str
    unit_name: str
    region: str
    category: str
    delegation: object
    contact_name: str
    contact_mobile: str
    contact_email: str
    name: str
    person_type: str
    id_type: str
    id_number: str
    label: str
    status: str


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _choice(mapping: dict, value: str, column: str, slugs=()) -> str:
    if value in mapping:
        return mapping[value]
    if value in slugs:
        return value
    known = "、".join(key for key in mapping if key) or "—"
    raise RowRejected(column, f"“{value}” is not one of {known}")


def _messages(error: ValidationError) -> str:
    return " ".join(str(message) for message in error.messages)


class Command(BaseCommand):
    help = (
        "Import an earlier edition's units and visitors from an .xlsx file (one row per "
        "visitor). Accounts get no password: they verify by SMS or email code."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the .xlsx file")
        parser.add_argument(
            "--edition", type=int, required=True, help="number of the earlier edition"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check every row, change nothing"
        )

    def handle(self, *args, file: Path, edition: int, dry_run: bool, **options):
        try:
            target = Edition.objects.get(number=edition)
        except Edition.DoesNotExist:
            raise CommandError(f"There is no edition number {edition}.") from None
        if target.is_current:
            raise CommandError(
                f"Edition {edition} is the current one: import only earlier editions."
            )
        if not file.exists():
            raise CommandError(f"{file} does not exist.")
        self.edition = target
        delegation_model = Unit._meta.get_field("delegation").related_model
        self.delegations = {d.name: d for d in delegation_model.objects.all()}
        self.stats = dict.fromkeys(
            [
                "users_created", "units_created", "units_updated",
                "visitors_created", "visitors_updated",
            ],
            0,
        )  # fmt: skip
        rows, rejected = self._read(file)
        total = len(rows) + len(rejected)
        with transaction.atomic():
            for row in rows:
                try:
                    with transaction.atomic():
                        self._import(row)
                except RowRejected as refusal:
                    rejected.append((row.number, str(refusal)))
                except IntegrityError as error:
                    rejected.append((row.number, f"conflicts with existing data ({error})"))
            if dry_run:
                transaction.set_rollback(True)
        self._report(total, rejected, dry_run)

    # --- Reading --------------------------------------------------------------------------

    def _read(self, file: Path) -> tuple[list[Row], list[tuple[int, str]]]:
        try:
            workbook = load_workbook(file, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises several kinds for a file it cannot read
            raise CommandError(f"{file} is not a readable .xlsx file: {error}") from None
        sheet = workbook.worksheets[0]
        lines = sheet.iter_rows(values_only=True)
        header = [_text(cell) for cell in next(lines, ())]
        missing = [
            title
            for key, title in COLUMNS.items()
            if title not in header and key not in OPTIONAL_COLUMNS
        ]
        if missing:
            raise CommandError(f"Columns missing from the first row: {'、'.join(missing)}")
        position = {key: header.index(title) for key, title in COLUMNS.items() if title in header}
        rows, rejected = [], []
        for number, cells in enumerate(lines, start=2):
            values = {
                key: _text(cells[index]) if index < len(cells) else ""
                for key, index in position.items()
            }
            if not any(values.values()):
                continue
            try:
                rows.append(self._parse(number, values))
            except RowRejected as refusal:
                rejected.append((number, str(refusal)))
        workbook.close()
        return rows, rejected

    def _parse(self, number: int, values: dict) -> Row:
        get = values.get
        login_name = normalize_id(get("account", ""))
        uscc = account_number = ""
        if len(login_name) == 18:
            try:
                validate_uscc(login_name)
            except ValidationError as error:
                raise RowRejected(COLUMNS["account"], _messages(error)) from None
            uscc = login_name
        elif ACCOUNT_NUMBER.match(login_name):
            account_number = login_name
        else:
            raise RowRejected(
                COLUMNS["account"],
                "a USCC (18 characters) or an account number (10 letters and digits) is needed",
            )
        unit_name = get("unit_name", "")
        if not unit_name:
            raise RowRejected(COLUMNS["unit_name"], "empty")
        region = _choice(REGIONS, get("region", ""), COLUMNS["region"], Region.values)
        category_text = get("category", "")
        if region == Region.MAINLAND:
            category = _choice(
                DOMESTIC_CATEGORIES, category_text, COLUMNS["category"], UnitCategory.domestic()
            )
        else:
            category = _choice(
                OVERSEAS_CATEGORIES, category_text, COLUMNS["category"], UnitCategory.overseas()
            )
        if region == Region.MAINLAND and not uscc:
            raise RowRejected(COLUMNS["account"], "units of the Chinese mainland log in by USCC")
        delegation = None
        if get("delegation"):
            delegation = self.delegations.get(get("delegation"))
            if delegation is None:
                raise RowRejected(COLUMNS["delegation"], f"no delegation “{get('delegation')}”")
        contact_mobile = "".join(get("contact_mobile", "").split())
        if contact_mobile and not MOBILE.match(contact_mobile):
            raise RowRejected(COLUMNS["contact_mobile"], "not a mobile number")
        contact_email = get("contact_email", "")
        if contact_email:
            try:
                validate_email(contact_email)
            except ValidationError:
                raise RowRejected(COLUMNS["contact_email"], "not an email address") from None
        name = get("name", "")
        if not name:
            raise RowRejected(COLUMNS["name"], "empty")
        person_type = _choice(
            PERSON_TYPES, get("person_type", ""), COLUMNS["person_type"], PersonType.values
        )
        id_type = _choice(ID_TYPES, get("id_type", ""), COLUMNS["id_type"], IdType.values)
        id_number = normalize_id(get("id_number", ""))
        try:
            validate_id_number(id_type, id_number)
        except ValidationError as error:
            raise RowRejected(COLUMNS["id_number"], _messages(error)) from None
        label = _choice(LABELS, get("label", ""), COLUMNS["label"], [*Label.values, ""])
        status = _choice(REVIEW_RESULTS, get("review", ""), COLUMNS["review"])
        return Row(
            number=number,
            login_name=login_name,
            uscc=uscc,
            account_number=account_number,
            unit_name=unit_name,
            region=region,
            category=category,
            delegation=delegation,
            contact_name=get("contact_name", ""),
            contact_mobile=contact_mobile,
            contact_email=contact_email,
            name=name,
            person_type=person_type,
            id_type=id_type,
            id_number=id_number,
            label=label,
            status=status,
        )

    # --- Writing --------------------------------------------------------------------------

    def _user(self, row: Row) -> User:
        user = User.objects.filter(username=row.login_name).first()
        if user is None:
            user = User(username=row.login_name, mobile=row.contact_mobile, email=row.contact_email)
            user.set_unusable_password()
            user.save()
            self.stats["users_created"] += 1
        elif not user.has_usable_password():
            # Still an imported account: the spreadsheet is the truth about its contact.
            changed = {
                field: value
                for field, value in (("mobile", row.contact_mobile), ("email", row.contact_email))
                if value and getattr(user, field) != value
            }
            if changed:
                User.objects.filter(pk=user.pk).update(**changed)
        return user

    def _unit(self, row: Row, user: User) -> Unit:
        lookup = {"uscc": row.uscc} if row.uscc else {"account_number": row.account_number}
        unit = Unit.objects.filter(edition=self.edition, **lookup).first()
        values = {
            "name": row.unit_name,
            "region": row.region,
            "category": row.category,
            "delegation": row.delegation,
            "contact_name": row.contact_name,
            "contact_mobile": row.contact_mobile,
            "contact_email": row.contact_email,
        }
        if unit is None:
            unit = Unit.objects.create(
                edition=self.edition,
                account=user,
                status=Unit.Status.APPROVED,
                info_saved_at=timezone.now(),
                **lookup,
                **values,
            )
            self.stats["units_created"] += 1
            audit_record(actor=ACTOR, obj=unit, action="unit.import", to_state=unit.status)
            return unit
        if unit.account_id is not None and unit.account_id != user.pk:
            raise RowRejected(COLUMNS["account"], "the unit belongs to another account")
        changed = {k: v for k, v in values.items() if getattr(unit, k) != v}
        if unit.account_id is None:
            changed["account"] = user
        if changed:
            for field, value in changed.items():
                setattr(unit, field, value)
            unit.save()
            self.stats["units_updated"] += 1
            audit_record(
                actor=ACTOR, obj=unit, action="unit.import_update", data={"fields": sorted(changed)}
            )
        return unit

    def _import(self, row: Row) -> None:
        user = self._user(row)
        unit = self._unit(row, user)
        visitor = Visitor.objects.filter(edition=self.edition).with_id_number(row.id_number).first()
        if visitor is not None and visitor.unit_id != unit.pk:
            raise RowRejected(
                COLUMNS["id_number"], "this ID number is already a visitor of another unit"
            )
        values = {
            "name": row.name,
            "person_type": row.person_type,
            "id_type": row.id_type,
            "label": row.label,
            "status": row.status,
        }
        if visitor is None:
            visitor = Visitor(edition=self.edition, unit=unit, **values)
            visitor.id_number = row.id_number
            visitor.save()
            watchlist_match([visitor])
            self.stats["visitors_created"] += 1
            audit_record_bulk(
                actor=ACTOR, objects=[visitor], action="visitor.import", to_state=visitor.status
            )
            return
        before = visitor.status
        changed = {k: v for k, v in values.items() if getattr(visitor, k) != v}
        if changed:
            Visitor.objects.filter(pk=visitor.pk).update(**changed, updated_at=timezone.now())
            watchlist_match([visitor])
            self.stats["visitors_updated"] += 1
            audit_record_bulk(
                actor=ACTOR,
                objects=[visitor],
                action="visitor.import_update",
                from_state=before,
                to_state=row.status,
                data={"fields": sorted(changed)},
            )

    # --- Report ---------------------------------------------------------------------------

    def _report(self, total: int, rejected: list[tuple[int, str]], dry_run: bool) -> None:
        for number, reason in sorted(rejected):
            self.stdout.write(self.style.WARNING(f"row {number} rejected: {reason}"))
        stats = self.stats
        summary = (
            f"{total} rows, {total - len(rejected)} imported, {len(rejected)} rejected. "
            f"Users created: {stats['users_created']}. "
            f"Units created: {stats['units_created']}, updated: {stats['units_updated']}. "
            f"Visitors created: {stats['visitors_created']}, "
            f"updated: {stats['visitors_updated']}."
        )
        if dry_run:
            summary += " Dry run: nothing was saved."
        self.stdout.write(self.style.SUCCESS(summary) if not rejected else summary)
