import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import make_msgid
from django.core.mail.utils import DNS_NAME
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation

from ..models import Notice
from .backends import get_sms_backend

logger = logging.getLogger(__name__)

# A notice stuck in "sending" this long belonged to a worker that died: send it again.
STALE_CLAIM = timedelta(minutes=15)


def notice_send(
    *,
    key: str,
    event: str,
    channel: str,
    recipient: str,
    template: str,
    params: dict | None = None,
    language: str | None = None,
) -> Notice:
    """Record a notice and send it once the current transaction commits.

    ``key`` names the event instance (e.g. ``unit-review:42:3``): a second call with the same key
    returns the first notice and sends nothing.
    """
    from ..tasks import enqueue_on_commit, notice_deliver_task

    defaults = {
        "event": event,
        "channel": channel,
        "recipient": recipient,
        "template": template,
        "params": params or {},
        "language": language or translation.get_language() or settings.LANGUAGE_CODE,
        "next_attempt_at": timezone.now(),
    }
    try:
        with transaction.atomic():
            notice, created = Notice.objects.get_or_create(key=key, defaults=defaults)
    except IntegrityError:
        # Another transaction created the same key at the same moment: theirs wins.
        return Notice.objects.get(key=key)
    if created:
        enqueue_on_commit(notice_deliver_task, notice.pk)
    return notice


def render_notice(notice: Notice) -> dict:
    context = {**notice.params, "notice": notice}
    base = f"notices/{notice.template}"
    with translation.override(notice.language):
        if notice.channel == Notice.Channel.SMS:
            return {"text": render_to_string(f"{base}.sms.txt", context, using="text").strip()}
        return {
            "subject": " ".join(
                render_to_string(f"{base}.subject.txt", context, using="text").split()
            ),
            "text": render_to_string(f"{base}.email.txt", context, using="text"),
        }


def _transmit(notice: Notice) -> str:
    rendered = render_notice(notice)
    if notice.channel == Notice.Channel.SMS:
        return get_sms_backend().send(
            phone=notice.recipient,
            template=notice.template,
            params=notice.params,
            text=rendered["text"],
        )
    message_id = make_msgid(domain=DNS_NAME)
    message = EmailMultiAlternatives(
        subject=rendered["subject"],
        body=rendered["text"],
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notice.recipient],
        headers={"X-Notice-Key": notice.key, "Message-ID": message_id},
    )
    message.send(fail_silently=False)
    return message_id


def retry_delay(attempts: int) -> int:
    """Exponential backoff: base, 2×base, 4×base, … capped."""
    return min(
        settings.NOTICE_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0),
        settings.NOTICE_RETRY_MAX_SECONDS,
    )


def notice_deliver(*, notice_id: int) -> int | None:
    """Try to send one notice. Returns seconds until the next try, or None when done.

    Safe to run twice: only the run that moves the notice from queued to sending sends it.
    The provider call happens outside any transaction.
    """
    now = timezone.now()
    claimed = Notice.objects.filter(pk=notice_id, status=Notice.Status.QUEUED).update(
        status=Notice.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        # Already sent, given up, or another worker is sending it right now.
        return None
    notice = Notice.objects.get(pk=notice_id)
    try:
        message_id = _transmit(notice)
    except Exception as exc:  # any provider failure is retried, then recorded
        error = f"{type(exc).__name__}: {exc}"[:2000]
        # A configuration error (no provider template for this notice) will not heal by
        # itself: give up at once instead of retrying for an hour.
        permanent = isinstance(exc, ImproperlyConfigured)
        if permanent or notice.attempts >= settings.NOTICE_MAX_ATTEMPTS:
            logger.error(
                "Notice %s failed for good after %s attempts: %s",
                notice.key,
                notice.attempts,
                error,
            )
            Notice.objects.filter(pk=notice_id).update(
                status=Notice.Status.FAILED, last_error=error, next_attempt_at=None
            )
            return None
        delay = retry_delay(notice.attempts)
        logger.warning(
            "Notice %s failed (attempt %s), retry in %ss: %s",
            notice.key,
            notice.attempts,
            delay,
            error,
        )
        Notice.objects.filter(pk=notice_id).update(
            status=Notice.Status.QUEUED,
            last_error=error,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
        )
        return delay
    Notice.objects.filter(pk=notice_id).update(
        status=Notice.Status.SENT,
        sent_at=timezone.now(),
        provider_message_id=(message_id or "")[:100],
        next_attempt_at=None,
    )
    return None


# A queued notice whose next attempt is this late lost its message (broker restarted, ...).
OVERDUE = timedelta(minutes=5)


def notices_requeue_stale(*, now=None) -> list[int]:
    """Notices whose worker died or whose queued message was lost: ids to dispatch again.

    Dispatching one twice is harmless: only one run can claim it.
    """
    now = now or timezone.now()
    with transaction.atomic():
        stale = list(
            Notice.objects.select_for_update(skip_locked=True)
            .filter(status=Notice.Status.SENDING, claimed_at__lt=now - STALE_CLAIM)
            .values_list("pk", flat=True)[:1000]
        )
        Notice.objects.filter(pk__in=stale).update(status=Notice.Status.QUEUED, next_attempt_at=now)
    overdue = Notice.objects.filter(
        status=Notice.Status.QUEUED, next_attempt_at__lt=now - OVERDUE
    ).values_list("pk", flat=True)[:1000]
    return stale + [pk for pk in overdue if pk not in set(stale)]


def notice_retry(*, notice_ids: list[int]) -> int:
    """Queue failed notices again (an operator fixed the provider, the address, ...)."""
    from ..tasks import enqueue_on_commit, notice_deliver_task

    with transaction.atomic():
        ids = list(
            Notice.objects.select_for_update()
            .filter(pk__in=notice_ids, status=Notice.Status.FAILED)
            .values_list("pk", flat=True)
        )
        Notice.objects.filter(pk__in=ids).update(
            status=Notice.Status.QUEUED, attempts=0, next_attempt_at=timezone.now()
        )
        for notice_id in ids:
            enqueue_on_commit(notice_deliver_task, notice_id)
    return len(ids)


def notice_send_both(
    *, key: str, event: str, template: str, params: dict, mobile: str, email: str
) -> list[Notice]:
    """The same event by SMS to ``mobile`` and by email to ``email`` — each when given, so a
    contact without a mobile still gets the email and the other way round. The channel is
    appended to ``key`` (``<key>:sms``, ``<key>:email``): each is sent once."""
    return [
        notice_send(
            key=f"{key}:{channel}",
            event=event,
            channel=channel,
            recipient=recipient,
            template=template,
            params=params,
        )
        for channel, recipient in (("sms", mobile), ("email", email))
        if recipient
    ]
