import hashlib
import logging
import os
import socket
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives
from django.core.mail.utils import DNS_NAME
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q, Subquery
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from ..inserts import insert_new
from ..metrics import notices_sent as observe_sent
from ..models import Edition, Notice
from ..outbox import queue_length
from .backends import NOT_SENT, UNKNOWN, email_lookup, get_sms_backend

logger = logging.getLogger(__name__)

# Lost messages are looked for only while the notice queue is shorter than this.
LOST_MESSAGE_QUEUE_LENGTH = 100


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
    [notice] = notices_send(
        [
            {
                "key": key,
                "event": event,
                "channel": channel,
                "recipient": recipient,
                "template": template,
                "params": params,
                "language": language,
            }
        ]
    )
    return notice


def notices_send(notices: list[dict]) -> list[Notice]:
    """Record many notices (each a dict of ``notice_send``'s arguments) and send them once the
    current transaction commits: one INSERT for the notices, one for their delivery tasks.

    A notice whose key exists already — recorded before, or by another transaction at the same
    moment, whose commit the INSERT waits for — is not sent again: the stored one is returned in
    its place (one more SELECT, only then). Returns the notices in the order given.
    """
    from ..tasks import enqueue_many_on_commit, notice_deliver_task

    if not notices:
        return []
    now = timezone.now()
    language = translation.get_language() or settings.LANGUAGE_CODE
    here = connection.vendor == "postgresql"
    # The edition current now, in the INSERT itself (no query of its own).
    edition = None if here else Subquery(Edition.objects.filter(is_current=True).values("pk")[:1])
    rows = [
        Notice(
            key=spec["key"],
            event=spec["event"],
            channel=spec["channel"],
            recipient=spec["recipient"],
            template=spec["template"],
            params=spec.get("params") or {},
            language=spec.get("language") or language,
            edition_id=edition,
            next_attempt_at=now,
            dispatched_at=now,
        )
        for spec in notices
    ]
    created = insert_new(
        rows, key=["key"], database={"edition_id": _current_edition_sql()} if here else None
    )
    if len(created) < len(rows):
        made = {notice.key for notice in created}
        stored = Notice.objects.in_bulk(
            [row.key for row in rows if row.key not in made], field_name="key"
        )
        rows = [row if row.key in made else stored[row.key] for row in rows]
    enqueue_many_on_commit(notice_deliver_task, [((notice.pk,), {}) for notice in created])
    return rows


def _current_edition_sql() -> str:
    """The current edition, as a subquery of ``notices_send``'s INSERT on PostgreSQL."""
    quote = connection.ops.quote_name
    opts = Edition._meta
    return (
        f"(SELECT {quote(opts.pk.column)} FROM {quote(opts.db_table)} "
        f"WHERE {quote(opts.get_field('is_current').column)} "
        f"ORDER BY {quote(opts.get_field('number').column)} DESC LIMIT 1)"
    )


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


def notice_message_id(notice: Notice) -> str:
    """The email's Message-ID, the same for every attempt of one notice: a mail system that
    received it once drops a second copy with the same id."""
    digest = hashlib.sha256(notice.key.encode()).hexdigest()[:24]
    return f"<notice.{digest}@{DNS_NAME}>"


def _transmit(notice: Notice) -> str:
    rendered = render_notice(notice)
    if notice.channel == Notice.Channel.SMS:
        return get_sms_backend().send(
            phone=notice.recipient,
            template=notice.template,
            params=notice.params,
            text=rendered["text"],
            out_id=notice.key,
        )
    message_id = notice_message_id(notice)
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


def worker_identity() -> str:
    """Who holds a lease: host, process and a random part (a restarted process is another)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:100]


def _until_it_lands(write, *, what: str, patience: float | None = None):
    """Run the database write ``write()`` until it succeeds: a connection cut or a database
    restarting must not lose what a provider has already accepted. Waits 0.2 s, 0.4 s, … 5 s
    between tries, for ``patience`` seconds (default: the notice task's time limit)."""
    deadline = time.monotonic() + (patience if patience is not None else 540)
    pause = 0.2
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError) as error:
            if time.monotonic() > deadline:
                raise
            logger.warning("Could not record %s yet (%s): trying again", what, error)
            if not connection.in_atomic_block:
                connection.close()  # the next query opens a fresh connection
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def notice_deliver(*, notice_id: int) -> int | None:
    """Try to send one notice. Returns seconds until the next try, or None when done.

    Safe to run twice and side by side: only the run that moves the notice from queued to
    sending (taking a lease of ``NOTICE_LEASE_SECONDS``) sends it. A notice found sending
    whose lease ran out — its worker died — is resolved first (see :func:`notice_resolve`).
    The provider call happens outside any transaction; recording its result is retried until
    it lands, so a provider's acceptance is never forgotten.
    """
    owner = worker_identity()
    now = timezone.now()
    notice = _claim(notice_id, owner=owner, now=now)
    if notice is None:
        # Already sent, given up, or being sent right now — or its sender died: then find out
        # whether it went before anything else happens.
        expired = Notice.objects.filter(
            pk=notice_id, status=Notice.Status.SENDING, lease_until__lt=now
        ).first()
        if expired is not None and notice_resolve(expired, now=now) == "queued":
            return notice_deliver(notice_id=notice_id)
        return None
    try:
        message_id = _transmit(notice)
    except Exception as exc:  # any provider failure is retried, then recorded
        return _record_failure(notice, exc)
    _until_it_lands(
        lambda: Notice.objects.filter(pk=notice_id).update(
            status=Notice.Status.SENT,
            sent_at=timezone.now(),
            provider_message_id=(message_id or "")[:100],
            next_attempt_at=None,
            lease_owner="",
            lease_until=None,
        ),
        what=f"notice {notice.key} as sent",
    )
    observe_sent([notice], timezone.now())
    return None


# Notices claimed and sent together by ``notices_deliver_here``: their leases start together.
DELIVER_BATCH = 200


def notices_deliver_here(notice_ids: list[int]) -> list[int]:
    """Deliver many notices in this process (no broker: the outbox runs their tasks here right
    after the commit), as ``notice_deliver`` delivers one, with fewer statements: one
    ``UPDATE … RETURNING`` claims them all, each is sent, one UPDATE records every notice
    sent. Returns the ids left for ``notice_deliver``'s task one by one: those not claimed
    here (sent, given up, being sent, or with a lease run out: ``notice_deliver`` resolves it)
    and those whose provider failed with a retry due (the task retries them). PostgreSQL only:
    elsewhere every id is returned."""
    if connection.vendor != "postgresql":
        return list(notice_ids)
    left: list[int] = []
    for start in range(0, len(notice_ids), DELIVER_BATCH):
        left += _deliver_batch(notice_ids[start : start + DELIVER_BATCH])
    return left


def _notice_sql() -> dict:
    """The statements of ``notices_deliver_here``, written once per process."""
    global _NOTICE_SQL
    if _NOTICE_SQL is None:
        quote = connection.ops.quote_name
        opts = Notice._meta
        fields = opts.concrete_fields
        table = quote(opts.db_table)
        column = {field.attname: quote(field.column) for field in fields}
        _NOTICE_SQL = {
            "attnames": [field.attname for field in fields],
            "claim": (
                f"UPDATE {table} SET {column['status']} = %s, {column['claimed_at']} = %s, "
                f"{column['lease_owner']} = %s, {column['lease_until']} = %s, "
                f"{column['attempts']} = {column['attempts']} + 1 "
                f"WHERE {column['id']} = ANY(%s) AND {column['status']} = %s "
                f"RETURNING {', '.join(column[field.attname] for field in fields)}"
            ),
            "sent": (
                f"UPDATE {table} SET {column['status']} = %s, {column['sent_at']} = %s, "
                f"{column['provider_message_id']} = sent.message_id, "
                f"{column['next_attempt_at']} = NULL, {column['lease_owner']} = '', "
                f"{column['lease_until']} = NULL "
                "FROM (SELECT unnest(%s::bigint[]) AS id, unnest(%s::text[]) AS message_id) "
                f"AS sent WHERE {table}.{column['id']} = sent.id"
            ),
        }
    return _NOTICE_SQL


_NOTICE_SQL: dict | None = None


def _deliver_batch(notice_ids: list[int]) -> list[int]:
    sql = _notice_sql()
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.NOTICE_LEASE_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(
            sql["claim"],
            [
                str(Notice.Status.SENDING),
                now,
                worker_identity(),
                lease_until,
                list(notice_ids),
                str(Notice.Status.QUEUED),
            ],
        )
        claimed = [
            Notice.from_db(connection.alias, sql["attnames"], _notice_values(row))
            for row in cursor.fetchall()
        ]
    by_pk = {notice.pk: notice for notice in claimed}
    left = [pk for pk in notice_ids if pk not in by_pk]
    sent_ids, message_ids = [], []
    for pk in notice_ids:
        notice = by_pk.get(pk)
        if notice is None:
            continue
        try:
            message_id = _transmit(notice)
        except Exception as exc:  # any provider failure is retried, then recorded
            if _record_failure(notice, exc) is not None:
                left.append(pk)
            continue
        sent_ids.append(pk)
        message_ids.append((message_id or "")[:100])
    if sent_ids:

        def record():
            with connection.cursor() as cursor:
                cursor.execute(
                    sql["sent"], [str(Notice.Status.SENT), timezone.now(), sent_ids, message_ids]
                )

        _until_it_lands(record, what=f"{len(sent_ids)} notices as sent")
        observe_sent([by_pk[pk] for pk in sent_ids], timezone.now())
    return left


_PARAMS_COLUMN = None


def _notice_values(row) -> list:
    """A row as ``Notice.from_db`` takes it: the JSON parameters decoded as the field would."""
    global _PARAMS_COLUMN
    if _PARAMS_COLUMN is None:
        _PARAMS_COLUMN = [field.attname for field in Notice._meta.concrete_fields].index("params")
    values = list(row)
    field = Notice._meta.get_field("params")
    values[_PARAMS_COLUMN] = field.from_db_value(values[_PARAMS_COLUMN], None, connection)
    return values


def _claim(notice_id: int, *, owner: str, now) -> Notice | None:
    """Move the notice from queued to sending under a lease of ``NOTICE_LEASE_SECONDS`` and
    read it back in the same statement (``UPDATE … RETURNING``); None if it was not queued."""
    values = {
        "status": str(Notice.Status.SENDING),
        "claimed_at": now,
        "lease_owner": owner,
        "lease_until": now + timedelta(seconds=settings.NOTICE_LEASE_SECONDS),
    }
    queued = Notice.objects.filter(pk=notice_id, status=Notice.Status.QUEUED)
    if not connection.features.can_return_columns_from_insert:  # an SQLite before 3.35
        if not queued.update(**values, attempts=F("attempts") + 1):
            return None
        # Claimed: from here on a database fault must not leave it "sending" until its lease
        # runs out, so reading it back is retried like the writes after sending.
        return _until_it_lands(
            lambda: Notice.objects.get(pk=notice_id), what=f"notice {notice_id}", patience=20
        )
    quote = connection.ops.quote_name
    opts = Notice._meta
    assignments = [f"{quote(opts.get_field(name).column)} = %s" for name in values]
    params = [
        opts.get_field(name).get_db_prep_save(value, connection) for name, value in values.items()
    ]
    attempts = quote(opts.get_field("attempts").column)
    sql = (
        f"UPDATE {quote(opts.db_table)} SET {', '.join(assignments)}, "
        f"{attempts} = {attempts} + 1 "
        f"WHERE {quote(opts.pk.column)} = %s AND {quote(opts.get_field('status').column)} = %s "
        "RETURNING *"
    )
    claimed = list(Notice.objects.raw(sql, [*params, notice_id, str(Notice.Status.QUEUED)]))
    return claimed[0] if claimed else None


def _record_failure(notice: Notice, exc: Exception) -> int | None:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    # A configuration error (no provider template for this notice) will not heal by
    # itself: give up at once instead of retrying for an hour.
    permanent = isinstance(exc, ImproperlyConfigured)
    unsent = Notice.objects.filter(pk=notice.pk, status=Notice.Status.SENDING)
    if permanent or notice.attempts >= settings.NOTICE_MAX_ATTEMPTS:
        logger.error(
            "Notice %s failed for good after %s attempts: %s", notice.key, notice.attempts, error
        )
        _until_it_lands(
            lambda: unsent.update(
                status=Notice.Status.FAILED,
                last_error=error,
                next_attempt_at=None,
                lease_owner="",
                lease_until=None,
            ),
            what=f"notice {notice.key} as failed",
        )
        return None
    delay = retry_delay(notice.attempts)
    logger.warning(
        "Notice %s failed (attempt %s), retry in %ss: %s", notice.key, notice.attempts, delay, error
    )
    _until_it_lands(
        lambda: unsent.update(
            status=Notice.Status.QUEUED,
            last_error=error,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            lease_owner="",
            lease_until=None,
        ),
        what=f"notice {notice.key} for a retry",
    )
    return delay


UNKNOWN_OUTCOME = _(
    "Its worker stopped while sending it and the provider cannot say whether it was accepted: "
    "look it up in the provider's delivery report; if it did not go, send it again."
)


def notice_resolve(notice: Notice, *, now=None) -> str:
    """A notice whose lease ran out while it was being sent: did the provider accept it?

    Asks the provider (by the notice key, passed as its out-id), or the outbox file in
    embedded mode. Sent: recorded as sent. Not sent: queued again. Unknown: an email is queued
    again (it carries the same Message-ID, which mail systems deduplicate); an SMS is marked
    failed with what to check, for a person to send again — never sent twice on a guess.
    Returns the notice's new status, or "" if someone else resolved it first.
    """
    now = now or timezone.now()
    outcome = delivery_lookup(notice)
    still_expired = Notice.objects.filter(
        pk=notice.pk, status=Notice.Status.SENDING, lease_until=notice.lease_until
    )
    released = {"lease_owner": "", "lease_until": None}
    if isinstance(outcome, str):
        changed = still_expired.update(
            status=Notice.Status.SENT,
            sent_at=now,
            provider_message_id=outcome[:100],
            next_attempt_at=None,
            **released,
        )
        status = Notice.Status.SENT
    elif outcome is NOT_SENT or notice.channel == Notice.Channel.EMAIL:
        changed = still_expired.update(
            status=Notice.Status.QUEUED, next_attempt_at=now, dispatched_at=None, **released
        )
        status = Notice.Status.QUEUED
    else:
        changed = still_expired.update(
            status=Notice.Status.FAILED,
            last_error=str(UNKNOWN_OUTCOME),
            next_attempt_at=None,
            **released,
        )
        status = Notice.Status.FAILED
    if not changed:
        return ""
    logger.warning("Notice %s: its worker died while sending; resolved as %s", notice.key, status)
    return status


def delivery_lookup(notice: Notice):
    """What the provider knows of a notice: its message id (a str) if it accepted it,
    ``NOT_SENT`` if it did not, ``UNKNOWN`` if it cannot tell."""
    try:
        if notice.channel == Notice.Channel.SMS:
            found = get_sms_backend().lookup(out_id=notice.key, phone=notice.recipient)
        else:
            found = email_lookup(notice.key)
    except NotImplementedError:
        return UNKNOWN
    return NOT_SENT if found is None else found


def notices_recover(*, now=None, limit: int = 1000) -> list[int]:
    """The notice sweep (every few seconds): returns the ids of the notices it queued.

    1. Notices still sending after their lease: resolved (:func:`notice_resolve`); those known
       not to have gone are queued again.
    2. Retries that are due (a failed attempt set ``next_attempt_at``).
    3. Notices whose delivery task never came (``NOTICE_OVERDUE_SECONDS`` after it was queued):
       the message was lost — a broker restarted without persistence, a killed worker had
       prefetched it. Only while the queue is short: in a rush the task is simply still
       waiting in line, and queueing it again would only lengthen the line.
    """
    from ..tasks import enqueue_many_on_commit, notice_deliver_task

    now = now or timezone.now()
    with transaction.atomic():
        expired = list(
            Notice.objects.select_for_update(skip_locked=True)
            .filter(status=Notice.Status.SENDING, lease_until__lt=now)
            .order_by("lease_until")[:limit]
        )
        for notice in expired:
            notice_resolve(notice, now=now)
        due = Q(status=Notice.Status.QUEUED, next_attempt_at__lte=now)
        waiting = Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=F("next_attempt_at"))
        overdue_at = now - timedelta(seconds=settings.NOTICE_OVERDUE_SECONDS)
        length = queue_length()
        if length is None or length < LOST_MESSAGE_QUEUE_LENGTH:
            waiting |= Q(dispatched_at__lt=overdue_at, next_attempt_at__lt=overdue_at)
        ids = list(
            Notice.objects.select_for_update(skip_locked=True)
            .filter(due & waiting)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        Notice.objects.filter(pk__in=ids).update(dispatched_at=now)
        enqueue_many_on_commit(notice_deliver_task, [((pk,), {}) for pk in ids])
    return ids


def notice_retry(*, notice_ids: list[int]) -> int:
    """Queue failed notices again (an operator fixed the provider, the address, ...)."""
    from ..tasks import enqueue_many_on_commit, notice_deliver_task

    with transaction.atomic():
        ids = list(
            Notice.objects.select_for_update()
            .filter(pk__in=notice_ids, status=Notice.Status.FAILED)
            .values_list("pk", flat=True)
        )
        Notice.objects.filter(pk__in=ids).update(
            status=Notice.Status.QUEUED,
            attempts=0,
            next_attempt_at=timezone.now(),
            dispatched_at=timezone.now(),
        )
        enqueue_many_on_commit(notice_deliver_task, [((pk,), {}) for pk in ids])
    return len(ids)


def notice_send_both(
    *, key: str, event: str, template: str, params: dict, mobile: str, email: str
) -> list[Notice]:
    """The same event by SMS to ``mobile`` and by email to ``email`` — each when given, so a
    contact without a mobile still gets the email and the other way round. The channel is
    appended to ``key`` (``<key>:sms``, ``<key>:email``): each is sent once."""
    return notices_send(
        both_channels(
            key=key, event=event, template=template, params=params, mobile=mobile, email=email
        )
    )


def both_channels(
    *, key: str, event: str, template: str, params: dict, mobile: str, email: str
) -> list[dict]:
    """``notice_send_both``'s notices as ``notices_send`` takes them, to send many at once."""
    return [
        {
            "key": f"{key}:{channel}",
            "event": event,
            "channel": channel,
            "recipient": recipient,
            "template": template,
            "params": params,
        }
        for channel, recipient in (("sms", mobile), ("email", email))
        if recipient
    ]
