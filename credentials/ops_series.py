"""This app's series and watch list for the operations page (``ciie_portal.ops``): credentials
made per minute and per hour, production jobs that stopped moving."""

from datetime import timedelta

from django.conf import settings
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ciie_portal.ops.page import Watch, WatchRow, register_label_names, register_watch
from ciie_portal.ops.series import Series, count_per_bucket, in_delegation, register_series

from .models import Credential, ProductionJob

# A running job's worker writes a sign of life after every chunk (seconds apart): one silent
# for this long has stalled — its worker is stuck, or gone and nobody took the job over.
STALLED_AFTER_MINUTES = 5
STALLED_SHOWN = 10
MOVING = [ProductionJob.Status.RUNNING, ProductionJob.Status.STOPPING]


def stalled_after() -> timedelta:
    return timedelta(minutes=getattr(settings, "OPS_STALLED_JOB_MINUTES", STALLED_AFTER_MINUTES))


def credentials_made(scope, since, until, step):
    credentials = Credential.objects.filter(
        in_delegation(scope, "visitor__unit__delegation"), edition_id=scope.edition_id
    )
    return count_per_bucket(credentials, "created_at", since, until, step, by_id=True)


def stalled_jobs(scope) -> list[WatchRow]:
    """Jobs running (or stopping) whose last sign of life is older than :func:`stalled_after`."""
    jobs = (
        ProductionJob.objects.filter(edition_id=scope.edition_id, status__in=MOVING)
        .annotate(last_sign_of_life=Coalesce("heartbeat_at", "started_at", "created_at"))
        .filter(last_sign_of_life__lt=timezone.now() - stalled_after())
        .order_by("last_sign_of_life", "pk")[:STALLED_SHOWN]
    )
    return [
        WatchRow(
            text=str(job),
            since=job.last_sign_of_life,
            url=reverse("admin:credentials_productionjob_change", args=[job.pk]),
            detail=_("%(status)s, %(done)d of %(total)d credentials made")
            % {"status": job.get_status_display(), "done": job.done, "total": job.total},
        )
        for job in jobs
    ]


def register() -> None:
    register_series(
        Series(
            name="credentials_made",
            label=_("Credentials made"),
            compute=credentials_made,
            scoped=True,
            admin_url=lambda scope: reverse("admin:credentials_credential_changelist"),
        )
    )
    register_watch(
        Watch(
            name="stalled_production_jobs",
            label=_("Production jobs without progress"),
            rows=stalled_jobs,
            admin_url=lambda scope: (
                reverse("admin:credentials_productionjob_changelist") + "?status__exact=running"
            ),
            empty=_("No production job has stalled."),
        )
    )
    register_label_names("state", dict(ProductionJob.Status.choices))
