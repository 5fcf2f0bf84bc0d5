"""This app's series for the operations page (``ciie_portal.ops.series``): units registered,
accounts opened, units and visitors submitted — per minute and per hour."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ciie_portal.ops.series import Series, count_per_bucket, in_delegation, register_series

from .models import Unit, User, Visitor


def _list(name: str, query: str = ""):
    def url(scope) -> str:
        return reverse(f"admin:registration_{name}_changelist") + query

    return url


def units_created(scope, since, until, step):
    """Units registered for the edition (new ones and returning units' one-click ones)."""
    units = Unit.objects.filter(in_delegation(scope), edition_id=scope.edition_id)
    return count_per_bucket(units, "created_at", since, until, step, by_id=True)


def accounts_created(scope, since, until, step):
    """Accounts opened by units (staff accounts left out): an account is not an edition's, so
    this series is the whole portal's."""
    users = User.objects.filter(is_staff=False)
    return count_per_bucket(users, "date_joined", since, until, step, by_id=True)


def unit_submissions(scope, since, until, step):
    """Units submitted to their delegation (a unit returned and submitted again counts at its
    last submission)."""
    units = Unit.objects.filter(in_delegation(scope), edition_id=scope.edition_id)
    return count_per_bucket(units, "submitted_at", since, until, step)


def visitor_submissions(scope, since, until, step):
    """Visitors submitted (at their last submission)."""
    visitors = Visitor.objects.filter(
        in_delegation(scope, "unit__delegation"), edition_id=scope.edition_id
    )
    return count_per_bucket(visitors, "submitted_at", since, until, step)


def register() -> None:
    register_series(
        Series(
            name="units_created",
            label=_("Units registered"),
            compute=units_created,
            scoped=True,
            admin_url=_list("unit"),
        )
    )
    register_series(
        Series(
            name="accounts_created",
            label=_("Unit accounts opened"),
            compute=accounts_created,
            admin_url=_list("user", "?is_staff__exact=0"),
        )
    )
    register_series(
        Series(
            name="unit_submissions",
            label=_("Units submitted"),
            compute=unit_submissions,
            scoped=True,
            admin_url=_list("unit", "?status=submitted"),
        )
    )
    register_series(
        Series(
            name="visitor_submissions",
            label=_("Visitors submitted"),
            compute=visitor_submissions,
            scoped=True,
            admin_url=_list("visitor", "?status=submitted"),
        )
    )
