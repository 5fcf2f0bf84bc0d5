"""Notices: recorded once, sent by Celery after commit, retried with backoff, never sent twice.

Celery runs eagerly in tests (no broker), so a task queued on commit runs inside the
``django_capture_on_commit_callbacks(execute=True)`` block, and a task's retry runs at once.
"""

import email
import json
from datetime import timedelta
from email import policy

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connection, transaction
from django.db.models.query import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from ciie_portal.models import Notice, OutboxMessage
from ciie_portal.notices.backends import OutboxSmsBackend, TemplateSmsBackend
from ciie_portal.notices.services import (
    UNKNOWN_OUTCOME,
    notice_deliver,
    notice_message_id,
    notice_send,
    notices_deliver_here,
    notices_recover,
    notices_send,
    render_notice,
    retry_delay,
)
from ciie_portal.tasks import notices_recover_task
from tests.conftest import on_postgres

PHONE = "13912345678"
ADDRESS = "contact@example.com"
PAY_NOW = {"unit": "上海测试贸易有限公司", "count": 3, "deadline": "2027-10-12 23:59"}


class FlakySmsBackend(OutboxSmsBackend):
    """Fails the first ``failures`` calls, then writes to the outbox like the default backend."""

    failures = 0
    calls = 0

    def send(self, **kwargs):
        cls = type(self)
        cls.calls += 1
        if cls.calls <= cls.failures:
            raise ConnectionError(f"gateway timeout on call {cls.calls}")
        return super().send(**kwargs)


class RecordingTemplateSmsBackend(TemplateSmsBackend):
    """A provider gateway that records what it would send."""

    sent: list[dict] = []

    def send_template(self, *, phone, template_code, params, sign_name, out_id):
        type(self).sent.append(
            {
                "phone": phone,
                "template_code": template_code,
                "params": params,
                "sign_name": sign_name,
            }
        )
        return f"provider-{len(type(self).sent)}"


@pytest.fixture(autouse=True)
def _reset_backends():
    FlakySmsBackend.failures = 0
    FlakySmsBackend.calls = 0
    RecordingTemplateSmsBackend.sent = []


@pytest.fixture
def flaky(settings):
    settings.SMS_BACKEND = "tests.ciie_portal.test_notices.FlakySmsBackend"
    return FlakySmsBackend


def outbox_files(settings, kind: str) -> list:
    folder = settings.OUTBOX_DIR / kind
    return sorted(folder.iterdir()) if folder.exists() else []


def read_sms(path) -> dict:
    return json.loads(path.read_text())


def read_email(path):
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)


def send_code(key="code:1", code="123456", **kwargs):
    return notice_send(
        key=key,
        event="verification_code",
        channel=Notice.Channel.SMS,
        recipient=PHONE,
        template="verification_code",
        params={"code": code},
        **kwargs,
    )


def make_notice(**kwargs) -> Notice:
    fields = {
        "key": "test:1",
        "event": "verification_code",
        "channel": Notice.Channel.SMS,
        "recipient": PHONE,
        "template": "verification_code",
        "params": {"code": "654321"},
        "language": "en",
        "next_attempt_at": timezone.now(),
        **kwargs,
    }
    return Notice.objects.create(**fields)


# --- Sending --------------------------------------------------------------------------------


def test_it_records_and_sends_an_sms(db, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notice = send_code(language="en")

    assert len(callbacks) == 1
    stored = Notice.objects.get()
    assert stored.pk == notice.pk
    assert stored.key == "code:1"
    assert stored.event == "verification_code"
    assert stored.channel == Notice.Channel.SMS
    assert stored.recipient == PHONE
    assert stored.template == "verification_code"
    assert stored.params == {"code": "123456"}
    assert stored.status == Notice.Status.SENT
    assert stored.attempts == 1
    assert stored.last_error == ""
    assert stored.sent_at is not None
    assert stored.next_attempt_at is None

    [path] = outbox_files(settings, "sms")
    assert path.suffix == ".json"
    record = read_sms(path)
    assert record["to"] == PHONE
    assert record["template"] == "verification_code"
    assert record["params"] == {"code": "123456"}
    assert "123456" in record["text"]
    # English wording, whatever the exact sentence the template settles on.
    assert "CIIE" in record["text"]
    assert "code is 123456" in record["text"]
    assert stored.provider_message_id == record["id"]
    assert outbox_files(settings, "email") == []


def test_it_records_and_sends_an_email(db, settings, django_capture_on_commit_callbacks):
    # The test runner swaps in the locmem backend; put the portal's outbox backend back.
    settings.EMAIL_BACKEND = "ciie_portal.notices.backends.OutboxEmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        notice_send(
            key="pay-now:7",
            event="pay_now",
            channel=Notice.Channel.EMAIL,
            recipient=ADDRESS,
            template="pay_now",
            params=PAY_NOW,
            language="en",
        )

    stored = Notice.objects.get()
    assert stored.channel == Notice.Channel.EMAIL
    assert stored.recipient == ADDRESS
    assert stored.status == Notice.Status.SENT
    assert stored.attempts == 1

    [path] = outbox_files(settings, "email")
    assert path.suffix == ".eml"
    message = read_email(path)
    assert message["Subject"] == "Please pay the credential fee"
    assert message["To"] == ADDRESS
    assert message["X-Notice-Key"] == "pay-now:7"
    body = message.get_content()
    assert "Dear 上海测试贸易有限公司," in body
    assert "locked 3 visitor(s)" in body
    assert "before 2027-10-12 23:59" in body
    assert outbox_files(settings, "sms") == []


def test_it_renders_in_the_notice_language(db, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notice_send(
            key="pay-now:en",
            event="pay_now",
            channel=Notice.Channel.SMS,
            recipient=PHONE,
            template="pay_now",
            params=PAY_NOW,
            language="en",
        )
        notice_send(
            key="pay-now:zh",
            event="pay_now",
            channel=Notice.Channel.SMS,
            recipient=PHONE,
            template="pay_now",
            params=PAY_NOW,
            language="zh-hans",
        )

    texts = {read_sms(path)["id"]: read_sms(path)["text"] for path in outbox_files(settings, "sms")}
    english = Notice.objects.get(key="pay-now:en")
    chinese = Notice.objects.get(key="pay-now:zh")
    assert english.language == "en"
    assert chinese.language == "zh-hans"
    assert set(texts) == {english.provider_message_id, chinese.provider_message_id}
    assert texts[english.provider_message_id] == (
        "上海测试贸易有限公司: your delegation has locked 3 visitor(s). "
        "Please sign in and pay the credential fee before 2027-10-12 23:59."
    )
    # Translations may not be compiled yet: only the parameters are certain in Chinese.
    for value in ("上海测试贸易有限公司", "3", "2027-10-12 23:59"):
        assert value in texts[chinese.provider_message_id]


def test_it_takes_the_active_language_when_none_is_given(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), translation.override("en"):
        send_code(key="code:en")
    with django_capture_on_commit_callbacks(execute=True), translation.override(None):
        send_code(key="code:default")

    assert Notice.objects.get(key="code:en").language == "en"
    assert Notice.objects.get(key="code:default").language == "zh-hans"


# --- Once only, and only after commit -------------------------------------------------------


def test_it_sends_one_notice_per_key(db, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = send_code(key="code:42", code="111111")
        second = send_code(key="code:42", code="222222")
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        third = send_code(key="code:42", code="333333")
    assert callbacks == []

    assert second.pk == first.pk
    assert third.pk == first.pk
    stored = Notice.objects.get()
    assert stored.params == {"code": "111111"}
    assert stored.status == Notice.Status.SENT
    assert stored.attempts == 1
    [path] = outbox_files(settings, "sms")
    assert "111111" in read_sms(path)["text"]


def test_it_sends_nothing_when_the_transaction_rolls_back(
    db, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                send_code()
                assert Notice.objects.count() == 1
                raise RuntimeError("the page failed after queuing the notice")
        except RuntimeError:
            pass

    assert callbacks == []
    assert not Notice.objects.exists()
    assert outbox_files(settings, "sms") == []


def test_it_sends_nothing_before_commit(db, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notice = send_code()

    notice.refresh_from_db()
    assert notice.status == Notice.Status.QUEUED
    assert notice.attempts == 0
    assert notice.sent_at is None
    assert outbox_files(settings, "sms") == []
    assert len(callbacks) == 1

    for callback in callbacks:
        callback()

    notice.refresh_from_db()
    assert notice.status == Notice.Status.SENT
    assert notice.attempts == 1
    assert len(outbox_files(settings, "sms")) == 1


def test_it_does_nothing_when_delivering_a_sent_notice_again(
    db, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notice = send_code()
    notice.refresh_from_db()
    sent_at = notice.sent_at

    assert notice_deliver(notice_id=notice.pk) is None

    notice.refresh_from_db()
    assert notice.status == Notice.Status.SENT
    assert notice.attempts == 1
    assert notice.sent_at == sent_at
    assert len(outbox_files(settings, "sms")) == 1


# --- Retries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [(0, 30), (1, 30), (2, 60), (3, 120), (4, 240), (7, 1920), (8, 3600), (20, 3600)],
)
def test_it_backs_off_exponentially(settings, attempts, delay):
    settings.NOTICE_RETRY_BASE_SECONDS = 30
    settings.NOTICE_RETRY_MAX_SECONDS = 3600
    assert retry_delay(attempts) == delay


def test_it_caps_the_backoff(settings):
    settings.NOTICE_RETRY_BASE_SECONDS = 30
    settings.NOTICE_RETRY_MAX_SECONDS = 100
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [30, 60, 100, 100]


def test_a_failed_attempt_is_queued_again_later(db, settings, flaky):
    settings.NOTICE_RETRY_BASE_SECONDS = 30
    settings.NOTICE_MAX_ATTEMPTS = 5
    flaky.failures = 2
    notice = make_notice()

    before = timezone.now()
    assert notice_deliver(notice_id=notice.pk) == 30
    notice.refresh_from_db()
    assert notice.status == Notice.Status.QUEUED
    assert notice.attempts == 1
    assert notice.last_error == "ConnectionError: gateway timeout on call 1"
    assert before + timedelta(seconds=30) <= notice.next_attempt_at
    assert notice.next_attempt_at <= timezone.now() + timedelta(seconds=30)

    assert notice_deliver(notice_id=notice.pk) == 60
    notice.refresh_from_db()
    assert notice.attempts == 2
    assert notice.last_error == "ConnectionError: gateway timeout on call 2"
    assert outbox_files(settings, "sms") == []

    assert notice_deliver(notice_id=notice.pk) is None
    notice.refresh_from_db()
    assert notice.status == Notice.Status.SENT
    assert notice.attempts == 3
    assert notice.next_attempt_at is None
    assert len(outbox_files(settings, "sms")) == 1


def test_it_retries_until_the_provider_works(
    db, settings, flaky, django_capture_on_commit_callbacks
):
    settings.NOTICE_MAX_ATTEMPTS = 5
    flaky.failures = 2

    with django_capture_on_commit_callbacks(execute=True):
        notice = send_code()

    notice.refresh_from_db()
    assert flaky.calls == 3
    assert notice.status == Notice.Status.SENT
    assert notice.attempts == 3
    assert notice.sent_at is not None
    assert notice.next_attempt_at is None
    # A success does not clear the error of the failed attempt before it.
    assert notice.last_error == "ConnectionError: gateway timeout on call 2"
    [path] = outbox_files(settings, "sms")
    assert "123456" in read_sms(path)["text"]
    assert notice.provider_message_id == read_sms(path)["id"]


def test_it_gives_up_after_the_last_attempt(
    db, settings, flaky, django_capture_on_commit_callbacks
):
    settings.NOTICE_MAX_ATTEMPTS = 3
    flaky.failures = 1_000_000

    # No exception escapes: the request that queued the notice is not broken.
    with django_capture_on_commit_callbacks(execute=True):
        notice = send_code()

    notice.refresh_from_db()
    assert flaky.calls == 3
    assert notice.status == Notice.Status.FAILED
    assert notice.attempts == 3
    assert "gateway timeout on call 3" in notice.last_error
    assert notice.last_error.startswith("ConnectionError: ")
    assert notice.next_attempt_at is None
    assert notice.sent_at is None
    assert outbox_files(settings, "sms") == []

    # A failed notice stays failed: delivering it again sends nothing.
    assert notice_deliver(notice_id=notice.pk) is None
    notice.refresh_from_db()
    assert notice.status == Notice.Status.FAILED
    assert notice.attempts == 3
    assert flaky.calls == 3


# --- Workers that die, messages that are lost ----------------------------------------------


def _died_while_sending(**kwargs) -> Notice:
    """A notice claimed by a worker that is gone: its lease ran out a moment ago."""
    now = timezone.now()
    return make_notice(
        status=Notice.Status.SENDING,
        attempts=1,
        claimed_at=now - timedelta(seconds=40),
        lease_owner="host:1:dead",
        lease_until=now - timedelta(seconds=1),
        **kwargs,
    )


def test_a_notice_that_went_before_its_worker_died_is_recorded_as_sent_not_sent_again(
    db, settings, django_capture_on_commit_callbacks
):
    notice = _died_while_sending(key="went")
    # The provider accepted it; the worker died before it could record that.
    message_id = OutboxSmsBackend().send(
        phone=PHONE, template="verification_code", params={}, text="654321", out_id="went"
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert notices_recover() == []

    notice.refresh_from_db()
    assert notice.status == Notice.Status.SENT
    assert notice.provider_message_id == message_id
    assert (notice.lease_owner, notice.lease_until) == ("", None)
    assert len(outbox_files(settings, "sms")) == 1


def test_a_notice_whose_worker_died_before_sending_is_sent_again(
    db, settings, django_capture_on_commit_callbacks
):
    notice = _died_while_sending(key="not-yet")

    with django_capture_on_commit_callbacks(execute=True):
        assert notices_recover() == [notice.pk]

    notice.refresh_from_db()
    assert notice.status == Notice.Status.SENT
    assert notice.attempts == 2
    [path] = outbox_files(settings, "sms")
    assert read_sms(path)["out_id"] == "not-yet"


def test_a_notice_with_a_live_lease_is_left_to_its_worker(db, settings):
    now = timezone.now()
    notice = make_notice(
        status=Notice.Status.SENDING,
        attempts=1,
        claimed_at=now,
        lease_owner="host:1:alive",
        lease_until=now + timedelta(seconds=20),
    )

    assert notices_recover(now=now) == []
    # Its message delivered again (the pool child crashed, the broker gave it back): no-op.
    assert notice_deliver(notice_id=notice.pk) is None

    notice.refresh_from_db()
    assert notice.status == Notice.Status.SENDING
    assert notice.lease_owner == "host:1:alive"
    assert outbox_files(settings, "sms") == []


def test_a_redelivered_task_resolves_an_expired_lease_itself(db, settings):
    notice = _died_while_sending(key="redelivered")

    assert notice_deliver(notice_id=notice.pk) is None

    notice.refresh_from_db()
    assert notice.status == Notice.Status.SENT
    assert notice.attempts == 2
    assert len(outbox_files(settings, "sms")) == 1


def test_an_sms_gateway_that_cannot_tell_leaves_the_notice_to_a_person(
    db, settings, template_gateway, django_capture_on_commit_callbacks
):
    notice = _died_while_sending(key="unknown")

    with django_capture_on_commit_callbacks(execute=True):
        assert notices_recover() == []

    notice.refresh_from_db()
    assert notice.status == Notice.Status.FAILED
    assert notice.last_error == str(UNKNOWN_OUTCOME)
    assert template_gateway.sent == []


def test_an_email_of_unknown_fate_goes_again_with_the_same_message_id(
    db, settings, mailoutbox, django_capture_on_commit_callbacks
):
    # The test runner's locmem backend stands for SMTP: the server cannot be asked.
    notice = _died_while_sending(
        key="mail", channel=Notice.Channel.EMAIL, recipient=ADDRESS, template="pay_now",
        params=PAY_NOW,
    )  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        assert notices_recover() == [notice.pk]

    notice.refresh_from_db()
    assert notice.status == Notice.Status.SENT
    [message] = mailoutbox
    assert message.extra_headers["Message-ID"] == notice_message_id(notice)
    assert notice.provider_message_id == notice_message_id(notice)


def test_the_sent_mark_is_retried_until_it_lands(db, settings, monkeypatch):
    """The database connection is cut right after the provider accepted the SMS."""
    notice = make_notice(key="cut")
    update, failures = QuerySet.update, []

    def flaky_update(queryset, **values):
        if values.get("status") == Notice.Status.SENT and len(failures) < 3:
            failures.append(values)
            raise OperationalError("terminating connection due to administrator command")
        return update(queryset, **values)

    monkeypatch.setattr(QuerySet, "update", flaky_update)
    monkeypatch.setattr("ciie_portal.notices.services.time.sleep", lambda seconds: None)

    assert notice_deliver(notice_id=notice.pk) is None

    notice.refresh_from_db()
    assert len(failures) == 3
    assert notice.status == Notice.Status.SENT
    assert len(outbox_files(settings, "sms")) == 1


def test_the_sweep_queues_due_retries_and_lost_messages_only(
    db, settings, django_capture_on_commit_callbacks
):
    settings.NOTICE_OVERDUE_SECONDS = 30
    now = timezone.now()
    ago = lambda seconds: now - timedelta(seconds=seconds)  # noqa: E731
    lost = make_notice(key="lost", next_attempt_at=ago(600), dispatched_at=ago(600))
    waiting = make_notice(key="waiting", next_attempt_at=ago(10), dispatched_at=ago(10))
    retry_due = make_notice(
        key="retry-due", attempts=1, next_attempt_at=ago(1), dispatched_at=ago(90)
    )
    retry_later = make_notice(
        key="retry-later", attempts=1, next_attempt_at=now + timedelta(seconds=60),
        dispatched_at=ago(5),
    )  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        assert sorted(notices_recover(now=now)) == sorted([lost.pk, retry_due.pk])

    for notice in (lost, retry_due):
        notice.refresh_from_db()
        assert notice.status == Notice.Status.SENT
    for notice in (waiting, retry_later):
        notice.refresh_from_db()
        assert notice.status == Notice.Status.QUEUED
    assert len(outbox_files(settings, "sms")) == 2


def test_lost_messages_are_not_looked_for_while_the_queue_is_long(db, settings, monkeypatch):
    monkeypatch.setattr("ciie_portal.notices.services.queue_length", lambda: 5000)
    now = timezone.now()
    backlog = make_notice(
        key="in-line", next_attempt_at=now - timedelta(minutes=10),
        dispatched_at=now - timedelta(minutes=10),
    )  # fmt: skip

    assert notices_recover(now=now) == []
    backlog.refresh_from_db()
    assert backlog.status == Notice.Status.QUEUED


def test_the_periodic_task_sends_notices_whose_message_was_lost(
    db, settings, django_capture_on_commit_callbacks
):
    now = timezone.now()
    lost = make_notice(
        key="lost", next_attempt_at=now - timedelta(minutes=10),
        dispatched_at=now - timedelta(minutes=10),
    )  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        assert notices_recover_task.apply().get() == 1

    lost.refresh_from_db()
    assert lost.status == Notice.Status.SENT
    assert lost.attempts == 1
    [path] = outbox_files(settings, "sms")
    assert "654321" in read_sms(path)["text"]


# --- Template SMS gateways ------------------------------------------------------------------


@pytest.fixture
def template_gateway(settings):
    settings.SMS_BACKEND = "tests.ciie_portal.test_notices.RecordingTemplateSmsBackend"
    settings.SMS_TEMPLATE_CODES = {"verification_code": "SMS_0001"}
    settings.SMS_SIGN_NAME = "进博会测试"
    return RecordingTemplateSmsBackend


def test_a_template_gateway_gets_the_template_code(
    db, settings, template_gateway, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notice_send(
            key="code:7",
            event="verification_code",
            channel=Notice.Channel.SMS,
            recipient=PHONE,
            template="verification_code",
            params={"code": 123456, "minutes": 5},
        )

    assert template_gateway.sent == [
        {
            "phone": PHONE,
            "template_code": "SMS_0001",
            "params": {"code": "123456", "minutes": "5"},
            "sign_name": "进博会测试",
        }
    ]
    notice = Notice.objects.get()
    assert notice.status == Notice.Status.SENT
    assert notice.provider_message_id == "provider-1"
    assert outbox_files(settings, "sms") == []


def test_a_template_without_a_provider_code_is_an_error(db, settings, template_gateway):
    settings.NOTICE_MAX_ATTEMPTS = 5
    notice = make_notice(template="pay_now", params=PAY_NOW)

    with pytest.raises(ImproperlyConfigured, match="'pay_now'"):
        template_gateway().send(phone=PHONE, template="pay_now", params=PAY_NOW, text="")

    # A missing provider template will not heal by itself: no retries.
    assert notice_deliver(notice_id=notice.pk) is None
    notice.refresh_from_db()
    assert notice.status == Notice.Status.FAILED
    assert notice.attempts == 1
    assert notice.last_error == (
        "ImproperlyConfigured: No provider template code for SMS template 'pay_now' "
        "in SMS_TEMPLATE_CODES."
    )
    assert template_gateway.sent == []


def test_a_template_gateway_refuses_a_bad_phone_number(db, settings, template_gateway):
    settings.NOTICE_MAX_ATTEMPTS = 1
    notice = make_notice(recipient="not-a-phone")

    assert notice_deliver(notice_id=notice.pk) is None

    notice.refresh_from_db()
    assert notice.status == Notice.Status.FAILED
    assert notice.last_error == "ValueError: Not a phone number: 'not-a-phone'"
    assert template_gateway.sent == []


# --- Admin ----------------------------------------------------------------------------------

CHANGELIST = "/admin/ciie_portal/notice/"


@pytest.fixture
def client(client, settings):
    """Admin pages link static files. Without DEBUG (as on PostgreSQL) the manifest storage needs
    a collectstatic run first, which is not what these tests are about."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    return client


def test_an_organiser_sees_the_notices(client, organiser):
    make_notice(recipient="13900001111", status=Notice.Status.FAILED, attempts=3)
    client.force_login(organiser)

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    assert "13900001111" in response.content.decode()


def test_an_organiser_can_retry_failed_notices(
    client, settings, organiser, django_capture_on_commit_callbacks
):
    failed = make_notice(
        key="failed",
        status=Notice.Status.FAILED,
        attempts=3,
        last_error="ConnectionError: gateway down",
        next_attempt_at=None,
    )
    sent = make_notice(key="sent", status=Notice.Status.SENT, attempts=1)
    client.force_login(organiser)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            CHANGELIST,
            {"action": "retry", "_selected_action": [failed.pk, sent.pk], "index": "0"},
            follow=True,
            headers={"accept-language": "en"},
        )

    assert response.status_code == 200
    assert "1 notice queued again." in response.content.decode()
    assert len(callbacks) == 1
    failed.refresh_from_db()
    assert failed.status == Notice.Status.SENT
    assert failed.attempts == 1
    assert failed.sent_at is not None
    sent.refresh_from_db()
    assert sent.status == Notice.Status.SENT
    assert sent.attempts == 1
    [path] = outbox_files(settings, "sms")
    assert read_sms(path)["to"] == PHONE


def test_a_unit_contact_is_sent_to_the_admin_login(client, contact):
    make_notice()
    client.force_login(contact)

    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_secretary_may_not_see_the_notices(client, secretary):
    make_notice(recipient="13900001111")
    client.force_login(secretary)

    response = client.get(CHANGELIST)

    assert response.status_code == 403
    assert "13900001111" not in response.content.decode()


def test_a_secretary_may_not_retry_notices(client, secretary, django_capture_on_commit_callbacks):
    failed = make_notice(status=Notice.Status.FAILED, attempts=3)
    client.force_login(secretary)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            CHANGELIST, {"action": "retry", "_selected_action": [failed.pk], "index": "0"}
        )

    assert response.status_code == 403
    assert callbacks == []
    failed.refresh_from_db()
    assert failed.status == Notice.Status.FAILED


# --- Plain text and message ids ---------------------------------------------------------------


def test_texts_are_plain_text_never_html_escaped(db, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "ciie_portal.notices.backends.OutboxEmailBackend"
    unit = 'Smith & Sons "Trading" O\'Brien <Ltd>'
    with django_capture_on_commit_callbacks(execute=True):
        notice_send(
            key="escape:sms",
            event="pay_now",
            channel=Notice.Channel.SMS,
            recipient=PHONE,
            template="pay_now",
            params={**PAY_NOW, "unit": unit},
            language="en",
        )
        notice_send(
            key="escape:email", event="pay_now", channel=Notice.Channel.EMAIL, recipient=ADDRESS,
            template="pay_now", params={**PAY_NOW, "unit": unit}, language="en",
        )  # fmt: skip
    [sms] = outbox_files(settings, "sms")
    assert unit in read_sms(sms)["text"]
    [eml] = outbox_files(settings, "email")
    body = read_email(eml).get_body(preferencelist=("plain",)).get_content()
    assert unit in body
    assert "&amp;" not in body


def test_an_email_notice_records_its_message_id(db, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "ciie_portal.notices.backends.OutboxEmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        notice = notice_send(
            key="msgid", event="pay_now", channel=Notice.Channel.EMAIL, recipient=ADDRESS,
            template="pay_now", params=PAY_NOW, language="en",
        )  # fmt: skip
    notice.refresh_from_db()
    [eml] = outbox_files(settings, "email")
    assert notice.provider_message_id
    assert read_email(eml)["Message-ID"] == notice.provider_message_id


# --- Many notices delivered in this process ---------------------------------------------------


def send_codes(count: int) -> list[Notice]:
    return notices_send(
        [
            {
                "key": f"code:{number}",
                "event": "verification_code",
                "channel": Notice.Channel.SMS,
                "recipient": PHONE,
                "template": "verification_code",
                "params": {"code": f"{number:06d}"},
            }
            for number in range(count)
        ]
    )


@on_postgres
def test_notices_of_one_commit_are_claimed_and_marked_sent_in_one_statement_each(db, settings):
    with transaction.atomic():
        made = send_codes(5)
    with CaptureQueriesContext(connection) as captured:
        left = notices_deliver_here([notice.pk for notice in made])

    assert left == []
    statements = [query["sql"] for query in captured.captured_queries]
    assert len(statements) == 2, "\n".join(statements)
    notices = Notice.objects.filter(pk__in=[notice.pk for notice in made])
    assert {(n.status, n.attempts, n.lease_owner) for n in notices} == {("sent", 1, "")}
    files = [read_sms(path) for path in outbox_files(settings, "sms")]
    assert {n.key: n.provider_message_id for n in notices} == {f["out_id"]: f["id"] for f in files}
    assert {f["text"] for f in files} == {render_notice(n)["text"] for n in notices}


@on_postgres
def test_in_a_batch_a_failing_notice_is_retried_and_the_others_are_sent(
    db, settings, flaky, django_capture_on_commit_callbacks
):
    settings.NOTICE_MAX_ATTEMPTS = 5
    flaky.failures = 1  # the first call of the batch fails once

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        made = send_codes(3)

    notices = {n.key: n for n in Notice.objects.filter(pk__in=[notice.pk for notice in made])}
    assert {n.status for n in notices.values()} == {Notice.Status.SENT}
    assert notices["code:0"].attempts == 2
    assert notices["code:0"].last_error == "ConnectionError: gateway timeout on call 1"
    assert [notices[f"code:{number}"].attempts for number in (1, 2)] == [1, 1]
    assert len(outbox_files(settings, "sms")) == 3
    assert OutboxMessage.objects.filter(published_at__isnull=True).count() == 0


@on_postgres
def test_a_batch_leaves_a_notice_it_cannot_claim_to_the_task(db, settings):
    with transaction.atomic():
        sent, queued = send_codes(2)
    Notice.objects.filter(pk=sent.pk).update(status=Notice.Status.SENT)

    assert notices_deliver_here([sent.pk, queued.pk]) == [sent.pk]
    assert Notice.objects.get(pk=queued.pk).status == Notice.Status.SENT
    assert len(outbox_files(settings, "sms")) == 1


@on_postgres
def test_notices_are_recorded_with_the_current_edition(db):
    from tests.ciie_portal.factories import EditionFactory

    current = EditionFactory(is_current=True)
    with transaction.atomic():
        [notice] = send_codes(1)
        [again] = send_codes(1)

    assert notice.edition_id == current.pk == Notice.objects.get(pk=notice.pk).edition_id
    assert again.pk == notice.pk
