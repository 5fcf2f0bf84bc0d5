"""Scheduled exports (定期导出): a staff member's own lists by email, daily or weekly, as .xlsx.

- The registry: an app offers a list with ``register_export(key, label, permission, build)``
  from its ``AppConfig.ready()`` (``delegations/exports.py``, ``payments/exports.py``);
  ``build(user)`` returns ``(sheet title, column titles, rows)`` computed with that user's own
  permissions and scope, the same rows and columns the admin shows them.
- The services: subscribing, unsubscribing (by the subscriber, or by the signed link of an
  email), claiming the subscriptions due this period (``export_subscriptions_due``: each once
  per period, however often or side by side the beat task runs) and sending one
  (``export_subscription_send``: the permission asked again at send time; lost → the
  subscription is made inactive with the reason and nothing is sent).

Every workbook is written by ``ciie_portal.spreadsheets.sheet_workbook`` (formula-safe).
"""

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.core.mail.utils import DNS_NAME
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from ciie_portal.audit import audit_record
from ciie_portal.outbox import enqueue_many_on_commit
from ciie_portal.spreadsheets import sheet_workbook

logger = logging.getLogger(__name__)

#: When the exports of a day go out (Beijing time): the first beat run at or after it.
SEND_AT = time(7, 0)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UNSUBSCRIBE_SALT = "registration.exports.unsubscribe"


# --- The registry --------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    key: str
    label: object  # a lazy translation
    permission: str
    build: Callable  # build(user) -> (sheet title, column titles, rows)
    allowed: Callable | None = None  # allowed(user) -> bool, besides the permission (a scope)

    def refusal(self, user) -> str:
        """Why ``user`` may not have this export now ("" when they may): the reason recorded
        on a subscription made inactive."""
        if not user.is_active:
            return "account inactive"
        if not user.is_staff:
            return "not staff"
        if not user.has_perm(self.permission):
            return f"no permission {self.permission}"
        if self.allowed is not None and not self.allowed(user):
            return "no scope"
        return ""

    def available_to(self, user) -> bool:
        return not self.refusal(user)


_EXPORTS: dict[str, Export] = {}


def register_export(
    key: str, label, permission: str, build: Callable, *, allowed: Callable | None = None
) -> None:
    """Offer the list ``key`` to users holding ``permission`` (and, when given, for whom
    ``allowed(user)`` is true: a secretary needs a delegation). Registering a key again
    replaces it (a reloaded app)."""
    _EXPORTS[key] = Export(key, label, permission, build, allowed)


def export_of(key: str) -> Export | None:
    return _EXPORTS.get(key)


def exports_for(user) -> list[Export]:
    """The exports ``user`` may subscribe to, in the order they were registered."""
    return [export for export in _EXPORTS.values() if export.available_to(user)]


# --- Subscribing --------------------------------------------------------------------------


def export_subscribe(
    *, user, key: str, frequency: str, weekday: int | None, language: str, base_url: str
):
    """Subscribe ``user`` to the export ``key`` (or change the frequency of their subscription
    to it). Refused (PermissionDenied) when the user may not have that export."""
    from .models import ExportSubscription

    export = export_of(key)
    if export is None or not export.available_to(user):
        raise PermissionDenied
    if frequency not in ExportSubscription.Frequency.values:
        raise ValidationError(_("Choose daily or weekly."), code="frequency")
    if frequency == ExportSubscription.Frequency.WEEKLY:
        if weekday is None or not 0 <= weekday <= 6:
            raise ValidationError(_("Choose the day of the week."), code="weekday")
    else:
        weekday = None
    with transaction.atomic():
        subscription, created = ExportSubscription.objects.select_for_update().get_or_create(
            user=user,
            export_key=key,
            defaults={
                "frequency": frequency,
                "weekday": weekday,
                "language": language,
                "base_url": base_url,
            },
        )
        before = (subscription.frequency, subscription.weekday, subscription.active)
        if not created:
            subscription.frequency = frequency
            subscription.weekday = weekday
            subscription.language = language
            subscription.base_url = base_url
            if not subscription.active:
                # A new secret: the links of the emails before the last unsubscribing are dead.
                subscription.token = new_token()
            subscription.active = True
            subscription.inactive_reason = ""
            subscription.save(
                update_fields=[
                    "frequency", "weekday", "language", "base_url", "token", "active",
                    "inactive_reason",
                ]
            )  # fmt: skip
        audit_record(
            actor=user,
            obj=subscription,
            action="export.subscribe",
            from_state="" if created else ("active" if before[2] else "inactive"),
            to_state="active",
            data={"export": key, "frequency": frequency, "weekday": weekday},
        )
    return subscription


def export_unsubscribe(*, subscription_id: int, actor, reason: str = "") -> bool:
    """Stop a subscription (conditional UPDATE: twice stops it once). True if it was active."""
    from .models import ExportSubscription

    with transaction.atomic():
        stopped = ExportSubscription.objects.filter(pk=subscription_id, active=True).update(
            active=False, inactive_reason=reason or "unsubscribed"
        )
        if stopped:
            audit_record(
                actor=actor,
                obj=ExportSubscription.objects.get(pk=subscription_id),
                action="export.unsubscribe",
                from_state="active",
                to_state="inactive",
                reason=reason or "unsubscribed",
            )
    return bool(stopped)


def unsubscribe_token(subscription) -> str:
    """The signed token of the email's unsubscribe link: the subscription and its own random
    secret (made new on every subscription, so an old link cannot stop a later one)."""
    return signing.dumps([subscription.pk, subscription.token], salt=UNSUBSCRIBE_SALT)


def subscription_of_token(token: str):
    """The subscription a token names, or None for a tampered, foreign or stale token."""
    from .models import ExportSubscription

    try:
        pk, secret = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    subscription = ExportSubscription.objects.filter(pk=pk).select_related("user").first()
    if subscription is None or not _same(subscription.token, str(secret)):
        return None
    return subscription


def new_token() -> str:
    from .models import new_export_token

    return new_export_token()


def _same(a: str, b: str) -> bool:
    from django.utils.crypto import constant_time_compare

    return constant_time_compare(a, b)


# --- Sending ------------------------------------------------------------------------------


def export_subscriptions_due(*, now: datetime | None = None) -> list[int]:
    """Claim every subscription due now and queue its sending after the commit; returns their
    ids. A subscription is claimed once per period: its row is locked (rows another run holds
    are skipped) and its ``last_period`` set to the period in the same transaction, so a second
    run — at once or side by side — finds nothing due."""
    from .models import ExportSubscription
    from .tasks import export_subscription_send_task

    now = now or timezone.now()
    local = timezone.localtime(now)
    if local.time() < SEND_AT:
        return []
    today = local.date()
    due = Q(frequency=ExportSubscription.Frequency.DAILY) | Q(
        frequency=ExportSubscription.Frequency.WEEKLY, weekday=today.weekday()
    )
    with transaction.atomic():
        ids = list(
            ExportSubscription.objects.select_for_update(skip_locked=True)
            .filter(due, Q(last_period__isnull=True) | Q(last_period__lt=today), active=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if ids:
            ExportSubscription.objects.filter(pk__in=ids).update(last_period=today)
            enqueue_many_on_commit(
                export_subscription_send_task, [((pk, today.isoformat()), {}) for pk in ids]
            )
    return ids


def export_subscription_send(*, subscription_id: int, period: str) -> str:
    """Send the export of one claimed period: "sent", "skipped" (stopped, claimed for another
    period, or sent already: a task delivered twice) or "refused" (the subscriber lost the
    permission or scope, or has no email address: the subscription is made inactive with the
    reason, nothing is sent).

    The list is built now, with the subscriber's permissions and scope of now. The email's
    Message-ID is the same for every attempt of one period, so a mail system that got it
    once drops a second copy (a worker killed between sending and recording it).
    """
    from .models import ExportSubscription

    subscription = (
        ExportSubscription.objects.select_related("user").filter(pk=subscription_id).first()
    )
    day = date.fromisoformat(period)
    if subscription is None or not subscription.active or subscription.last_period != day:
        return "skipped"
    if subscription.last_sent_at and timezone.localdate(subscription.last_sent_at) >= day:
        return "skipped"
    user = subscription.user
    export = export_of(subscription.export_key)
    reason = "export withdrawn" if export is None else export.refusal(user)
    if not reason and not user.email:
        reason = "no email address"
    if reason:
        export_unsubscribe(subscription_id=subscription.pk, actor="system", reason=reason)
        logger.info("Scheduled export %s not sent: %s", subscription.pk, reason)
        return "refused"
    message = export_email(subscription, export, day)
    message.send(fail_silently=False)
    ExportSubscription.objects.filter(pk=subscription.pk).update(last_sent_at=timezone.now())
    return "sent"


def export_email(subscription, export: Export, day: date) -> EmailMessage:
    """The email of one period: a short text with the unsubscribe link, the list attached."""
    with translation.override(subscription.language or settings.LANGUAGE_CODE):
        title, titles, rows = export.build(subscription.user)
        rows = list(rows)
        data = sheet_workbook(
            title=_sheet_title(str(title)), titles=[str(t) for t in titles], rows=rows
        )
        context = {
            "export": str(export.label),
            "day": day.isoformat(),
            "rows": len(rows),
            "frequency": subscription.get_frequency_display(),
            "unsubscribe_url": _absolute(
                subscription, reverse("exports:unsubscribe", args=[unsubscribe_token(subscription)])
            ),
            "manage_url": _absolute(subscription, reverse("exports:list")),
        }
        subject = " ".join(
            render_to_string("notices/scheduled_export.subject.txt", context, using="text").split()
        )
        body = render_to_string("notices/scheduled_export.email.txt", context, using="text")
    key = f"export:{subscription.pk}:{day.isoformat()}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscription.user.email],
        headers={
            "Message-ID": f"<export.{digest}@{DNS_NAME}>",
            "X-Export-Key": key,
            # One-click unsubscribing in mail programs (RFC 8058) would POST without a person;
            # the link opens a page that asks first, so only the plain header is given.
            "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
        },
    )
    message.attach(f"{subscription.export_key}-{day.isoformat()}.xlsx", data, XLSX)
    return message


def _sheet_title(title: str) -> str:
    """A sheet name Excel accepts: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join(" " if c in "[]:*?/\\" else c for c in title).strip()
    return (cleaned or "export")[:31]


def _absolute(subscription, path: str) -> str:
    """``path`` on the address the subscriber subscribed from (a task has no request)."""
    return subscription.base_url.rstrip("/") + path


def weekday_choices() -> Sequence[tuple[int, object]]:
    return [
        (0, _("Monday")),
        (1, _("Tuesday")),
        (2, _("Wednesday")),
        (3, _("Thursday")),
        (4, _("Friday")),
        (5, _("Saturday")),
        (6, _("Sunday")),
    ]


__all__ = [
    "Export",
    "SEND_AT",
    "export_of",
    "export_subscribe",
    "export_subscription_send",
    "export_subscriptions_due",
    "export_unsubscribe",
    "exports_for",
    "register_export",
    "subscription_of_token",
    "unsubscribe_token",
    "weekday_choices",
]
