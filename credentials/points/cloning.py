"""This package's part of cloning an edition (``ciie_portal.cloning``): the points rules.

The ledger is the record of an edition and coupon offers are not copied either: their codes
are single-use, each offer is loaded anew with fresh codes."""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ciie_portal.cloning import CloneContext, Cloner, register_cloner

from .models import PointsRule


def _copy_rules(ctx: CloneContext) -> list[str]:
    rules = list(PointsRule.objects.filter(edition=ctx.source).order_by("kind"))
    PointsRule.objects.bulk_create(
        PointsRule(edition=ctx.target, kind=rule.kind, points=rule.points) for rule in rules
    )
    return [
        gettext("%(event)s: %(points)d points")
        % {"event": rule.get_kind_display(), "points": rule.points}
        for rule in rules
    ]


def register() -> None:
    register_cloner(
        Cloner(
            name="credentials.points_rules",
            label=_("Points rules"),
            models=("credentials.PointsRule",),
            copy=_copy_rules,
        )
    )
