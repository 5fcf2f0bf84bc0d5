"""积分, the unit's page: its balance, its history (Beijing time), each visitor's total, the
coupon offers with an exchange button, and the codes it exchanged for (its own only).

The page and the exchange first award the unit's events not counted yet
(``services.points_catch_up``): what the unit sees and spends is up to date."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from registration.access import current_unit

from .models import RuleKind
from .selectors import (
    edition_rules,
    offers,
    unit_balance,
    unit_coupons,
    unit_history,
    visitor_totals,
)
from .services import coupon_exchange, points_catch_up


@login_required
@never_cache
@require_GET
def points_page(request):
    unit = current_unit(request)
    rules = edition_rules(unit.edition_id)
    if rules:
        points_catch_up(edition=unit.edition, unit=unit)
    balance = unit_balance(unit.pk)
    on_offer = offers(unit.edition_id, today=timezone.localdate())
    for offer in on_offer:
        offer.affordable = balance >= offer.cost
    return render(
        request,
        "credentials/points/page.html",
        {
            "unit": unit,
            "rules": [(RuleKind(kind).label, points) for kind, points in sorted(rules.items())],
            "balance": balance,
            "history": unit_history(unit.pk),
            "visitors": visitor_totals(unit.pk),
            "offers": on_offer,
            "coupons": unit_coupons(unit.pk),
        },
    )


@login_required
@require_POST
def points_exchange(request, pk: int):
    """Exchange for one code of offer ``pk`` (of the unit's edition: another edition's offer
    is refused as not on offer, whoever asks)."""
    unit = current_unit(request)
    if edition_rules(unit.edition_id):
        points_catch_up(edition=unit.edition, unit=unit)
    try:
        coupon = coupon_exchange(unit=unit, batch_id=pk, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("Exchanged: your coupon code for “%(offer)s” is %(code)s.")
            % {"offer": coupon.batch.display_name, "code": coupon.code},
        )
    return redirect("credentials:points")
