"""Dates and times as people read them: in the edition's time zone (Beijing, ``TIME_ZONE``).

An aware datetime formatted with ``strftime`` prints UTC ("15:59" for 23:59 in Beijing); every
notice, page and PDF goes through ``timezone.localtime`` first, here.
"""

from datetime import datetime

from django.utils import timezone

MINUTE = "%Y-%m-%d %H:%M"


def local_text(value: datetime | None, fmt: str = MINUTE) -> str:
    """``value`` in Beijing time as text ("2027-10-15 23:59"); "" for no value."""
    if value is None:
        return ""
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return timezone.localtime(value).strftime(fmt)
