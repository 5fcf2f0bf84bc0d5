"""Confirmed meetings as an iCalendar file (.ics, RFC 5545) a unit adds to its calendar.

Times are in Beijing time with their zone (``DTSTART;TZID=Asia/Shanghai``, the zone's
definition included), each meeting's ``UID`` is the same in every file (a calendar that
imports the file twice updates the event instead of doubling it), and ``LOCATION`` is the
exhibitor's hall and booth."""

from datetime import timedelta

import icalendar
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal.names import localized

from .meetings import meeting_end, meeting_start

PRODID = "-//CIIE professional visitor registration//meetings//EN"
#: The right-hand side of every meeting's UID: fixed, so the UID never changes.
UID_DOMAIN = "meetings.ciie-portal"


def meeting_uid(meeting) -> str:
    return f"meeting-{meeting.pk}@{UID_DOMAIN}"


def meeting_location(exhibitor) -> str:
    place = {"hall": exhibitor.hall, "booth": exhibitor.booth}
    if exhibitor.hall and exhibitor.booth:
        return _("Hall %(hall)s, booth %(booth)s") % place
    if exhibitor.hall:
        return _("Hall %(hall)s") % place
    if exhibitor.booth:
        return _("Booth %(booth)s") % place
    return ""


def meeting_event(meeting) -> icalendar.Event:
    """One meeting (with its exhibitor and unit at hand) as a VEVENT, in the active language."""
    exhibitor = meeting.exhibitor
    name = localized(exhibitor.name, exhibitor.name_en)
    event = icalendar.Event()
    event.add("uid", meeting_uid(meeting))
    event.add("dtstamp", meeting.decided_at or meeting.created_at or timezone.now())
    event.add("dtstart", meeting_start(meeting))
    event.add("dtend", meeting_end(meeting))
    event.add("summary", _("Meeting: %(exhibitor)s") % {"exhibitor": name})
    location = meeting_location(exhibitor)
    if location:
        event.add("location", location)
    description = [_("Meeting of %(unit)s with %(exhibitor)s.") % {
        "unit": meeting.unit.name, "exhibitor": name
    }]  # fmt: skip
    if meeting.message:
        description.append(meeting.message)
    event.add("description", "\n".join(description))
    event.add("status", "CONFIRMED")
    return event


def meetings_calendar(meetings) -> bytes:
    """The .ics file of ``meetings`` (each with its exhibitor and unit)."""
    meetings = list(meetings)
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", _("CIIE meetings"))
    for meeting in meetings:
        calendar.add_component(meeting_event(meeting))
    if meetings:
        days = [meeting.day for meeting in meetings]
        calendar.add_missing_timezones(
            first_date=min(days) - timedelta(days=1), last_date=max(days) + timedelta(days=1)
        )
    return calendar.to_ical()
