"""The secretaries' scheduled exports (registration.exports): visitors awaiting lock (待锁定)
and the delegation overview (数据概览), each with the subscriber's own scope at send time —
the rows and columns of the visitor admin list and of the overview page."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ciie_portal.context_processors import current_edition
from registration.exports import register_export
from registration.models import Visitor

from .models import Secretary
from .selectors import is_organiser, scope_to_user
from .views_overview import Scope, _units_by_status, _visitors_by_label


def has_scope(user) -> bool:
    """A delegation to export: an organiser's is everything, a secretary's their subtree."""
    return is_organiser(user) or Secretary.objects.filter(user=user).exists()


def visitors_awaiting_lock(user):
    """待锁定: the visitors of the user's scope in the current edition awaiting the lock, with
    the columns of the visitor list's export (ID numbers masked)."""
    titles = [
        _("reference number"), _("full name"), _("unit"), _("delegation"), _("person type"),
        _("ID number"), _("label"), _("status"), _("entry days"),
    ]  # fmt: skip
    edition = current_edition()
    visitors = Visitor.objects.none()
    if edition is not None:
        visitors = scope_to_user(
            Visitor.objects.filter(edition=edition, status=Visitor.Status.PENDING_LOCK),
            user,
            delegation_field="unit__delegation",
        )
    rows = (
        [
            visitor.reference, visitor.name, visitor.unit.name, str(visitor.unit.delegation or ""),
            visitor.get_person_type_display(), visitor.id_number_masked,
            visitor.get_label_display(), visitor.get_status_display(),
            str(visitor.entry_period or ""),
        ]
        for visitor in visitors.select_related("unit__delegation", "entry_period")
        .order_by("pk")
        .iterator(chunk_size=2000)
    )  # fmt: skip
    return _("Awaiting lock"), titles, rows


def delegation_overview(user):
    """数据概览 as a table: visitors by label and status (with totals), then units by status —
    the overview page's figures for the user's own node (an organiser's: everything)."""
    secretary = Secretary.objects.select_related("delegation").filter(user=user).first()
    organiser = is_organiser(user)
    scope = Scope(node=None if organiser or secretary is None else secretary.delegation,
                  is_organiser=organiser)  # fmt: skip
    edition = current_edition()
    if edition is None:
        return _("Delegation overview"), [_("Label"), _("Total")], []
    table = _visitors_by_label(scope.visitors(edition))
    titles = [_("Label"), *[str(status) for status in table["visitor_statuses"]], _("Total")]
    rows = [[str(row["label"]), *row["cells"], row["total"]] for row in table["visitor_rows"]]
    rows.append([_("Total"), *table["visitor_totals"], table["visitor_total"]])
    rows.append([])
    rows.append([_("Units by status"), _("Count")])
    rows += [[str(row["status"]), row["count"]] for row in _units_by_status(scope.units(edition))]
    return _("Delegation overview"), titles, rows


def register() -> None:
    register_export(
        "visitors_awaiting_lock",
        gettext_lazy("Visitors awaiting lock"),
        "registration.change_visitor",
        visitors_awaiting_lock,
        allowed=has_scope,
    )
    register_export(
        "delegation_overview",
        gettext_lazy("Delegation overview"),
        "registration.view_unit",
        delegation_overview,
        allowed=has_scope,
    )
