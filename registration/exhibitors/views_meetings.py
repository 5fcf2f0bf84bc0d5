"""Meetings (洽谈预约), the pages: the unit asks an exhibitor for a meeting, lists and cancels
its meetings and downloads them as calendar files (.ics); the exhibitor's contact answers by its
signed link, without an account.

Every write goes through ``meetings``; another unit's meeting is never found (404), nor is
anything said about a link that is not good (404)."""

import math
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ciie_portal.names import localized

from ..access import current_unit
from ..limits import Counter, client_ip, wait_text
from . import meetings as service
from .forms_meetings import MeetingRequestForm, day_label, slot_label
from .ics import meetings_calendar
from .meeting_links import exhibitor_of_token
from .models import Exhibitor, Meeting

M = Meeting.Status

#: Requests to exhibitors' link pages from one address (the token is the only key: a ceiling
#: keeps anybody from trying many).
LINK_PAGES_PER_ADDRESS = Counter(scope="exhibitor-meeting-link", limit=60, window=600)


def _listed_exhibitor_or_404(unit, pk: int) -> Exhibitor:
    exhibitor = Exhibitor.objects.filter(pk=pk, edition_id=unit.edition_id, is_listed=True).first()
    if exhibitor is None:
        raise Http404(_("No such exhibitor in this edition's directory."))
    exhibitor.shown_name = localized(exhibitor.name, exhibitor.name_en)
    return exhibitor


def _chosen_day(value, days: list[date]) -> date:
    for day in days:
        if day.isoformat() == value:
            return day
    return days[0]


def _request_form(unit, exhibitor, days, day, at, data=None, initial=None):
    return MeetingRequestForm(
        data,
        initial=initial,
        days=days,
        day=day,
        taken=service.slots_taken(exhibitor_id=exhibitor.pk, unit_id=unit.pk, day=day),
        past=service.slots_past(day, at),
    )


@login_required
@require_http_methods(["GET", "POST"])
def meeting_request(request, pk: int):
    """Ask ``pk`` for a meeting. "Show the free times" re-draws the slots of the day chosen
    (nothing typed lost, nothing booked); the refusals of the service — a time taken a moment
    ago included — come back next to their field."""
    unit = current_unit(request)
    exhibitor = _listed_exhibitor_or_404(unit, pk)
    at = service.now()
    days = service.days_open(unit.edition, at)
    context = {"unit": unit, "exhibitor": exhibitor, "active": "meetings"}
    if not days:
        return render(request, "registration/exhibitors/meeting_request.html", context)
    posted = request.POST if request.method == "POST" else None
    day = _chosen_day((posted or request.GET).get("day"), days)
    if posted is not None and "show_day" in posted:
        form = _request_form(
            unit,
            exhibitor,
            days,
            day,
            at,
            initial={"day": day.isoformat(), "message": posted.get("message", "")},
        )
    else:
        form = _request_form(
            unit, exhibitor, days, day, at, data=posted, initial={"day": day.isoformat()}
        )
        if posted is not None and form.is_valid():
            try:
                meeting = service.meeting_request(
                    unit=unit,
                    exhibitor=exhibitor,
                    day=day,
                    slot=form.cleaned_data["slot"],
                    message=form.cleaned_data["message"],
                    actor=request.user,
                    link_base=request.build_absolute_uri("/"),
                    at=at,
                )
            except ValidationError as error:
                # The slots as they are now (the one just taken shown taken), the message kept.
                form = _request_form(unit, exhibitor, days, day, at, data=posted)
                if form.is_valid():
                    form.add_error(None, error)
            else:
                messages.success(
                    request,
                    _(
                        "Meeting requested with %(exhibitor)s on %(day)s at %(slot)s. The "
                        "exhibitor has been told; you will be told of the answer."
                    )
                    % {"exhibitor": exhibitor.shown_name, "day": meeting.day, "slot": meeting.slot},
                )
                return redirect("registration:meetings")
    context.update(form=form, day=day)
    return render(request, "registration/exhibitors/meeting_request.html", context)


def _shown(meetings, at) -> list[Meeting]:
    meetings = list(meetings)
    for meeting in meetings:
        exhibitor = meeting.exhibitor
        meeting.exhibitor_name = localized(exhibitor.name, exhibitor.name_en)
        meeting.when = f"{day_label(meeting.day)} {slot_label(meeting.day, meeting.slot)}"
        meeting.cancellable = service.can_cancel(meeting, at)
    return meetings


@login_required
@require_GET
def meeting_list(request):
    unit = current_unit(request)
    meetings = _shown(service.meetings_of_unit(unit), service.now())
    return render(
        request,
        "registration/exhibitors/meeting_list.html",
        {
            "unit": unit,
            "meetings": meetings,
            "any_confirmed": any(m.status == M.CONFIRMED for m in meetings),
            "active": "meetings",
        },
    )


@login_required
@require_POST
def meeting_cancel(request, pk: int):
    unit = current_unit(request)
    meeting = get_object_or_404(service.meetings_of_unit(unit), pk=pk)
    try:
        service.meeting_cancel(meeting=meeting, unit=unit, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The meeting was cancelled; the exhibitor has been told."))
    return redirect("registration:meetings")


def _calendar_response(meetings, filename: str) -> HttpResponse:
    response = HttpResponse(
        meetings_calendar(meetings), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def meeting_calendar(request, pk: int):
    """One confirmed (or held) meeting of the unit as an .ics file; any other: 404."""
    unit = current_unit(request)
    meeting = get_object_or_404(
        service.meetings_of_unit(unit)
        .select_related("unit")
        .filter(status__in=(M.CONFIRMED, M.HELD)),
        pk=pk,
    )
    return _calendar_response([meeting], f"meeting-{meeting.pk}.ics")


@login_required
@require_GET
def meetings_calendar_all(request):
    """Every confirmed meeting of the unit in one .ics file."""
    unit = current_unit(request)
    meetings = service.meetings_of_unit(unit).select_related("unit").filter(status=M.CONFIRMED)
    return _calendar_response(meetings, "meetings.ics")


# --- The exhibitor's page by its signed link ------------------------------------------------------


def _limited(request) -> HttpResponse | None:
    address = client_ip(request)
    if not address:
        return None
    count, _key, left = LINK_PAGES_PER_ADDRESS.hit(address)
    if count <= LINK_PAGES_PER_ADDRESS.limit:
        return None
    wait = max(int(math.ceil(left)), 1)
    response = HttpResponse(
        _("Too many requests from your network address. Try again in %(wait)s.")
        % {"wait": wait_text(wait)},
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(wait)
    return response


def _private(response: HttpResponse) -> HttpResponse:
    # The token is in the address: it never leaves the site as a referrer ("same-origin", not
    # "no-referrer": with that, browsers send "Origin: null" and the CSRF check refuses the
    # page's own forms), and no cache keeps the page (never_cache).
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def exhibitor_meetings(request, token: str):
    limited = _limited(request)
    if limited is not None:
        return limited
    exhibitor = exhibitor_of_token(token, at=service.now())
    if exhibitor is None:
        raise Http404(_("This link is not valid."))
    if request.method == "POST":
        _exhibitor_answer(request, exhibitor)
        return _private(
            redirect(reverse("registration:exhibitor_meetings", args=[token]) + "#meetings")
        )
    at = service.now()
    meetings = list(service.meetings_of_exhibitor(exhibitor))
    for meeting in meetings:
        meeting.when = f"{day_label(meeting.day)} {slot_label(meeting.day, meeting.slot)}"
        meeting.answerable = meeting.status == M.REQUESTED
        meeting.confirmable = service.meeting_start(meeting) > at
        meeting.can_hold = service.can_mark_held(meeting, at)
    exhibitor.shown_name = localized(exhibitor.name, exhibitor.name_en)
    return _private(
        render(
            request,
            "registration/exhibitors/meeting_exhibitor.html",
            {"exhibitor": exhibitor, "meetings": meetings},
        )
    )


def _exhibitor_answer(request, exhibitor: Exhibitor) -> None:
    pk = request.POST.get("meeting", "")
    meeting = (
        Meeting.objects.select_related("unit", "exhibitor")
        .filter(exhibitor_id=exhibitor.pk, pk=int(pk))
        .first()
        if pk.isdigit()
        else None
    )
    if meeting is None:
        raise Http404(_("No such meeting."))
    action = request.POST.get("action")
    actor = service.exhibitor_actor(exhibitor)
    try:
        if action in ("confirm", "decline"):
            service.meeting_answer(
                meeting=meeting, accept=action == "confirm", actor=actor, by_exhibitor=True
            )
            done = (
                _("Meeting confirmed: the unit has been told.")
                if action == "confirm"
                else _("Meeting declined: the unit has been told.")
            )
        elif action == "held":
            service.meeting_mark_held(meeting=meeting, actor=actor, by_exhibitor=True)
            done = _("Meeting marked as held. Thank you.")
        else:
            raise Http404(_("No such action."))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
