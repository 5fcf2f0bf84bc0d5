from django.contrib.admin.views.decorators import staff_member_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from registration.models import Unit, Visitor

from .selectors import scope_to_user


@staff_member_required
@require_GET
def unit_licence(request, pk: int):
    """A unit's qualification document for the staff who may see that unit (else 404)."""
    if not request.user.has_perm("registration.view_unit"):
        raise Http404
    unit = get_object_or_404(scope_to_user(Unit.objects.all(), request.user), pk=pk)
    if not unit.licence:
        raise Http404
    content_type = "image/png" if unit.licence.name.lower().endswith(".png") else "image/jpeg"
    return FileResponse(unit.licence.open("rb"), content_type=content_type)


@staff_member_required
@require_GET
def visitor_photo(request, pk: int):
    """A visitor's photo for the staff who may see that visitor's unit (else 404)."""
    if not request.user.has_perm("registration.view_visitor"):
        raise Http404
    visitors = scope_to_user(
        Visitor.objects.all(), request.user, delegation_field="unit__delegation"
    )
    visitor = get_object_or_404(visitors, pk=pk)
    if not visitor.photo:
        raise Http404
    return FileResponse(visitor.photo.open("rb"), content_type="image/jpeg")
