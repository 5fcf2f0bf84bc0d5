"""The personal-data access log: every display or download of a full ID number, a photo, a
licence or a voucher by staff (admin pages, exports, review batches, the gate), who, what,
whose and when. Append-only (``AccessLogEntry``); organisers read it in the admin
(``ciie_portal/admin_access.py``), by visitor or by staff member.

Only staff are logged: a unit contact looking at their own unit's visitors, a gate device
without a user, or an anonymous request leave no row. An export of many people writes one row
per person (one INSERT per 2,000), so that each visitor's accesses can be listed.
"""

from collections.abc import Iterable

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import reverse

from .models import AccessLogEntry
from .private_files import private_file_response

What = AccessLogEntry.What


def _staff(actor) -> bool:
    return bool(
        actor is not None
        and getattr(actor, "is_authenticated", False)
        and getattr(actor, "is_staff", False)
        and actor.pk
    )


def _entry(obj, *, actor, what, via, count=1, content_type=None) -> AccessLogEntry:
    return AccessLogEntry(
        actor=actor,
        what=str(what),
        content_type=content_type
        or ContentType.objects.get_for_model(obj, for_concrete_model=True),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        via=str(via)[:100],
        count=count,
    )


def access_record(*, actor, obj: models.Model, what: str, via: str, count: int = 1):
    """Record that staff member ``actor`` saw ``what`` (``AccessLogEntry.What``) of ``obj``
    through ``via`` (a page's path, an export's name). Returns the row, or None for anyone but
    staff."""
    if not _staff(actor) or obj is None:
        return None
    entry = _entry(obj, actor=actor, what=what, via=via, count=count)
    entry.save()
    return entry


def access_record_many(*, actor, objects: Iterable[models.Model], what: str, via: str) -> int:
    """One row per object (an export of many visitors), written set-based; the number of rows."""
    if not _staff(actor):
        return 0
    types: dict[type, ContentType] = {}
    entries = []
    for obj in objects:
        model = type(obj)
        if model not in types:
            types[model] = ContentType.objects.get_for_model(obj, for_concrete_model=True)
        entries.append(_entry(obj, actor=actor, what=what, via=via, content_type=types[model]))
    AccessLogEntry.objects.bulk_create(entries, batch_size=2000)
    return len(entries)


def logged_file_response(request, field_file, *, obj: models.Model, what: str, **kwargs):
    """``private_file_response`` for a staff page, recorded in the access log once the file is
    found (a missing file is a 404 and no access)."""
    response = private_file_response(field_file, **kwargs)
    access_record(actor=request.user, obj=obj, what=what, via=request.path)
    return response


def access_log_url(*, obj=None, actor=None, content_type_id=None, object_id=None) -> str:
    """The admin list of accesses to ``obj``'s data (or to the object named by
    ``content_type_id`` and ``object_id``), or of those by staff member ``actor``."""
    url = reverse("admin:ciie_portal_accesslogentry_changelist")
    if actor is not None:
        return f"{url}?actor__id__exact={actor.pk}"
    if obj is not None:
        content_type_id = ContentType.objects.get_for_model(obj, for_concrete_model=True).pk
        object_id = obj.pk
    return f"{url}?content_type__id__exact={content_type_id}&object_id={object_id}"
