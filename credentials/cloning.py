"""This app's part of cloning an edition (``ciie_portal.cloning``): the gate's entry rules.
Orders, credentials, scans, holds, batches, parcels and counters are records of the edition;
gate devices hold keys of their own and are enrolled anew — none of them is copied."""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ciie_portal.cloning import CloneContext, Cloner, register_cloner

from .entry.models import EntryRule


def _copy_entry_rules(ctx: CloneContext) -> list[str]:
    rules = list(EntryRule.objects.filter(edition=ctx.source).order_by("label"))
    EntryRule.objects.bulk_create(
        EntryRule(
            edition=ctx.target,
            label=r.label,
            anti_passback=r.anti_passback,
            exit_scans=r.exit_scans,
            everyone_out_at=r.everyone_out_at,
        )
        for r in rules
    )
    yes, no = gettext("Yes"), gettext("No")
    return [
        gettext("%(rule)s: once per day %(passback)s, exit scans %(exits)s")
        % {
            "rule": r,
            "passback": yes if r.anti_passback else no,
            "exits": yes if r.exit_scans else no,
        }
        for r in rules
    ]


def register() -> None:
    register_cloner(
        Cloner(
            name="credentials.entry_rules",
            label=_("Entry rules of the gate"),
            models=("credentials.EntryRule",),
            copy=_copy_entry_rules,
        )
    )
