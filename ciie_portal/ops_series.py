"""The portal's series and watch list for the operations page (``ciie_portal.ops``): notices
queued and sent per minute and per hour, the backlog over time, the oldest notices waiting."""

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Notice
from .ops.page import Watch, WatchRow, register_label_names, register_watch
from .ops.series import Series, buckets, count_per_bucket, register_series

WAITING = [Notice.Status.QUEUED, Notice.Status.SENDING]
OLDEST_SHOWN = 5


def _notices(scope):
    return Notice.objects.filter(edition_id=scope.edition_id)


def _list(query: str = ""):
    def url(scope) -> str:
        return reverse("admin:ciie_portal_notice_changelist") + query

    return url


def notices_queued(scope, since, until, step):
    return count_per_bucket(_notices(scope), "created_at", since, until, step, by_id=True)


def notices_sent(scope, since, until, step):
    return count_per_bucket(_notices(scope), "sent_at", since, until, step)


def notice_backlog(scope, since, until, step):
    """Notices waiting (queued or being sent) at the end of each bucket.

    Worked back from the backlog now: at a moment ``t`` it was the backlog now, plus the
    notices sent since ``t``, minus those queued since ``t``. Notices that failed for good are
    left out of the queued ones (they leave the backlog when they fail, which is not recorded):
    the backlog before a failure reads a little low.
    """
    now = timezone.now()
    waiting = _notices(scope).filter(status__in=WAITING).count()
    queued = count_per_bucket(
        _notices(scope).filter(~Q(status=Notice.Status.FAILED)),
        "created_at",
        since,
        now,
        step,
        by_id=True,
    )
    sent = count_per_bucket(_notices(scope), "sent_at", since, now, step)
    # Walking back from now: after bucket i come the buckets i+1 … of the window.
    level, levels = float(waiting), {}
    for (start, n_queued), (_start, n_sent) in reversed(list(zip(queued, sent, strict=True))):
        levels[start] = max(level, 0.0)
        level += n_sent - n_queued
    return [(start, levels.get(start, float(waiting))) for start in buckets(since, until, step)]


def oldest_waiting(scope) -> list[WatchRow]:
    """The notices waiting longest (no recipient: it is personal data)."""
    notices = (
        _notices(scope)
        .filter(status__in=WAITING)
        .order_by("created_at", "pk")
        .only("pk", "channel", "template", "status", "attempts", "created_at")[:OLDEST_SHOWN]
    )
    return [
        WatchRow(
            text=f"{notice.get_channel_display()} · {notice.template}",
            since=notice.created_at,
            url=reverse("admin:ciie_portal_notice_change", args=[notice.pk]),
            detail=_("%(status)s, %(attempts)d attempts")
            % {"status": notice.get_status_display(), "attempts": notice.attempts},
        )
        for notice in notices
    ]


def register() -> None:
    register_series(
        Series(
            name="notices_queued",
            label=_("Notices queued"),
            compute=notices_queued,
            admin_url=_list(),
        )
    )
    register_series(
        Series(
            name="notices_sent",
            label=_("Notices sent"),
            compute=notices_sent,
            admin_url=_list("?status__exact=sent"),
        )
    )
    register_series(
        Series(
            name="notice_backlog",
            label=_("Notices waiting"),
            compute=notice_backlog,
            admin_url=_list("?status__exact=queued"),
            level=True,
        )
    )
    register_watch(
        Watch(
            name="oldest_waiting_notices",
            label=_("Oldest notices waiting"),
            rows=oldest_waiting,
            admin_url=_list("?status__exact=queued"),
            empty=_("No notice is waiting."),
        )
    )
    register_label_names("channel", dict(Notice.Channel.choices))
    register_label_names("state", dict(Notice.Status.choices))
    # The windows a rate is given over (ciie_portal.ops.queries.WINDOWS).
    register_label_names(
        "window", {"1m": _("last minute"), "5m": _("last 5 minutes"), "1h": _("last hour")}
    )
