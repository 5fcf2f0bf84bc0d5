from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from delegations.selectors import delegation_directory

from .context_processors import current_edition_for
from .models import EntryPeriod


@require_GET
def landing(request):
    edition = current_edition_for(request)
    periods = list(EntryPeriod.objects.filter(edition=edition)) if edition else []
    return render(
        request,
        "ciie_portal/landing.html",
        {"edition": edition, "periods": periods, "directory": delegation_directory()},
    )


@require_GET
def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
