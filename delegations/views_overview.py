"""Staff pages in the admin's look: the delegation overview (数据概览) and group email (群发邮件).

A secretary works on their own delegation's subtree; an organiser sees everything and chooses a
delegation with ``?delegation=<id>``. Every figure comes from an aggregate query, so a page costs
the same number of queries for one visitor or ten thousand.
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods

from ciie_portal.context_processors import current_edition_for
from registration.models import Label, Unit, Visitor
from registration.progress import admissions, credential_counts

from .mailing import group_mail_delivery_counts, group_mail_send
from .models import Delegation, GroupMail, Secretary
from .selectors import in_subtree, is_organiser
from .services import quota_limits, quota_usage, trade_delegation_of

CHART_DAYS = 30
MAILS_LISTED = 50


# --- Whose data -----------------------------------------------------------------------------


@dataclass
class Scope:
    """The delegation a page is about: ``node`` and its sub-delegations, or everything (None)."""

    node: Delegation | None
    is_organiser: bool
    choices: list[tuple[Delegation, bool]] = field(default_factory=list)  # (delegation, indent)

    @property
    def query(self) -> str:
        return urlencode({"delegation": self.node.pk}) if self.is_organiser and self.node else ""

    def units(self, edition):
        units = Unit.objects.filter(edition=edition)
        if self.node is not None:
            units = in_subtree(units, self.node)
        return units

    def visitors(self, edition):
        visitors = Visitor.objects.filter(edition=edition)
        if self.node is not None:
            visitors = in_subtree(visitors, self.node, delegation_field="unit__delegation")
        return visitors


def scope_for(request, *, groups_only: bool) -> Scope:
    """A secretary gets their own node; an organiser the delegation chosen in the query string
    (trade delegations only when ``groups_only``). Anyone else has no delegation: 403."""
    user = request.user
    if is_organiser(user):
        delegations = Delegation.objects.filter(is_active=True).select_related("parent")
        if groups_only:
            delegations = delegations.filter(parent__isnull=True)
        choices = _as_tree(list(delegations.order_by("position", "pk")))
        wanted = request.GET.get("delegation", "")
        node = next((d for d, _indent in choices if str(d.pk) == wanted), None)
        return Scope(node=node, is_organiser=True, choices=choices)
    secretary = Secretary.objects.select_related("delegation__parent").filter(user=user).first()
    if secretary is None:
        raise PermissionDenied
    return Scope(node=secretary.delegation, is_organiser=False)


def _as_tree(delegations: list[Delegation]) -> list[tuple[Delegation, bool]]:
    """Trade delegations, each followed by its sub-delegations (indented)."""
    children: dict[int, list[Delegation]] = {}
    for delegation in delegations:
        if delegation.parent_id:
            children.setdefault(delegation.parent_id, []).append(delegation)
    rows = []
    for delegation in delegations:
        if delegation.parent_id is None:
            rows.append((delegation, False))
            rows.extend((child, True) for child in children.get(delegation.pk, []))
    return rows


def _admin_page(request, template: str, context: dict):
    return render(request, template, {**admin.site.each_context(request), **context})


# --- Overview -------------------------------------------------------------------------------


@staff_member_required
@require_GET
def overview(request):
    """数据概览: units by status, visitors by label and status, quotas, registrations per day."""
    if not request.user.has_perm("registration.view_unit"):
        raise PermissionDenied
    scope = scope_for(request, groups_only=True)
    edition = current_edition_for(request)
    context = {"title": _("Delegation overview"), "scope": scope, "edition": edition}
    if edition is not None:
        context.update(
            unit_rows=_units_by_status(scope.units(edition)),
            **_visitors_by_label(scope.visitors(edition)),
            quotas=_quotas(scope.node, edition),
            credentials=_credential_progress(scope.visitors(edition)),
            chart=_registrations_per_day(scope.visitors(edition)),
            admissions=admissions(scope.visitors(edition), edition.pk),
        )
    return _admin_page(request, "admin/delegations/overview.html", context)


def _units_by_status(units) -> list[dict]:
    counts = dict(units.order_by().values_list("status").annotate(n=Count("pk")))
    rows = [
        {"status": status.label, "count": counts.get(status.value, 0)} for status in Unit.Status
    ]
    rows.append({"status": _("Total"), "count": sum(counts.values()), "total": True})
    return rows


def _visitors_by_label(visitors) -> dict:
    """A table: one row per label (and no label), one column per visitor status, with totals."""
    counts = {
        (label, status): n
        for label, status, n in visitors.order_by()
        .values_list("label", "status")
        .annotate(n=Count("pk"))
    }
    statuses = list(Visitor.Status)
    labels = [(label.value, label.label) for label in Label] + [("", _("No label"))]
    rows = []
    for value, name in labels:
        cells = [counts.get((value, status.value), 0) for status in statuses]
        rows.append({"label": name, "cells": cells, "total": sum(cells)})
    column_totals = [sum(row["cells"][i] for row in rows) for i in range(len(statuses))]
    return {
        "visitor_statuses": [status.label for status in statuses],
        "visitor_rows": rows,
        "visitor_totals": column_totals,
        "visitor_total": sum(column_totals),
    }


def _credential_progress(visitors) -> dict:
    """Steps 6–8 for the scope: reviewed (passed or failed) of those in review, credentials
    produced and issued of those who passed."""
    counts = visitors.aggregate(
        in_review=Count(
            "pk",
            filter=Q(
                status__in=[
                    Visitor.Status.PENDING_REVIEW,
                    Visitor.Status.REVIEW_PASSED,
                    Visitor.Status.REVIEW_FAILED,
                ]
            ),
        ),
        reviewed=Count(
            "pk",
            filter=Q(status__in=[Visitor.Status.REVIEW_PASSED, Visitor.Status.REVIEW_FAILED]),
        ),
        passed=Count("pk", filter=Q(status=Visitor.Status.REVIEW_PASSED)),
    )
    return {**counts, **credential_counts(visitors)}


def _quotas(node: Delegation | None, edition) -> dict | None:
    """VIP and staff use of the node's trade delegation (the quota is shared by its subtree)."""
    if node is None:
        return None
    root = trade_delegation_of(node)
    limits = quota_limits(delegation=root, edition=edition)
    used = quota_usage(delegation=root, edition=edition)
    rows = [
        {
            "text": f"{Label(label).label} {used[label]}/{limits[label]}",
            "used": used[label],
            "limit": limits[label],
            "over": used[label] > limits[label],
        }
        for label in (Label.VIP, Label.STAFF)
    ]
    return {"delegation": root, "rows": rows}


def _registrations_per_day(visitors) -> dict:
    """Visitors created on each of the last 30 days, laid out as the bars of an inline SVG."""
    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    first = today - timedelta(days=CHART_DAYS - 1)
    since = datetime.combine(first, time.min, tzinfo=tz)
    counts = dict(
        visitors.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .order_by()
        .values_list("day")
        .annotate(n=Count("pk"))
    )
    days = [first + timedelta(days=i) for i in range(CHART_DAYS)]
    peak = max([counts.get(day, 0) for day in days] + [1])
    # Pixels: bar width, gap between bars, room at the sides for the dates, above for counts.
    bar, gap, side, top, plot = 16, 4, 16, 16, 120
    bars = []
    for i, day in enumerate(days):
        n = counts.get(day, 0)
        height = round(plot * n / peak)
        x = side + i * (bar + gap)
        bars.append(
            {
                "day": day,
                "count": n,
                "x": x,
                "y": top + plot - height,
                "height": height,
                "label_x": x + bar // 2,
                # A date every week, counted back from today, which is always labelled.
                "show_label": (CHART_DAYS - 1 - i) % 7 == 0,
            }
        )
    return {
        "bars": bars,
        "bar_width": bar,
        "width": 2 * side + CHART_DAYS * (bar + gap) - gap,
        "height": top + plot + 20,
        "baseline": top + plot,
        "date_y": top + plot + 14,
        "peak": peak if counts else 0,
        "total": sum(counts.get(day, 0) for day in days),
    }


# --- Group email ----------------------------------------------------------------------------


class GroupMailForm(forms.Form):
    subject = forms.CharField(
        label=_("Subject"), max_length=200, widget=forms.TextInput(attrs={"class": "vTextField"})
    )
    body = forms.CharField(
        label=_("Message"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80}),
    )
    unit_status = forms.ChoiceField(
        label=_("Send to"),
        choices=[("", _("All units with an email address")), *Unit.Status.choices],
        required=False,
        help_text=_("Only units in this status receive the email."),
    )


@staff_member_required
@require_http_methods(["GET", "POST"])
def group_mail(request):
    """群发邮件: write to the units of the delegation's subtree; earlier mails are listed below."""
    if not request.user.has_perm("registration.change_unit"):
        raise PermissionDenied
    scope = scope_for(request, groups_only=False)
    edition = current_edition_for(request)
    form = GroupMailForm(request.POST or None)
    if request.method == "POST":
        if scope.node is None or edition is None:
            messages.error(request, _("Choose a delegation first."))
        elif form.is_valid():
            mail = group_mail_send(
                user=request.user,
                delegation=scope.node,
                edition=edition,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                unit_status=form.cleaned_data["unit_status"],
            )
            messages.success(
                request,
                ngettext(
                    "The email is on its way to %(n)d unit.",
                    "The email is on its way to %(n)d units.",
                    mail.recipients,
                )
                % {"n": mail.recipients},
            )
            url = reverse("delegations:group_mail")
            return redirect(f"{url}?{scope.query}" if scope.query else url)
    mails = []
    if scope.node is not None and edition is not None:
        mails = list(
            GroupMail.objects.filter(delegation=scope.node, edition=edition)
            .select_related("created_by")
            .order_by("-created_at", "-pk")[:MAILS_LISTED]
        )
        counts = group_mail_delivery_counts(mails)
        for mail in mails:
            mail.sent, mail.failed = counts[mail.pk]
            mail.unit_status_label = (
                Unit.Status(mail.unit_status).label if mail.unit_status else _("All units")
            )
    context = {
        "title": _("Group email"),
        "scope": scope,
        "edition": edition,
        "form": form,
        "mails": mails,
    }
    return _admin_page(request, "admin/delegations/group_mail.html", context)
