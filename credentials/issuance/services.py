"""证件发放 (issuance): courier parcels and delegation pick-up lists.

Only credentials that are **active** and whose print batch is **confirmed printed** are issued,
and only for visitors whose review passed. A visitor who chose 快递 gets the credential in a
parcel to the delivery address they picked; one who chose 交易团代领 gets it on their
delegation's pick-up list.

Packing is set-based and safe to run twice, also at once: a run first locks its edition's
number counter (runs of one edition take turns), then locks the credential rows it packs, reads
them again to drop any a concurrent run took meanwhile, and inserts parcels and items in bulk.
The database stands behind it: an item per credential (one-to-one), at most ten per parcel.

A credential revoked after packing stays in its parcel or list (items are never deleted) and is
shown as revoked; its replacement, once printed, is packed into a new parcel or list.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record_bulk
from ciie_portal.notices.services import notice_send
from ciie_portal.spreadsheets import SpreadsheetError, fold, read_sheet, sheet_workbook
from credentials.production.models import Credential
from delegations.models import Delegation
from registration.models import Pickup
from registration.reference import division_path

from .models import (
    PARCEL_SIZE,
    PARCEL_STATES,
    PICKUP_LIST_STATES,
    IssuanceCounter,
    Parcel,
    ParcelItem,
    PickupItem,
    PickupList,
)
from .selectors import issuable_credentials

#: Units whose parcels are packed in one transaction (keeps the locks and IN lists short).
UNITS_PER_BATCH = 500
#: Rows an imported tracking spreadsheet may hold.
MAX_TRACKING_ROWS = 5000


def _user(actor):
    """The user to store in a ``…_by`` field: None for "system" and other labels."""
    return None if actor is None or isinstance(actor, str) or not actor.pk else actor


def full_address(*, province="", city="", district="", address="") -> str:
    """``广东省 广州市 天河区 珠江新城华夏路8号``: the divisions' names, then the street."""
    # Couriers read Chinese, whatever language the staff member uses.
    chinese = division_path(province, city, district, english=False)
    return " ".join(part for part in (chinese, address) if part)


def _draw_numbers(edition, kind: str, count: int) -> list[int]:
    """``count`` consecutive sequence numbers of (edition, kind), under a lock on the counter
    row held until commit: a second run of the edition waits here until the first is done."""
    # INSERT … ON CONFLICT DO NOTHING: the first run makes the row; racing firsts find it.
    IssuanceCounter.objects.bulk_create(
        [IssuanceCounter(edition=edition, kind=kind)], ignore_conflicts=True
    )
    counter = IssuanceCounter.objects.select_for_update().get(edition=edition, kind=kind)
    first = counter.last_sequence + 1
    if count:
        counter.last_sequence += count
        counter.save(update_fields=["last_sequence"])
    return list(range(first, first + count))


def _lock_and_read(credentials: QuerySet, fields: list[str]) -> list[dict]:
    """Lock the rows of ``credentials``, then read them again.

    The second read is a new statement, so it sees what a concurrent run committed while we
    waited for the locks (a credential it put in a parcel or on a list is no longer there).
    Only rows we hold locks on are returned: nobody can pack them until we commit.
    """
    # Model instances, not values(): FOR UPDATE OF needs them to lock only the credentials
    # (values() would lock every joined row: visitors, print batches, units).
    locked = {
        credential.pk
        for credential in credentials.select_for_update(of=("self",)).only("pk").order_by("pk")
    }
    if not locked:
        return []
    return [row for row in credentials.order_by("pk").values("pk", *fields) if row["pk"] in locked]


# --- Courier parcels ---------------------------------------------------------------------------


@dataclass
class PackResult:
    parcels: int = 0
    credentials: int = 0
    without_address: int = 0  # chose courier but have no delivery address: not packed
    parcel_ids: list[int] = field(default_factory=list)


_ADDRESS_FIELDS = [
    "visitor__unit_id",
    "visitor__address_id",
    "visitor__address__recipient",
    "visitor__address__mobile",
    "visitor__address__province",
    "visitor__address__city",
    "visitor__address__district",
    "visitor__address__address",
    "visitor__address__postcode",
]


def parcels_pack(*, edition, actor, delegation: Delegation | None = None) -> PackResult:
    """Pack every issuable courier credential into parcels.

    Credentials go together when they are for the same unit, address and recipient (the
    address compared as written out, so two saved copies of one address make one parcel),
    at most ``PARCEL_SIZE`` per parcel. Safe to run again: what is packed is never packed
    twice; credentials printed since then go into new parcels.
    """
    candidates = issuable_credentials(edition=edition, pickup=Pickup.COURIER, delegation=delegation)
    result = PackResult(without_address=candidates.filter(visitor__address__isnull=True).count())
    candidates = candidates.filter(visitor__address__isnull=False)
    unit_ids = sorted(set(candidates.values_list("visitor__unit_id", flat=True).order_by()))
    for start in range(0, len(unit_ids), UNITS_PER_BATCH):
        batch = unit_ids[start : start + UNITS_PER_BATCH]
        with transaction.atomic():
            _pack_units(candidates.filter(visitor__unit_id__in=batch), edition, actor, result)
    return result


def _pack_units(candidates: QuerySet, edition, actor, result: PackResult) -> None:
    # Lock the counter first: a concurrent run of this edition finishes before we read.
    _draw_numbers(edition, IssuanceCounter.Kind.PARCEL, 0)
    rows = _lock_and_read(candidates, _ADDRESS_FIELDS)
    if not rows:
        return
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        text = full_address(
            province=row["visitor__address__province"],
            city=row["visitor__address__city"],
            district=row["visitor__address__district"],
            address=row["visitor__address__address"],
        )
        row["address_text"] = text
        key = (row["visitor__unit_id"], fold(text), fold(row["visitor__address__recipient"]))
        groups[key].append(row)
    contents = []  # one list of rows per parcel
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda row: row["pk"])
        contents += [members[i : i + PARCEL_SIZE] for i in range(0, len(members), PARCEL_SIZE)]
    numbers = _draw_numbers(edition, IssuanceCounter.Kind.PARCEL, len(contents))
    now, user = timezone.now(), _user(actor)
    parcels = []
    for sequence, members in zip(numbers, contents, strict=True):
        # The parcel carries the address as saved by the first visitor (lowest address id).
        first = min(members, key=lambda row: row["visitor__address_id"])
        parcels.append(
            Parcel(
                number=f"P{edition.number % 100:02d}{sequence:06d}",
                edition=edition,
                unit_id=first["visitor__unit_id"],
                address_id=first["visitor__address_id"],
                recipient=first["visitor__address__recipient"],
                mobile=first["visitor__address__mobile"],
                address_text=first["address_text"][:300],
                postcode=first["visitor__address__postcode"],
                packed_at=now,
                packed_by=user,
            )
        )
    Parcel.objects.bulk_create(parcels, batch_size=1000)
    ParcelItem.objects.bulk_create(
        [
            ParcelItem(parcel=parcel, credential_id=row["pk"], position=position)
            for parcel, members in zip(parcels, contents, strict=True)
            for position, row in enumerate(members, start=1)
        ],
        batch_size=2000,
    )
    audit_record_bulk(
        actor=actor, objects=parcels, action="parcel.packed", to_state=Parcel.Status.PACKED
    )
    result.parcels += len(parcels)
    result.credentials += len(rows)
    result.parcel_ids += [parcel.pk for parcel in parcels]


def _clean(text) -> str:
    return " ".join(unicodedata.normalize("NFKC", str(text or "")).split())


def _clean_tracking(text) -> str:
    return "".join(unicodedata.normalize("NFKC", str(text or "")).split()).upper()


def parcel_ship(*, parcel_id: int, courier: str, tracking_number: str, actor) -> bool:
    """Enter the courier and tracking number of a packed parcel: it is shipped, and its
    recipient gets one SMS with them.

    Returns False when the parcel was already shipped with this very number (nothing changes,
    no second SMS). Raises ValidationError when it was shipped with another number, when the
    number belongs to another parcel, or when every credential in it was revoked.
    """
    courier, tracking_number = _clean(courier), _clean_tracking(tracking_number)
    if not courier or not tracking_number:
        raise ValidationError(_("Enter the courier and the tracking number."), code="required")
    with transaction.atomic():
        parcel = (
            Parcel.objects.select_for_update(of=("self",))
            .select_related("unit")
            .filter(pk=parcel_id)
            .first()
        )
        if parcel is None:
            raise ValidationError(_("No such parcel."), code="unknown")
        if parcel.status != Parcel.Status.PACKED:
            if (parcel.courier, parcel.tracking_number) == (courier, tracking_number):
                return False
            raise ValidationError(
                _("Parcel %(parcel)s was already shipped with %(courier)s %(tracking)s.")
                % {
                    "parcel": parcel.number,
                    "courier": parcel.courier,
                    "tracking": parcel.tracking_number,
                },
                code="shipped",
            )
        other = (
            Parcel.objects.filter(courier=courier, tracking_number=tracking_number)
            .exclude(pk=parcel.pk)
            .values_list("number", flat=True)
            .first()
        )
        if other:
            raise ValidationError(
                _("Tracking number %(tracking)s is already used for parcel %(parcel)s.")
                % {"tracking": tracking_number, "parcel": other},
                code="tracking_used",
            )
        active = parcel.items.filter(credential__status=Credential.Status.ACTIVE).count()
        if not active:
            raise ValidationError(
                _("Every credential in parcel %(parcel)s was revoked: there is nothing to ship.")
                % {"parcel": parcel.number},
                code="all_revoked",
            )
        try:
            with transaction.atomic():
                PARCEL_STATES.move(
                    parcel,
                    Parcel.Status.SHIPPED,
                    actor=actor,
                    data={"courier": courier, "tracking_number": tracking_number},
                    courier=courier,
                    tracking_number=tracking_number,
                    shipped_at=timezone.now(),
                    shipped_by=_user(actor),
                )
        except IntegrityError:
            # Another parcel took the number between our check and our write.
            raise ValidationError(
                _("Tracking number %(tracking)s is already used for another parcel.")
                % {"tracking": tracking_number},
                code="tracking_used",
            ) from None
        notice_send(
            key=f"parcel-shipped:{parcel.pk}",
            event="parcel_shipped",
            channel="sms",
            recipient=parcel.mobile,
            template="parcel_shipped",
            params={
                "unit": parcel.unit.short_name or parcel.unit.name,
                "recipient": parcel.recipient,
                "count": active,
                "courier": courier,
                "tracking_number": tracking_number,
                "number": parcel.number,
            },
            # Parcels go to addresses in China.
            language=settings.LANGUAGE_CODE,
        )
    return True


def parcels_mark_delivered(*, parcels: QuerySet, actor) -> int:
    """The courier confirmed delivery (optional step). Returns how many parcels moved."""
    return len(
        PARCEL_STATES.move_many(
            parcels, Parcel.Status.DELIVERED, actor=actor, delivered_at=timezone.now()
        )
    )


# --- The tracking spreadsheet ------------------------------------------------------------------

#: Column key → title in row 1 (the export writes these; the import finds them by title).
TRACKING_COLUMNS = {
    "parcel": "包裹号",
    "courier": "快递公司",
    "tracking_number": "快递单号",
    "recipient": "收件人",
    "mobile": "收件人手机",
    "address": "收件地址",
    "postcode": "邮编",
    "unit": "单位名称",
    "count": "证件数",
}
TRACKING_REQUIRED = ("parcel", "courier", "tracking_number")
#: Other titles understood on import (courier companies' own exports).
TRACKING_ALIASES = {
    "parcel": ("包裹编号", "parcel number", "parcel"),
    "courier": ("快递", "快递公司名称", "承运商", "courier"),
    "tracking_number": ("运单号", "快递单号码", "tracking number", "waybill number"),
}


#: The file as a whole cannot be read: nothing was changed.
TrackingFileError = SpreadsheetError


@dataclass
class TrackingRow:
    number: int  # the spreadsheet's row number
    parcel: str
    courier: str = ""
    tracking_number: str = ""
    reasons: list[str] = field(default_factory=list)


@dataclass
class TrackingReport:
    shipped: list[TrackingRow] = field(default_factory=list)
    unchanged: list[TrackingRow] = field(default_factory=list)  # already shipped, same number
    refused: list[TrackingRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.shipped) + len(self.unchanged) + len(self.refused)


def _read_tracking_rows(rows_file) -> list[TrackingRow]:
    sheet_rows = read_sheet(
        rows_file,
        columns={c: (TRACKING_COLUMNS[c], *TRACKING_ALIASES[c]) for c in TRACKING_REQUIRED},
        required=TRACKING_REQUIRED,
        max_rows=MAX_TRACKING_ROWS,
        messages={"not_xlsx": _("The file is not an Excel workbook (.xlsx).")},
    )
    rows = []
    for sheet_row in sheet_rows:
        values = sheet_row.values
        row = TrackingRow(
            number=sheet_row.number,
            parcel=_clean_tracking(values["parcel"]),
            courier=_clean(values["courier"]),
            tracking_number=_clean_tracking(values["tracking_number"]),
        )
        figure = sheet_row.cells["tracking_number"]
        if isinstance(figure, float) or (isinstance(figure, int) and len(str(figure)) > 15):
            # Excel keeps 15 digits of a figure: the number may have lost some.
            row.reasons.append(
                _(
                    "Excel stored the tracking number as a figure and may have lost "
                    "digits: format the column as text and type it again."
                )
            )
        rows.append(row)
    return rows


def parcels_import_tracking(*, rows_file, edition, actor) -> TrackingReport:
    """Ship the parcels listed in a spreadsheet (包裹号, 快递公司, 快递单号).

    Every row either ships its parcel, is reported unchanged (already shipped with that very
    number) or is refused with its reasons, changing nothing: an unknown parcel, a parcel or a
    tracking number that appears in several rows, a parcel already shipped with another
    number, a number that belongs to another parcel. Each row is shipped in its own
    transaction; raises TrackingFileError when the file itself cannot be read.
    """
    rows = _read_tracking_rows(rows_file)
    report = TrackingReport()
    by_parcel: dict[str, list[TrackingRow]] = defaultdict(list)
    by_tracking: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in rows:
        if not row.parcel:
            row.reasons.append(_("No parcel number."))
        if not row.courier:
            row.reasons.append(_("No courier."))
        if not row.tracking_number:
            row.reasons.append(_("No tracking number."))
        if row.parcel:
            by_parcel[row.parcel].append(row)
        if row.tracking_number:
            by_tracking[(row.courier, row.tracking_number)].add(row.parcel)
    for number, same in by_parcel.items():
        if len(same) > 1:
            lines = "、".join(str(row.number) for row in same)
            for row in same:
                row.reasons.append(
                    _("Parcel %(parcel)s appears in rows %(rows)s: nothing was changed for it.")
                    % {"parcel": number, "rows": lines}
                )
    for row in rows:
        parcels = by_tracking.get((row.courier, row.tracking_number), set())
        if row.tracking_number and len(parcels) > 1:
            row.reasons.append(
                _("Tracking number %(tracking)s is given for several parcels: %(parcels)s.")
                % {"tracking": row.tracking_number, "parcels": "、".join(sorted(parcels))}
            )
    known = dict(
        Parcel.objects.filter(edition=edition, number__in=list(by_parcel)).values_list(
            "number", "pk"
        )
    )
    for row in rows:
        if row.parcel and row.parcel not in known:
            row.reasons.append(
                _("There is no parcel %(parcel)s in this edition.") % {"parcel": row.parcel}
            )
        if row.reasons:
            report.refused.append(row)
            continue
        try:
            shipped = parcel_ship(
                parcel_id=known[row.parcel],
                courier=row.courier,
                tracking_number=row.tracking_number,
                actor=actor,
            )
        except ValidationError as error:
            row.reasons += error.messages
            report.refused.append(row)
        else:
            (report.shipped if shipped else report.unchanged).append(row)
    return report


def parcels_workbook(parcels: QuerySet) -> bytes:
    """The parcels as a spreadsheet for the courier (the import reads it back once the
    courier and tracking number columns are filled in)."""
    titles = list(TRACKING_COLUMNS.values())
    rows = (
        parcels.select_related("unit").annotate(credential_count=Count("items")).order_by("number")
    )
    return sheet_workbook(
        title=_("Parcels"),
        titles=titles,
        rows=(
            [
                parcel.number,
                parcel.courier,
                parcel.tracking_number,
                parcel.recipient,
                parcel.mobile,
                parcel.address_text,
                parcel.postcode,
                parcel.unit.name,
                parcel.credential_count,
            ]
            for parcel in rows.iterator(chunk_size=2000)
        ),
        # Every column but the count holds text: Excel keeps long numbers as typed.
        text_columns=[title for key, title in TRACKING_COLUMNS.items() if key != "count"],
        widths={
            TRACKING_COLUMNS["parcel"]: 14,
            TRACKING_COLUMNS["tracking_number"]: 20,
            TRACKING_COLUMNS["address"]: 50,
            TRACKING_COLUMNS["unit"]: 30,
        },
    )


# --- Delegation pick-up lists ------------------------------------------------------------------


@dataclass
class PickupResult:
    lists: int = 0
    credentials: int = 0
    without_delegation: int = 0  # the unit belongs to no delegation: nobody to collect
    list_ids: list[int] = field(default_factory=list)


def pickup_lists_make(*, edition, actor, delegation: Delegation | None = None) -> PickupResult:
    """Put every issuable 交易团代领 credential on a pick-up list: one new list per delegation
    (the unit's own delegation or sub-delegation) per run. Safe to run again."""
    candidates = issuable_credentials(
        edition=edition, pickup=Pickup.DELEGATION, delegation=delegation
    )
    result = PickupResult(
        without_delegation=candidates.filter(visitor__unit__delegation__isnull=True).count()
    )
    candidates = candidates.filter(visitor__unit__delegation__isnull=False)
    with transaction.atomic():
        _draw_numbers(edition, IssuanceCounter.Kind.PICKUP_LIST, 0)
        rows = _lock_and_read(candidates, ["visitor__unit__delegation_id"])
        if not rows:
            return result
        groups: dict[int, list[int]] = defaultdict(list)
        for row in rows:
            groups[row["visitor__unit__delegation_id"]].append(row["pk"])
        delegation_ids = sorted(groups)
        numbers = _draw_numbers(edition, IssuanceCounter.Kind.PICKUP_LIST, len(delegation_ids))
        now, user = timezone.now(), _user(actor)
        lists = [
            PickupList(
                number=f"L{edition.number % 100:02d}{sequence:05d}",
                edition=edition,
                delegation_id=delegation_id,
                prepared_at=now,
                prepared_by=user,
            )
            for sequence, delegation_id in zip(numbers, delegation_ids, strict=True)
        ]
        PickupList.objects.bulk_create(lists)
        PickupItem.objects.bulk_create(
            [
                PickupItem(pickup_list=pickup_list, credential_id=credential_id)
                for pickup_list in lists
                for credential_id in groups[pickup_list.delegation_id]
            ],
            batch_size=2000,
        )
        audit_record_bulk(
            actor=actor,
            objects=lists,
            action="pickup_list.prepared",
            to_state=PickupList.Status.PREPARED,
        )
    result.lists, result.credentials = len(lists), len(rows)
    result.list_ids = [pickup_list.pk for pickup_list in lists]
    return result


def pickup_list_hand_over(
    *, pickup_list_id: int, received_by_name: str, received_by_phone: str = "", actor
) -> bool:
    """The delegation collected the list's credentials: who received them, confirmed by
    ``actor``. Returns False when the list was already handed over (nothing changes)."""
    name, phone = _clean(received_by_name), _clean(received_by_phone)
    if not name:
        raise ValidationError(
            _("Enter the name of the person who received the credentials."), code="required"
        )
    with transaction.atomic():
        pickup_list = (
            PickupList.objects.select_for_update(of=("self",)).filter(pk=pickup_list_id).first()
        )
        if pickup_list is None or pickup_list.status != PickupList.Status.PREPARED:
            return False
        PICKUP_LIST_STATES.move(
            pickup_list,
            PickupList.Status.HANDED_OVER,
            actor=actor,
            data={"received_by_name": name, "received_by_phone": phone},
            received_by_name=name,
            received_by_phone=phone,
            handed_over_at=timezone.now(),
            handed_over_by=_user(actor),
        )
    return True
