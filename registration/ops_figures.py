"""Registration's figures (``ciie_portal.ops``): units and visitors registered per minute."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ciie_portal.ops.figures import Figure, Sample, Scope, register_figure
from ciie_portal.ops.queries import in_delegation, per_minute, recent

from .models import Unit, Visitor


def visitor_registrations(scope: Scope) -> list[Sample]:
    """Visitors added per minute (index ``edition, created_at``)."""
    visitors = Visitor.objects.filter(edition_id=scope.edition_id).filter(
        in_delegation(scope, "unit__delegation")
    )
    return per_minute(lambda since: visitors.filter(created_at__gte=since), "created_at")


def unit_registrations(scope: Scope) -> list[Sample]:
    """Units (accounts' registrations) created per minute, read from the newest ids."""
    units = Unit.objects.filter(edition_id=scope.edition_id).filter(
        in_delegation(scope, "delegation")
    )
    return per_minute(lambda since: recent(units, "created_at", since), "created_at")


def _list(name: str):
    def url(scope: Scope) -> str:
        return reverse(f"admin:registration_{name}_changelist")

    return url


def register() -> None:
    register_figure(
        Figure(
            name="visitor_registrations_per_minute",
            label=_("Visitors registered per minute"),
            help="Visitors added per minute, over the last minute and the last five minutes.",
            compute=visitor_registrations,
            scoped=True,
            admin_url=_list("visitor"),
            unit="per_minute",
        )
    )
    register_figure(
        Figure(
            name="unit_registrations_per_minute",
            label=_("Units registered per minute"),
            help="Units registered per minute, over the last minute and the last five minutes.",
            compute=unit_registrations,
            scoped=True,
            admin_url=_list("unit"),
            unit="per_minute",
        )
    )


register()
