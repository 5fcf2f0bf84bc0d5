"""证件快递常用地址: the unit's delivery addresses for credentials (at most five, one default).

Every change goes through the services, which lock the unit, keep exactly one default and audit.
Another unit's address is a 404, as if it did not exist.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from . import reference
from .access import current_unit
from .forms_addresses import AddressForm
from .models import DeliveryAddress
from .services import address_create, address_delete, address_set_default, address_update


def _addresses_of(unit) -> list[DeliveryAddress]:
    """The unit's addresses, default first, in one query, with their divisions' names."""
    addresses = list(
        DeliveryAddress.objects.filter(unit=unit).order_by("-is_default", "created_at", "pk")
    )
    for address in addresses:
        address.place = reference.division_path(address.province, address.city, address.district)
    return addresses


def _address_or_404(request, pk) -> DeliveryAddress:
    return get_object_or_404(DeliveryAddress.objects.filter(unit=current_unit(request)), pk=pk)


def _create(request, unit, form) -> bool:
    """Add the address of a valid form; a refusal (the sixth address) goes on the form."""
    try:
        address_create(unit=unit, actor=request.user, **form.address_values())
    except ValidationError as error:
        form.add_error(None, error)
        return False
    messages.success(request, _("The address was added."))
    return True


@login_required
@require_http_methods(["GET", "POST"])
def address_list(request):
    """The list, with the form to add one (while the unit has fewer than five)."""
    unit = current_unit(request)
    addresses = _addresses_of(unit)
    form = None
    if request.method == "POST":
        form = AddressForm(request.POST, unit=unit)
        if form.is_valid() and _create(request, unit, form):
            return redirect("registration:addresses")
    elif len(addresses) < DeliveryAddress.MAX_PER_UNIT:
        form = AddressForm(unit=unit)
    return render(
        request,
        "registration/address_list.html",
        {
            "unit": unit,
            "addresses": addresses,
            "form": form,
            "limit_reached": len(addresses) >= DeliveryAddress.MAX_PER_UNIT,
            "max_addresses": DeliveryAddress.MAX_PER_UNIT,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def address_add(request):
    unit = current_unit(request)
    form = AddressForm(request.POST or None, unit=unit)
    if request.method == "POST":
        if form.is_valid() and _create(request, unit, form):
            return redirect("registration:addresses")
        limit_reached = False  # the service decides; its refusal is on the form
    else:
        limit_reached = (
            DeliveryAddress.objects.filter(unit=unit).count() >= DeliveryAddress.MAX_PER_UNIT
        )
    return render(
        request,
        "registration/address_form.html",
        {
            "unit": unit,
            "form": None if limit_reached else form,
            "address": None,
            "limit_reached": limit_reached,
            "max_addresses": DeliveryAddress.MAX_PER_UNIT,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def address_edit(request, pk):
    unit = current_unit(request)
    address = get_object_or_404(DeliveryAddress.objects.filter(unit=unit), pk=pk)
    form = AddressForm(request.POST or None, unit=unit, address=address)
    if request.method == "POST" and form.is_valid():
        try:
            address_update(address=address, actor=request.user, **form.update_values())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The address was saved."))
            return redirect("registration:addresses")
    return render(
        request,
        "registration/address_form.html",
        {"unit": unit, "form": form, "address": address, "limit_reached": False},
    )


@login_required
@require_POST
def address_delete_view(request, pk):
    address = _address_or_404(request, pk)
    try:
        address_delete(address=address, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The address was deleted."))
    return redirect("registration:addresses")


@login_required
@require_POST
def address_default(request, pk):
    address = _address_or_404(request, pk)
    try:
        address_set_default(address=address, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The default address was changed."))
    return redirect("registration:addresses")
