"""At a side event's door (配套活动): gate staff pick the event, then scan each credential (or
type its number) and read whether its holder is on the event's list. Staff with
``credentials.check_credential``, as at the gate; the event must be one of the current expo.
"""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from ciie_portal.models import SideEvent

from .event_check import event_check
from .views import _edition, gate_staff_required


def _events(edition):
    return SideEvent.objects.filter(edition=edition, capacity__isnull=False).order_by(
        "starts_at", "pk"
    )


@gate_staff_required
@require_GET
def event_list(request):
    edition = _edition(request)
    return render(request, "credentials/gate_events.html", {"events": list(_events(edition))})


@gate_staff_required
@require_http_methods(["GET", "POST"])
def event_check_page(request, event_id: int):
    edition = _edition(request)
    event = _events(edition).filter(pk=event_id).first()
    if event is None:
        raise Http404("no such side event")
    result = None
    if request.method == "POST":
        result = event_check(edition=edition, event=event, text=request.POST.get("payload", ""))
    return render(request, "credentials/gate_event_check.html", {"event": event, "result": result})
