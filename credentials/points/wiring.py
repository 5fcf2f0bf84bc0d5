"""What points connect when the app is ready (``CredentialsConfig.ready()``): the award hooks,
the rules' cache topic, the dashboard panel, the admin pages, the edition cloner and the
catch-up task.

The hooks only call the services: an admitted gate scan (a ``Scan`` row, written once, in the
transaction of the scan) and a meeting marked held (``registration.exhibitors.signals``, sent in
the transaction that marked it). Colleagues approved and visitors who passed the review are
awarded by ``services.points_catch_up`` until their services tell this package directly."""

from django.db.models.signals import post_save


def _scan_saved(sender, instance, created, raw=False, **kwargs):
    from .services import points_award_gate_day

    if created and not raw:
        points_award_gate_day(scan=instance)


def _meeting_held(sender, meeting, **kwargs):
    from .services import points_award_meeting

    points_award_meeting(meeting=meeting)


def colleagues_joined(sender, unit, visitors, **kwargs):
    """For a signal sent when a unit's contact approves colleagues who joined by the link
    (``unit``, the approved ``visitors``), in the approval's transaction."""
    from .services import points_award_colleagues

    points_award_colleagues(unit=unit, visitor_ids=[visitor.pk for visitor in visitors])


def ready() -> None:
    from ciie_portal import read_cache
    from credentials.entry.models import Scan
    from registration.exhibitors.signals import meeting_held
    from registration.progress import register_dashboard_panel
    from registration.signals import colleagues_joined as colleagues_joined_signal

    from . import admin, tasks  # noqa: F401  (the admin pages; the catch-up task)
    from .cloning import register as register_cloner
    from .models import PointsRule
    from .selectors import CACHE_TOPIC, dashboard_panel

    read_cache.forget_on_change(CACHE_TOPIC, PointsRule)
    post_save.connect(_scan_saved, sender=Scan, dispatch_uid="credentials.points.gate_day")
    meeting_held.connect(_meeting_held, dispatch_uid="credentials.points.meeting_held")
    colleagues_joined_signal.connect(colleagues_joined, dispatch_uid="credentials.points.joined")
    register_dashboard_panel(dashboard_panel)
    register_cloner()
