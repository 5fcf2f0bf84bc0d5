"""Credentials' figures (``ciie_portal.ops``): orders submitted per minute, production jobs and
their speed."""

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ciie_portal.ops.figures import Figure, Sample, Scope, register_figure
from ciie_portal.ops.queries import in_delegation, per_minute, recent

from .models import CredentialOrder, ProductionJob
from .production.services import job_lease_expired

Job = ProductionJob.Status
ACTIVE = (Job.QUEUED, Job.RUNNING, Job.STOPPING)
WORKED_ON = (Job.RUNNING, Job.STOPPING)


def submissions(scope: Scope) -> list[Sample]:
    """Credential orders submitted (提交办证) per minute, read from the newest ids."""
    orders = CredentialOrder.objects.filter(edition_id=scope.edition_id).filter(
        in_delegation(scope, "delegation", "unit__delegation")
    )
    return per_minute(lambda since: recent(orders, "created_at", since), "created_at")


def _jobs(scope: Scope):
    return ProductionJob.objects.filter(edition_id=scope.edition_id)


def production_jobs(scope: Scope) -> list[Sample]:
    """Production jobs queued, running or stopping (index on ``status``)."""
    counts = dict(
        _jobs(scope)
        .filter(status__in=ACTIVE)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    return [Sample({"state": str(state)}, counts.get(state, 0)) for state in ACTIVE]


def _worked_on(scope: Scope) -> list[ProductionJob]:
    return list(_jobs(scope).filter(status__in=WORKED_ON))


def production_speed(scope: Scope) -> list[Sample]:
    """Credentials made per second by the running jobs, each since it started (summed)."""
    now = timezone.now()
    speed = 0.0
    for job in _worked_on(scope):
        if job.started_at and now > job.started_at:
            speed += job.done / (now - job.started_at).total_seconds()
    return [Sample({}, speed)]


def production_stalled(scope: Scope) -> list[Sample]:
    """Running jobs whose worker is gone (their lease ran out): taken over at the next sweep."""
    now = timezone.now()
    return [Sample({}, sum(1 for job in _worked_on(scope) if job_lease_expired(job, now)))]


def _orders(scope: Scope) -> str:
    return reverse("admin:credentials_credentialorder_changelist")


def _running(scope: Scope) -> str:
    return reverse("admin:credentials_productionjob_changelist") + "?status__exact=running"


def register() -> None:
    register_figure(
        Figure(
            name="submissions_per_minute",
            label=_("Credential orders submitted per minute"),
            help="Credential orders submitted per minute, over the last minute and five minutes.",
            compute=submissions,
            scoped=True,
            admin_url=_orders,
            unit="per_minute",
        )
    )
    register_figure(
        Figure(
            name="production_jobs",
            label=_("Production jobs queued or running"),
            help="Credential production jobs of the current edition queued, running or stopping.",
            compute=production_jobs,
            admin_url=_running,
            unit="count",
        )
    )
    register_figure(
        Figure(
            name="production_cards_per_second",
            label=_("Credentials made per second"),
            help="Credentials made per second by the running production jobs.",
            compute=production_speed,
            admin_url=_running,
            unit="per_second",
        )
    )
    register_figure(
        Figure(
            name="production_jobs_stalled",
            label=_("Production jobs whose worker is gone"),
            help="Running production jobs whose worker's lease ran out.",
            compute=production_stalled,
            admin_url=_running,
            unit="count",
        )
    )


register()
