"""我的数据 (PIPL art. 45): the unit contact downloads a copy of the unit's and its visitors' data
(registration/my_data.py)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from .access import current_unit
from .limits import Limited
from .my_data import unit_data_export


@login_required
@require_http_methods(["GET", "POST"])
def my_data(request):
    unit = current_unit(request)
    if request.method == "POST":
        try:
            spool, _counts = unit_data_export(unit=unit, actor=request.user)
        except Limited as refusal:
            messages.error(request, str(refusal))
            response = render(request, "registration/my_data.html", {"unit": unit}, status=429)
            response["Retry-After"] = str(refusal.wait_seconds)
            return response
        response = FileResponse(
            spool,
            as_attachment=True,
            filename=f"my-data-{unit.login_name or unit.pk}.zip",
            content_type="application/zip",
        )
        response["Cache-Control"] = "private, no-store"
        return response
    return render(request, "registration/my_data.html", {"unit": unit})
