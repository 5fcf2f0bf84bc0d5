"""配套活动报名, the unit's pages: the events taking sign-ups with the places left, one event's
page (sign visitors up, see and cancel the unit's sign-ups), cancelling a sign-up.

Every write goes through ``services``; another unit's sign-up or visitor is never found (404,
or refused on the form without saying whose it is)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..access import current_unit
from .forms import SignupForm
from .models import HOLDING, SideEventSignup
from .selectors import signup_events, signups_of_unit, visitor_choices
from .services import side_event_signup, side_event_signup_cancel

S = SideEventSignup.Status


def _grouped(signups) -> dict[int, list]:
    grouped: dict[int, list] = {}
    for signup in signups:
        grouped.setdefault(signup.event_id, []).append(signup)
    return grouped


@login_required
@require_GET
def side_event_list(request):
    unit = current_unit(request)
    events = signup_events(unit.edition_id)
    by_event = _grouped(signups_of_unit(unit))
    for event in events:
        event.unit_signups = by_event.get(event.pk, [])
    return render(request, "registration/side_events/list.html", {"unit": unit, "events": events})


def _event_or_404(unit, pk: int):
    event = next((e for e in signup_events(unit.edition_id) if e.pk == pk), None)
    if event is None:
        raise Http404(_("No such side event takes sign-ups."))
    return event


def _signed_up_message(signups) -> str:
    held = sum(1 for signup in signups if signup.status in HOLDING)
    pending = sum(1 for signup in signups if signup.status == S.PENDING)
    waiting = len(signups) - held
    parts = []
    if held - pending:
        parts.append(
            ngettext("%(n)d visitor signed up.", "%(n)d visitors signed up.", held - pending)
            % {"n": held - pending}
        )
    if pending:
        parts.append(
            ngettext(
                "%(n)d visitor awaits the organiser's approval.",
                "%(n)d visitors await the organiser's approval.",
                pending,
            )
            % {"n": pending}
        )
    if waiting:
        parts.append(
            ngettext(
                "%(n)d visitor is on the waiting list.",
                "%(n)d visitors are on the waiting list.",
                waiting,
            )
            % {"n": waiting}
        )
    return " ".join(parts)


@login_required
@require_http_methods(["GET", "POST"])
def side_event_detail(request, pk: int):
    """One event: its details and places left, the form to sign visitors up while its window
    is open (refusals next to the field, the choice kept), the unit's sign-ups for it."""
    unit = current_unit(request)
    event = _event_or_404(unit, pk)
    signups = signups_of_unit(unit, event.pk)
    form = SignupForm(
        request.POST if request.method == "POST" else None,
        choices=visitor_choices(unit, event, signups),
    )
    if request.method == "POST" and form.is_valid():
        try:
            signups = side_event_signup(
                event=event, unit=unit, visitor_ids=form.visitor_ids(), actor=request.user
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _signed_up_message(signups))
            return redirect("registration:side_event", pk=event.pk)
    return render(
        request,
        "registration/side_events/event.html",
        {
            "unit": unit,
            "event": event,
            "form": form,
            "signups": signups,
        },
    )


@login_required
@require_POST
def side_event_cancel(request, pk: int):
    unit = current_unit(request)
    signup = get_object_or_404(SideEventSignup.objects.filter(unit=unit), pk=pk)
    try:
        side_event_signup_cancel(signup=signup, unit=unit, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, _("%(name)s's sign-up was cancelled.") % {"name": signup.visitor.name}
        )
    if any(event.pk == signup.event_id for event in signup_events(unit.edition_id)):
        return redirect("registration:side_event", pk=signup.event_id)
    return redirect("registration:side_events")
