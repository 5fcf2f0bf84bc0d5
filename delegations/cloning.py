"""This app's part of cloning an edition (``ciie_portal.cloning``): each delegation's VIP and
staff quotas. The delegation tree and secretaries are not per edition (they stay as they are);
group emails are records of what was sent and are not copied."""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ciie_portal.cloning import CloneContext, Cloner, register_cloner

from .models import DelegationQuota


def _copy_quotas(ctx: CloneContext) -> list[str]:
    quotas = list(
        DelegationQuota.objects.filter(edition=ctx.source)
        .select_related("delegation")
        .order_by("delegation__code")
    )
    DelegationQuota.objects.bulk_create(
        DelegationQuota(
            edition=ctx.target,
            delegation=q.delegation,
            vip_limit=q.vip_limit,
            staff_limit=q.staff_limit,
        )
        for q in quotas
    )
    default = gettext("edition default")
    return [
        gettext("%(delegation)s: VIP %(vip)s, staff %(staff)s")
        % {
            "delegation": q.delegation,
            "vip": default if q.vip_limit is None else q.vip_limit,
            "staff": default if q.staff_limit is None else q.staff_limit,
        }
        for q in quotas
    ]


def register() -> None:
    register_cloner(
        Cloner(
            name="delegations.quotas",
            label=_("Delegation quotas"),
            models=("delegations.DelegationQuota",),
            copy=_copy_quotas,
        )
    )
