"""The unit's own copy of its data (PIPL art. 45, 个人信息副本): a ZIP for the signed-in unit
contact with ``unit.json`` (the account, the unit's information, its delivery addresses),
``visitors.json`` (every visitor of the unit, the full ID number included: it is their own
data), ``photos/<reference>.jpg`` and ``licence.<ext>``. Nothing of another unit.

Values are as people read them: choices by their label, related records by their name, times in
Beijing time. The archive is written to a temporary file (spilled to disk past a few MB), each
photo copied in chunks, so a large unit's photos are never all in memory.

Downloads are limited per unit (``UNIT_DATA_DOWNLOADS_PER_HOUR``, default 3, in the shared
cache of ``registration.limits``) and audited (``unit.data_exported``).
"""

import json
import math
import shutil
import tempfile
import zipfile
from datetime import date, datetime, time
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record
from ciie_portal.timefmt import local_text

from .limits import Counter, Limited, wait_text
from .models import DeliveryAddress, Unit, Visitor

SECONDS = "%Y-%m-%d %H:%M:%S"

# Stored for the portal's own use, never shown: secrets, blind indexes, the encrypted number.
HIDDEN = {
    "password",
    "one_click_nonce",
    "id_number_encrypted",
    "id_number_index",
    "id_number_masked",
}


def _value(obj, field):
    if field.choices:
        value = getattr(obj, field.attname)
        return str(getattr(obj, f"get_{field.name}_display")()) if value not in (None, "") else ""
    if field.is_relation:
        if getattr(obj, field.attname) is None:
            return None
        return str(getattr(obj, field.name))
    value = field.value_from_object(obj)
    if isinstance(value, datetime):
        return local_text(value, SECONDS)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, FieldFile):
        return value.name or None
    return value


def record_values(obj: models.Model, *, leave_out=()) -> dict:
    """``{field name: value as read}`` of ``obj``'s stored fields (the database id left out)."""
    return {
        field.name: _value(obj, field)
        for field in obj._meta.concrete_fields
        if not field.primary_key and field.name not in HIDDEN and field.name not in leave_out
    }


def _extension(name: str, default: str) -> str:
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return suffix if suffix.isalnum() and len(suffix) <= 5 else default


def _copy_file(archive: zipfile.ZipFile, storage, stored_name: str, name: str) -> bool:
    """Copy a stored file into the archive in chunks; False when it is missing."""
    try:
        source = storage.open(stored_name, "rb")
    except OSError:
        return False
    with source, archive.open(name, "w") as target:
        shutil.copyfileobj(source, target, 256 * 1024)
    return True


def _json(data) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode()


def unit_data_archive(unit: Unit):
    """The unit's ZIP as an open temporary file (at its start) and what it holds."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (returned open)
    counts = {"visitors": 0, "photos": 0, "licence": False}
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        licence_name = None
        if unit.licence:
            licence_name = f"licence.{_extension(unit.licence.name, 'jpg')}"
            if _copy_file(archive, unit.licence.storage, unit.licence.name, licence_name):
                counts["licence"] = True
            else:
                licence_name = None
        visitors = Visitor.objects.filter(unit=unit)
        photos = {}
        storage = Visitor._meta.get_field("photo").storage
        stored = visitors.exclude(photo="").values_list("reference", "photo").order_by("pk")
        for reference, stored_name in stored.iterator(chunk_size=500):
            if _copy_file(archive, storage, stored_name, f"photos/{reference}.jpg"):
                photos[reference] = f"photos/{reference}.jpg"
        counts["photos"] = len(photos)
        account = unit.account
        unit_values = record_values(unit, leave_out=("account",))
        unit_values["licence"] = licence_name
        addresses = DeliveryAddress.objects.filter(unit=unit).order_by("pk")
        archive.writestr(
            "unit.json",
            _json(
                {
                    "exported_at": local_text(timezone.now(), SECONDS),
                    "time_zone": settings.TIME_ZONE,
                    "account": {
                        "login_name": account.get_username(),
                        "first_name": account.first_name,
                        "last_name": account.last_name,
                        "email": account.email,
                        "mobile": getattr(account, "mobile", ""),
                        "date_joined": local_text(account.date_joined, SECONDS),
                    }
                    if account
                    else None,
                    "unit": unit_values,
                    "addresses": [
                        record_values(address, leave_out=("unit",)) for address in addresses
                    ],
                }
            ),
        )
        visitors = visitors.select_related(
            "edition", "unit", "entry_period", "address", "previous"
        ).order_by("pk")
        with archive.open("visitors.json", "w") as out:
            out.write(b"[")
            for visitor in visitors.iterator(chunk_size=500):
                values = record_values(visitor, leave_out=("unit", "photo"))
                values = {
                    "reference": visitor.reference,
                    "name": visitor.name,
                    "id_type": values.pop("id_type", ""),
                    "id_number": visitor.id_number,
                    **values,
                    "photo": photos.get(visitor.reference),
                }
                out.write(b",\n" if counts["visitors"] else b"\n")
                out.write(_json(values))
                counts["visitors"] += 1
            out.write(b"\n]\n")
    spool.seek(0)
    return spool, counts


def _limit() -> Counter:
    return Counter(
        scope="unit-data-export",
        limit=getattr(settings, "UNIT_DATA_DOWNLOADS_PER_HOUR", 3),
        window=3600,
    )


def unit_data_export(*, unit: Unit, actor):
    """Count one download for ``unit`` (or raise Limited), build its archive and audit it."""
    counter = _limit()
    count, key, left = counter.hit(str(unit.pk))
    if count > counter.limit:
        Counter.give_back(key)
        raise Limited(
            _("Your unit's data can be downloaded %(limit)d times an hour. Try again in %(wait)s.")
            % {"limit": counter.limit, "wait": wait_text(left)},
            wait_seconds=max(int(math.ceil(left)), 1),
        )
    try:
        spool, counts = unit_data_archive(unit)
    except Exception:
        Counter.give_back(key)
        raise
    audit_record(actor=actor, obj=unit, action="unit.data_exported", data=counts)
    return spool, counts
