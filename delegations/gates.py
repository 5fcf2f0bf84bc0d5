"""The delegation's review decision gates everything that follows (SPEC §4).

Only an approved unit (审核通过, by its secretary or by the edition's auto-approval) can have
visitors labelled, locked, ordered, paid, reviewed or produced. A unit returned for changes
(退回修改) edits and submits again, and nothing of it moves on meanwhile; a rejected one
(审核不通过) never moves on. This module is the one home of that rule: the services of the
later steps (labels and lock here, orders in credentials, payments, review and production)
ask it, so no view, admin action, import or task can get round it.
"""

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from registration.models import Unit

APPROVED = Unit.Status.APPROVED

# What the unit (or its secretary) has to do next, by the unit's status.
_NEXT_STEP = {
    Unit.Status.DRAFT: gettext_lazy("the unit has to submit its information first"),
    Unit.Status.SUBMITTED: gettext_lazy("its delegation has to approve the unit first"),
    Unit.Status.RETURNED: gettext_lazy(
        "the unit was returned for changes: it has to correct and submit its information again"
    ),
    Unit.Status.REJECTED: gettext_lazy("the delegation rejected the unit, so it cannot go further"),
}


def of_approved_units(visitors: QuerySet) -> QuerySet:
    """Only those of ``visitors`` whose unit is approved (one JOIN, no per-row query)."""
    return visitors.filter(unit__status=APPROVED)


def unit_refusal(unit: Unit) -> str:
    """Why ``unit``'s visitors cannot move on, or "" when the unit is approved."""
    if unit.status == APPROVED:
        return ""
    return _("“%(unit)s” is not approved (%(status)s): %(next)s.") % {
        "unit": unit.name,
        "status": unit.get_status_display(),
        "next": _NEXT_STEP.get(unit.status, ""),
    }


def require_approved(units, *, doing: str) -> None:
    """Refuse ``doing`` unless every unit of ``units`` is approved; one message per unit.

    ``doing`` says what was refused ("Visitors can be labelled"), so that the message tells the
    user both why and what to do.
    """
    problems = []
    seen = set()
    for unit in units:
        if unit.pk in seen:
            continue
        seen.add(unit.pk)
        refusal = unit_refusal(unit)
        if refusal:
            problems.append(
                _("%(doing)s only for approved units. %(why)s") % {"doing": doing, "why": refusal}
            )
    if problems:
        raise ValidationError(problems)
