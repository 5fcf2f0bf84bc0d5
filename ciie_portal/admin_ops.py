"""运行监控: the operations page for organisers in the admin (``/admin/ops/``), and the JSON it
refreshes itself from (``/admin/ops/data.json``).

It shows the figures of ``ciie_portal.ops.figures`` as tiles (each linking to the admin list
that acts on it), the watch lists of ``ciie_portal.ops.page`` (the oldest notices waiting,
payments flagged for finance, production jobs without progress) and the series of
``ciie_portal.ops.series`` as charts over the last hour (per minute) and the last day (per
hour), each with a table of the same numbers. ``static/js/ops-page.js`` draws the charts
(Chart.js, ``static/vendor/chartjs/``) and refreshes the page every 15 seconds
(``OPS_REFRESH_SECONDS``).

Who sees what:

- organisers (``ciie_portal.view_all_operations``: the organiser role, superusers) see
  everything, for the whole portal;
- other staff with ``ciie_portal.view_operations`` (secretaries, finance) see the tiles, lists
  and charts whose admin list they may open themselves — finance the payments', a secretary
  the units' and visitors' — and a secretary only their delegation's part of them (with its
  sub-delegations): what cannot be cut down to a delegation is not shown to them;
- anyone else is refused (staff: 403; others are sent to the admin's sign-in page, as for
  every admin page, which also asks staff for their second factor).
"""

import logging
from dataclasses import dataclass
from functools import update_wrapper
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import Resolver404, path, resolve
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from .context_processors import current_edition
from .ops import figures as ops_figures
from .ops import page as ops_page
from .ops import series as ops_series
from .timefmt import local_text

logger = logging.getLogger(__name__)

VIEW = "ciie_portal.view_operations"
VIEW_ALL = "ciie_portal.view_all_operations"
# The charts' two windows: the last hour per minute, the last day per hour.
WINDOWS = {
    "hour": (ops_series.MINUTE, 60, "%H:%M", "%H:%M"),
    "day": (ops_series.HOUR, 24, "%H:00", "%m-%d %H:00"),
}
WINDOW_NAMES = {"hour": gettext_lazy("Last hour"), "day": gettext_lazy("Last day")}


# --- Who sees what --------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    request: object
    everything: bool  # an organiser: every tile, list and chart
    scope: ops_figures.Scope
    delegation: object = None  # a secretary's delegation (shown by its name)

    def may_see(self, item) -> bool:
        """Whether this viewer sees a figure, series or watch list: organisers all of them;
        others those that can be cut down to their delegation (when they have one) and whose
        admin list they may open."""
        if self.everything:
            return True
        if self.scope.delegation_id is not None and not item.scoped:
            return False
        return may_open(self.request, _admin_url(item, self.scope))


def viewer_of(request) -> Viewer:
    user = request.user
    if user.is_superuser or user.has_perm(VIEW_ALL):
        return Viewer(request=request, everything=True, scope=ops_figures.Scope(None))
    if not user.has_perm(VIEW):
        raise PermissionDenied
    delegation = ops_page.staff_delegation(user)
    scope = ops_figures.Scope(None, delegation.pk if delegation is not None else None)
    return Viewer(request=request, everything=False, scope=scope, delegation=delegation)


def may_open(request, url: str | None) -> bool:
    """Whether the admin page at ``url`` is one ``request``'s user may view: a list of a model
    whose admin lets them see it."""
    if not url:
        return False
    try:
        match = resolve(urlsplit(url).path)
    except Resolver404:
        return False
    model_admin = getattr(match.func, "model_admin", None)
    return model_admin is not None and model_admin.has_view_permission(request)


def _admin_url(item, scope) -> str | None:
    if isinstance(item, ops_figures.Figure):
        return ops_figures.admin_url_of(item, scope)
    if item.admin_url is None:
        return None
    try:
        return item.admin_url(ops_figures.resolve(scope))
    except Exception:  # noqa: BLE001 - a broken link must not take the page down
        logger.exception("%s: its admin link could not be made", item.name)
        return None


# --- How numbers read -----------------------------------------------------------------------


def duration_text(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return _("%(n)d s") % {"n": seconds}
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return _("%(m)d min %(s)d s") % {"m": minutes, "s": seconds}
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    days, hours = divmod(hours, 24)
    return _("%(d)d d %(h)d h") % {"d": days, "h": hours}


# Rates: the number, then the unit after it ("12.5 /min").
RATE_UNITS = {"per_second": gettext_lazy("/s"), "per_minute": gettext_lazy("/min")}


def value_parts(value: float | None, unit: str = "") -> tuple[str, str]:
    """``value`` as the number to show and the unit that follows it ("" for none)."""
    if value is None:
        return "—", ""
    if unit == "seconds":
        return duration_text(value), ""
    if unit in RATE_UNITS:
        return number_format(value, 1, force_grouping=True), str(RATE_UNITS[unit])
    if float(value).is_integer():
        return number_format(int(value), force_grouping=True), ""
    return number_format(value, 2, force_grouping=True), ""


def value_text(value: float | None, unit: str = "") -> str:
    return " ".join(part for part in value_parts(value, unit) if part)


def _labels_text(labels: dict) -> str:
    return " · ".join(ops_page.label_name(key, value) for key, value in labels.items())


def _headline(unit: str, values: list[float]) -> float | None:
    """The tile's one number: the total of counts, the oldest of ages, the first of rates (a
    rate is given over several windows: the shortest first)."""
    if not values:
        return None
    if unit in ("count", ""):
        return sum(values)
    if unit == "seconds":
        return max(values)
    return values[0]


def _tile(figure, samples, scope) -> dict:
    headline = _headline(figure.unit, [sample.value for sample in samples])
    parts = [
        {"label": _labels_text(sample.labels), "value": value_text(sample.value, figure.unit)}
        for sample in samples
        if sample.labels
    ]
    return {
        "name": figure.name,
        "label": figure.label,
        "value": value_parts(headline, figure.unit)[0],
        "value_unit": value_parts(headline, figure.unit)[1],
        "parts": parts,
        "url": _admin_url(figure, scope),
    }


# --- What the page shows --------------------------------------------------------------------


def page_data(viewer: Viewer, now=None) -> dict:
    """Everything on the page for ``viewer``, at ``now``."""
    now = now or timezone.now()
    scope = ops_figures.resolve(viewer.scope)
    shown_figures = {f.name: f for f in ops_figures.figures() if viewer.may_see(f)}
    values = ops_figures.snapshot(scope) if shown_figures else {}
    tiles = [
        _tile(figure, values[name], scope)
        for name, figure in shown_figures.items()
        if name in values
    ]
    shown_watches = [watch for watch in ops_page.watches() if viewer.may_see(watch)]
    watch_rows = ops_page.watch_rows(scope, names={watch.name for watch in shown_watches})
    watches = [
        {
            "name": watch.name,
            "label": watch.label,
            "url": _admin_url(watch, scope),
            "empty": watch.empty,
            "rows": [_watch_row(row, now) for row in watch_rows[watch.name]],
        }
        for watch in shown_watches
        if watch.name in watch_rows
    ]
    shown_series = [item for item in ops_series.series() if viewer.may_see(item)]
    names = {item.name for item in shown_series}
    windows = {}
    for key, (step, count, chart_format, table_format) in WINDOWS.items():
        since, until = ops_series.window(step, count, now)
        points = ops_series.compute(scope, since, until, step, names=names)
        starts = ops_series.buckets(since, until, step)
        windows[key] = {
            "labels": [local_text(start, chart_format) for start in starts],
            "times": [local_text(start, table_format) for start in starts],
            "values": {name: [value for _start, value in pts] for name, pts in points.items()},
        }
    charts = [
        {
            "name": item.name,
            "label": item.label,
            "url": _admin_url(item, scope),
            "level": item.level,
            "tables": [
                {
                    "window": key,
                    "name": WINDOW_NAMES[key],
                    "rows": list(
                        zip(
                            windows[key]["times"],
                            [value_text(v) for v in windows[key]["values"][item.name]],
                            strict=True,
                        )
                    ),
                }
                for key in WINDOWS
            ],
        }
        for item in shown_series
        if all(item.name in windows[key]["values"] for key in WINDOWS)
    ]
    return {
        "now": now,
        "updated": local_text(now, "%Y-%m-%d %H:%M:%S"),
        "scope": scope,
        "delegation": viewer.delegation,
        "tiles": tiles,
        "watches": watches,
        "charts": charts,
        "chart_data": {
            "windows": {
                key: {
                    "labels": windows[key]["labels"],
                    "values": {c["name"]: windows[key]["values"][c["name"]] for c in charts},
                }
                for key in WINDOWS
            },
            "series": [
                {"name": c["name"], "label": str(c["label"]), "level": c["level"]} for c in charts
            ],
        },
    }


def _watch_row(row: ops_page.WatchRow, now) -> dict:
    return {
        "text": row.text,
        "detail": row.detail,
        "url": row.url,
        "since": row.since,
        "since_text": local_text(row.since, "%m-%d %H:%M") if row.since else "",
        "age": duration_text((now - row.since).total_seconds()) if row.since else "",
    }


# Parts of the page the JSON carries again, rendered by the same templates.
def _sections(request, data: dict) -> dict[str, str]:
    sections = {
        "ops-figures": render_to_string("admin/ops/_figures.html", data, request),
        "ops-watches": render_to_string("admin/ops/_watches.html", data, request),
    }
    for chart in data["charts"]:
        sections[f"ops-table-{chart['name']}"] = render_to_string(
            "admin/ops/_tables.html", {"chart": chart}, request
        )
    return sections


# --- Views ----------------------------------------------------------------------------------


@require_GET
def ops_view(request):
    viewer = viewer_of(request)
    data = page_data(viewer)
    context = {
        **admin.site.each_context(request),
        **data,
        "title": _("Operations"),
        "edition": current_edition(),
        "refresh_seconds": getattr(settings, "OPS_REFRESH_SECONDS", 15),
        "window_names": WINDOW_NAMES,
    }
    return TemplateResponse(request, "admin/ops/page.html", context)


@require_GET
def ops_data_view(request):
    viewer = viewer_of(request)
    data = page_data(viewer)
    return JsonResponse(
        {
            "updated": {"iso": data["now"].isoformat(), "text": data["updated"]},
            "sections": _sections(request, data),
            "charts": data["chart_data"],
        },
        headers={"Cache-Control": "no-store"},
    )


def _admin(view):
    """``view`` behind the admin's door: staff who passed their second factor (others are sent
    to the sign-in page), never cached — as the admin's own pages."""

    def wrapper(request, *args, **kwargs):
        return admin.site.admin_view(view)(request, *args, **kwargs)

    return update_wrapper(wrapper, view)


app_name = "ops"
urlpatterns = [
    path("", _admin(ops_view), name="page"),
    path("data.json", _admin(ops_data_view), name="data"),
]
