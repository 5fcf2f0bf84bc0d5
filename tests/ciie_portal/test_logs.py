"""Structured logs: one JSON line per request and per task run, the request id carried from the
request into the tasks it queues (through the outbox), and no ID number, mobile or password in any
line of a whole unit journey."""

import io
import json
import logging
import os
import re
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from celery.app.task import Task
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from ciie_portal import logs, outbox
from ciie_portal.celery import app
from ciie_portal.models import Notice, OutboxMessage
from ciie_portal.outbox import outbox_relay
from registration.models import Unit, User, Visitor
from registration.validators import resident_id_sex
from tests.celery_workers import celery_worker, wait_for
from tests.registration.factories import DeliveryAddressFactory, make_resident_id, make_uscc
from tests.registration.images import image_file

ROOT = Path(__file__).resolve().parents[2]
REQUEST_LOGGER = "ciie_portal.request_log"
TASK_LOGGER = "ciie_portal.task_log"
NOTICE_TASK = "ciie_portal.tasks.notice_deliver"
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


class Captured:
    """What the portal logged while a test ran, as the LOG_FORMAT=json formatter renders it."""

    def __init__(self, buffer: io.StringIO):
        self.buffer = buffer

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def lines(self) -> list[dict]:
        # Every line is one JSON object (json.loads fails the test otherwise).
        return [json.loads(line) for line in self.text.splitlines()]

    def of(self, logger_name: str) -> list[dict]:
        return [line for line in self.lines() if line["logger"] == logger_name]

    def clear(self) -> None:
        self.buffer.seek(0)
        self.buffer.truncate()


@pytest.fixture(autouse=True)
def _own_rate_limits(monkeypatch):
    """Each test's code and sign-in limits counted under keys of its own (the shared cache
    outlives a test), as tests/registration/conftest.py does for that package."""
    from registration import limits

    monkeypatch.setattr(limits, "NAMESPACE", f"limits-test-{uuid.uuid4().hex}")


@pytest.fixture
def captured():
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.json_formatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield Captured(buffer)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


# --- The lines ---------------------------------------------------------------------------------


def test_a_request_is_one_json_line_with_who_what_and_how_long(client, contact, captured):
    client.force_login(contact)
    response = client.get("/accounts/visitors/?q=440106198503150417&page=2")
    assert response.status_code == 200

    [line] = captured.of(REQUEST_LOGGER)
    assert ISO_UTC.fullmatch(line["time"])
    assert line["level"] == "info"
    assert line["event"] == "request"
    assert line["request_id"] == response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
    assert (line["method"], line["path"], line["query_keys"]) == (
        "GET",
        "/accounts/visitors/",
        ["page", "q"],
    )
    assert (line["view"], line["status"]) == ("registration:visitors", 200)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert (line["user_id"], line["role"]) == (contact.pk, "unit_contact")
    assert line["remote_addr"] == "127.0.0.1"
    # The searched number is nowhere: not in the path, not in another line.
    assert "440106198503150417" not in captured.text


@pytest.mark.parametrize(
    ("who", "role"),
    [
        ("organiser", "organiser"),
        ("secretary", "secretary"),
        ("finance", "finance"),
        ("contact", "unit_contact"),
        (None, "anonymous"),
    ],
)
def test_each_line_names_the_role(request, client, captured, edition, who, role):
    user = request.getfixturevalue(who) if who else None
    if user is not None:
        client.force_login(user)
    client.get("/healthz")
    [line] = captured.of(REQUEST_LOGGER)
    assert line["role"] == role
    assert line["user_id"] == (user.pk if user else None)


def test_what_a_view_logs_carries_the_request_id_and_the_user(client, contact, captured):
    """The CSP report endpoint logs each report: that line is the request's too."""
    client.force_login(contact)
    report = {"csp-report": {"document-uri": "/accounts/", "violated-directive": "img-src"}}
    response = client.post(
        "/csp-report/", json.dumps(report), content_type="application/csp-report"
    )
    assert response.status_code == 204
    [line] = captured.of("ciie_portal.csp")
    assert line["request_id"] == response["X-Request-ID"]
    assert (line["user_id"], line["role"]) == (contact.pk, "unit_contact")
    [request_line] = captured.of(REQUEST_LOGGER)
    assert (request_line["request_id"], request_line["view"]) == (
        response["X-Request-ID"],
        "csp_report",
    )


def test_the_request_line_costs_no_query(contact, organiser, edition):
    """The role comes from the session (written at sign-in), the user from what the request
    already looked up: the line adds no statement to a unit's or a staff member's page."""
    without = [m for m in settings.MIDDLEWARE if not m.endswith("RequestLogMiddleware")]

    def statements(user, path, middleware):
        from django.test import override_settings

        with override_settings(MIDDLEWARE=middleware):
            client = Client()
            client.force_login(user)
            client.get(path)  # warm: caches, the session
            with CaptureQueriesContext(connection) as queries:
                assert client.get(path).status_code == 200
        return len(queries.captured_queries)

    for user, path in ((contact, "/accounts/"), (organiser, "/admin/")):
        assert statements(user, path, settings.MIDDLEWARE) == statements(user, path, without)


def test_existing_log_calls_become_json_lines_with_their_message(captured):
    log = logging.getLogger("registration.ocr")
    log.warning("Business licence OCR failed: %s", "no chi_sim", extra={"attempt": 2})
    try:
        raise ValueError("bad number 440106198503150417")
    except ValueError:
        log.exception("OCR crashed for mobile=13912345678")

    warning, error = captured.lines()
    assert warning["event"] == "Business licence OCR failed: no chi_sim"
    assert (warning["level"], warning["logger"], warning["attempt"]) == (
        "warning",
        "registration.ocr",
        2,
    )
    assert ISO_UTC.fullmatch(warning["time"])
    assert error["event"] == "OCR crashed for mobile=[redacted]"
    assert "ValueError: bad number [id_number]" in error["exception"]
    assert "440106198503150417" not in captured.text
    assert "13912345678" not in captured.text


def test_the_redaction(captured):
    uscc = make_uscc(31337)
    logging.getLogger("tests").info(
        "id %s, typo'd id 44010619850315041X, uscc %s, mobile +86 139-1234-5678, 8613912345678",
        "440106198503150417",
        uscc,
        extra={
            "password": "hunter2",
            "api_token": "abc",
            "contact_mobile": "13800138000",
            "passport_number": "E12345678",
            "nested": {"id_number": "440106198503150417", "note": "call 13912345678"},
            "user_id": 42,
            "order": "CO-2027-000123",
            "sha": "a" * 10 + "440106198503150417" + "b" * 10,
        },
    )
    [line] = captured.lines()
    assert line["event"] == (
        "id [id_number], typo'd id [id_number], uscc [uscc], mobile [mobile], [mobile]"
    )
    for key in ("password", "api_token", "contact_mobile", "passport_number"):
        assert line[key] == "[redacted]"
    assert line["nested"] == {"id_number": "[redacted]", "note": "call [mobile]"}
    # What is not personal stays: ids, references, a number inside a longer token (a hash).
    assert (line["user_id"], line["order"]) == (42, "CO-2027-000123")
    assert line["sha"].startswith("aaaaaaaaaa4401")


def test_text_lines_for_development_are_redacted_too():
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.text_formatter())
    log = logging.getLogger("tests.text")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise ValueError("440106198503150417")
        except ValueError:
            log.error("failed for %s", "13912345678", extra={"password": "x1"}, exc_info=True)
    finally:
        log.removeHandler(handler)
        log.propagate = True
    text = buffer.getvalue()
    assert "failed for [mobile]" in text
    assert "password=[redacted]" in text
    assert "ValueError: [id_number]" in text
    assert "440106198503150417" not in text and "13912345678" not in text


@pytest.mark.parametrize(
    ("proxies", "logged"), [(0, "127.0.0.1"), (1, "203.0.113.9"), (2, "198.51.100.7")]
)
def test_the_address_is_the_one_the_trusted_proxies_saw(
    client, db, captured, settings, proxies, logged
):
    settings.TRUSTED_PROXY_COUNT = proxies
    # The client wrote the first address itself; the proxies appended the others.
    client.get("/healthz", HTTP_X_FORWARDED_FOR="10.9.9.9, 198.51.100.7, 203.0.113.9")
    [line] = captured.of(REQUEST_LOGGER)
    assert line["remote_addr"] == logged


# --- The request id ----------------------------------------------------------------------------


def test_an_incoming_request_id_is_honoured(client, db, captured):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="edge-7f3a9c1e.42")
    assert response["X-Request-ID"] == "edge-7f3a9c1e.42"
    [line] = captured.of(REQUEST_LOGGER)
    assert line["request_id"] == "edge-7f3a9c1e.42"


@pytest.mark.parametrize(
    "incoming",
    [
        "short",
        "x" * 129,
        "has space-in-it",
        "new\nline-injected",
        '"quoted-value"',
        "440106198503150417",  # a number the log would have to hide
        "日志编号-12345678",
    ],
)
def test_a_malformed_request_id_is_replaced(client, db, captured, incoming):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=incoming)
    replaced = response["X-Request-ID"]
    assert replaced != incoming
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    [line] = captured.of(REQUEST_LOGGER)
    assert line["request_id"] == replaced


def test_each_request_gets_its_own_id_and_leaves_none_behind(client, db, captured):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert first != second
    assert logs.current_request_id() is None
    logging.getLogger("tests").info("after the requests")
    assert "request_id" not in captured.lines()[-1]


def _enter_and_request_code(client, mobile, request_id):
    client.post(
        "/accounts/register/",
        {"region": "mainland", "category": "enterprise", "kind": "unit", "privacy": "on"},
    )
    return client.post(
        "/accounts/register/code/",
        {"purpose": "signup", "mobile": mobile},
        HTTP_X_REQUEST_ID=request_id,
    )


def test_the_request_id_reaches_the_task_the_relay_publishes_later(
    client, edition, captured, monkeypatch, django_capture_on_commit_callbacks
):
    """A code request queues its SMS through the outbox while the broker is down; the relay
    publishes it later, outside any request — and the task's lines carry the request's id."""
    request_id = "signup-code-0001"
    with monkeypatch.context() as down:

        def refuse(*args, **kwargs):
            raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

        down.setattr(Task, "apply_async", refuse)
        down.setattr(outbox, "_broker_down_until", 0.0)
        app.conf.task_always_eager = False
        try:
            with django_capture_on_commit_callbacks(execute=True):
                response = _enter_and_request_code(client, "13912345601", request_id)
        finally:
            app.conf.task_always_eager = True
    assert response.status_code == 200
    assert response["X-Request-ID"] == request_id
    message = OutboxMessage.objects.get(task=NOTICE_TASK, published_at__isnull=True)
    assert message.headers == {"request_id": request_id}
    notice = Notice.objects.get(recipient="13912345601")
    assert notice.status == Notice.Status.QUEUED

    captured.clear()
    assert logs.current_request_id() is None
    # In-process, the relay first has Celery import the task modules, which runs django.setup()
    # again: that configures logging anew and would drop this test's handler. They are imported.
    monkeypatch.setattr(app.loader, "import_default_modules", lambda: [])
    assert outbox_relay(now=timezone.now() + timedelta(seconds=5)) == 1

    notice.refresh_from_db()
    assert notice.status == Notice.Status.SENT
    runs = captured.of(TASK_LOGGER)
    assert [run["state"] for run in runs] == ["started", "succeeded"]
    for run in runs:
        assert run["request_id"] == request_id
        assert (run["task_name"], run["task_id"]) == (NOTICE_TASK, runs[0]["task_id"])
    assert runs[1]["duration_ms"] >= 0
    # The relay's own line is not the request's.
    [relayed] = [line for line in captured.lines() if "Outbox relay published" in line["event"]]
    assert "request_id" not in relayed
    # And nothing of the task's stays bound once it has run.
    assert logs.current_request_id() is None


def test_the_request_publishes_with_the_request_id_in_the_message_headers(
    client, edition, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []

    def publish(self, args=None, kwargs=None, **options):
        sent.append((self.name, options.get("headers")))

    monkeypatch.setattr(Task, "apply_async", publish)
    app.conf.task_always_eager = False  # tests/conftest.py puts it back
    with django_capture_on_commit_callbacks(execute=True):
        _enter_and_request_code(client, "13912345602", "signup-code-0002")
    assert sent == [(NOTICE_TASK, {"request_id": "signup-code-0002"})]
    assert OutboxMessage.objects.get().published_at is not None


def test_a_task_without_a_request_has_no_request_id(
    db, captured, django_capture_on_commit_callbacks
):
    from ciie_portal.tasks import enqueue_on_commit, shred_jobs_take_over_task

    with django_capture_on_commit_callbacks(execute=True):
        message = enqueue_on_commit(shred_jobs_take_over_task)
    assert message.headers == {}
    runs = captured.of(TASK_LOGGER)
    assert [run["state"] for run in runs] == ["started", "succeeded"]
    assert all("request_id" not in run for run in runs)
    assert runs[0]["task_name"] == "ciie_portal.tasks.shred_jobs_take_over"


def test_a_failing_task_is_logged_failed_with_the_error_name(db, captured, monkeypatch):
    from ciie_portal import retention
    from ciie_portal.tasks import retention_housekeeping_task

    def broken():
        raise RuntimeError("disk full for 13912345678")

    monkeypatch.setattr(retention, "retention_housekeeping", broken)
    with pytest.raises(RuntimeError):
        retention_housekeeping_task.apply(throw=True)
    runs = captured.of(TASK_LOGGER)
    assert [run["state"] for run in runs] == ["started", "failed"]
    assert (runs[1]["level"], runs[1]["error"]) == ("warning", "RuntimeError")
    assert "13912345678" not in captured.text


# --- A whole unit journey ---------------------------------------------------------------------

PASSWORD = "Plant3d-Pass!word"
WRONG_PASSWORD = "Wr0ng-Plant3d-Pw"
ACCOUNT_MOBILE = "13987654321"
CONTACT_MOBILE = "13876543210"
VISITOR_MOBILE = "13765432109"
ID_NUMBER = make_resident_id(417, birth="19850315", region="440106")
USCC = make_uscc(98765)


class Committing:
    """A test client after each of whose requests what the request queued runs, as after a
    commit (tests run in a transaction that never commits)."""

    def __init__(self, capture_on_commit):
        self.client = Client()
        self.capture_on_commit = capture_on_commit

    def get(self, *args, **kwargs):
        with self.capture_on_commit(execute=True):
            return self.client.get(*args, **kwargs)

    def post(self, *args, **kwargs):
        with self.capture_on_commit(execute=True):
            return self.client.post(*args, **kwargs)


def test_a_whole_unit_journey_logs_no_id_number_mobile_or_password(
    edition,
    guangzhou,
    secretary,
    captured,
    private_media,
    django_capture_on_commit_callbacks,
):
    client = Committing(django_capture_on_commit_callbacks)
    # Sign up: the entry page, a code to the account's mobile, the account.
    _enter_and_request_code(client, ACCOUNT_MOBILE, "journey-signup-code")
    code = Notice.objects.filter(recipient=ACCOUNT_MOBILE).latest("pk").params["code"]
    signup = client.post(
        "/accounts/register/account/",
        {
            "delegation": guangzhou.pk,
            "name": "广州日志测试有限公司",
            "uscc": USCC,
            "mobile": ACCOUNT_MOBILE,
            "password1": PASSWORD,
            "password2": PASSWORD,
            "sms_code": code,
        },
    )
    assert signup.status_code == 302
    # Out, a wrong password, and in again with the right one.
    client.post("/accounts/logout/")
    assert (
        client.post("/accounts/login/", {"username": USCC, "password": WRONG_PASSWORD}).status_code
        == 200
    )
    assert (
        client.post("/accounts/login/", {"username": USCC, "password": PASSWORD}).status_code == 302
    )
    # The unit's information.
    from tests.registration.test_unit_info import valid_data

    info = client.post(
        "/accounts/unit/",
        valid_data(
            licence=image_file(), contact_mobile=CONTACT_MOBILE, name="广州日志测试有限公司"
        ),
    )
    assert info.status_code == 302, info.context and info.context["form"].errors
    unit = Unit.objects.get(uscc=USCC)
    # A visitor with an ID number and a mobile, found again by number, and the unit submitted.
    from tests.registration.test_visitors import mainland

    address = DeliveryAddressFactory(unit=unit, is_default=True)
    added = client.post(
        "/accounts/visitors/add/mainland/",
        mainland(
            edition,
            address,
            id_number=ID_NUMBER,
            sex=resident_id_sex(ID_NUMBER),
            birth_date="1985-03-15",
            mobile=VISITOR_MOBILE,
        ),
    )
    assert added.status_code == 302, added.context and added.context["form"].errors
    visitor = Visitor.objects.get(unit=unit)
    assert client.get(f"/accounts/visitors/?q={ID_NUMBER}").status_code == 200
    edition.auto_approve_categories = []
    edition.save()
    submitted = client.post(
        "/accounts/submit/", {"visitor": [visitor.pk], "sensitive_consent": "1"}
    )
    assert submitted.status_code == 302
    # The delegation's secretary looks the visitor up by number in the admin.
    staff = Committing(django_capture_on_commit_callbacks)
    staff.client.force_login(secretary)
    found = staff.get(f"/admin/registration/visitor/?q={ID_NUMBER}")
    assert found.status_code == 200

    # The journey happened: what was typed is in the database.
    user = User.objects.get(username=USCC)
    assert user.check_password(PASSWORD) and user.mobile == ACCOUNT_MOBILE
    unit.refresh_from_db()
    visitor.refresh_from_db()
    assert unit.contact_mobile == CONTACT_MOBILE and unit.status == Unit.Status.SUBMITTED
    assert (visitor.id_number, visitor.mobile) == (ID_NUMBER, VISITOR_MOBILE)

    # Every line is JSON; none holds the planted values.
    lines = captured.lines()
    text = captured.text
    for planted in (
        ID_NUMBER,
        ACCOUNT_MOBILE,
        CONTACT_MOBILE,
        VISITOR_MOBILE,
        PASSWORD,
        WRONG_PASSWORD,
        USCC,
        code,
    ):
        assert planted not in text, planted
    # One line per request, each with its id; the unit's lines name the contact after sign-in.
    requests = [line for line in lines if line["logger"] == REQUEST_LOGGER]
    views = [line["view"] for line in requests]
    for view in (
        "registration:code_request",
        "registration:signup",
        "registration:login",
        "registration:unit_info",
        "registration:visitor_add",
        "registration:visitors",
        "registration:unit_submit",
        "admin:registration_visitor_changelist",
    ):
        assert view in views, views
    assert len({line["request_id"] for line in requests}) == len(requests)
    [submit] = [line for line in requests if line["view"] == "registration:unit_submit"]
    assert (submit["user_id"], submit["role"], submit["status"]) == (user.pk, "unit_contact", 302)
    [search] = [line for line in requests if line["view"] == "registration:visitors"]
    assert (search["path"], search["query_keys"]) == ("/accounts/visitors/", ["q"])
    [admin] = [line for line in requests if line["view"].startswith("admin:")]
    assert (admin["user_id"], admin["role"]) == (secretary.pk, "secretary")
    # The code's SMS was delivered after the code request's commit, within its request id.
    assert Notice.objects.get(recipient=ACCOUNT_MOBILE).status == Notice.Status.SENT
    [code_request] = [line for line in requests if line["view"] == "registration:code_request"]
    assert code_request["request_id"] == "journey-signup-code"


# --- Configuration -------------------------------------------------------------------------------


def _log_in_process(tmp_path, **environment) -> subprocess.CompletedProcess:
    names = ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_DEBUG", "LOG_FORMAT", "SENTRY_DSN")
    env = {k: v for k, v in os.environ.items() if k not in names}
    env.update(
        DJANGO_SETTINGS_MODULE="ciie_portal.settings",
        CIIE_VAR_DIR=str(tmp_path),
        CIIE_ALLOW_LOCAL_KEYS="true",
        **environment,
    )
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('ciie_portal.x').warning('hello %s', '13912345678')"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_a_production_process_logs_json(tmp_path):
    production = _log_in_process(
        tmp_path, DATABASE_URL="postgres://nobody@127.0.0.1:1/none", DJANGO_DEBUG="false"
    )
    assert production.returncode == 0, production.stderr
    [line] = [json.loads(text) for text in production.stderr.splitlines()]
    assert (line["event"], line["level"], line["logger"]) == (
        "hello [mobile]",
        "warning",
        "ciie_portal.x",
    )


def _formatter_of(tmp_path, monkeypatch, **environment) -> logging.Formatter:
    """The console formatter the settings choose in ``environment`` (the settings module run
    again here, as a process started so would run it)."""
    import runpy

    from django.utils.module_loading import import_string

    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_DEBUG", "LOG_FORMAT", "SENTRY_DSN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CIIE_VAR_DIR", str(tmp_path))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    config = runpy.run_path(str(ROOT / "ciie_portal" / "settings.py"))["LOGGING"]
    chosen = config["handlers"]["console"]["formatter"]
    return import_string(config["formatters"][chosen]["()"])()


@pytest.mark.parametrize(
    ("environment", "kind"),
    [
        ({}, "text"),  # make run: nothing set, DEBUG on
        ({"DATABASE_URL": "postgres://x@127.0.0.1:1/none", "DJANGO_DEBUG": "false"}, "json"),
        ({"LOG_FORMAT": "json"}, "json"),
        ({"DATABASE_URL": "postgres://x@127.0.0.1:1/none", "LOG_FORMAT": "text"}, "text"),
    ],
)
def test_the_format_follows_log_format_or_debug(tmp_path, monkeypatch, environment, kind):
    formatter = _formatter_of(tmp_path, monkeypatch, CIIE_ALLOW_LOCAL_KEYS="true", **environment)
    record = logging.LogRecord(
        "tests", logging.INFO, __file__, 1, "hello %s", ("13912345678",), None
    )
    rendered = formatter.format(record)
    if kind == "json":
        assert json.loads(rendered)["event"] == "hello [mobile]"
    else:
        assert "hello [mobile]" in rendered and not rendered.startswith("{")


def test_an_unknown_log_format_stops_the_start(tmp_path, monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT"):
        _formatter_of(tmp_path, monkeypatch, LOG_FORMAT="xml")


# --- A real worker ---------------------------------------------------------------------------


@pytest.fixture
def json_worker(tmp_path, transactional_db):
    if settings.CELERY_BROKER_URL.startswith("memory://") or connection.vendor != "postgresql":
        pytest.skip("needs a real broker and PostgreSQL (the worker reaches the test database)")
    with celery_worker(tmp_path, pool=["--pool=solo"], env={"LOG_FORMAT": "json"}) as log:
        yield log


@pytest.mark.broker
def test_a_real_worker_logs_the_task_with_the_request_id_of_the_request(
    transactional_db, json_worker, edition
):
    client = Client()
    response = _enter_and_request_code(client, "13912345603", "worker-trace-0003")
    assert response.status_code == 200
    notice = Notice.objects.get(recipient="13912345603")

    def finished():
        return any(
            line.get("logger") == TASK_LOGGER and line.get("state") == "succeeded"
            for line in _json_lines(json_worker.read_text())
        )

    assert wait_for(finished), json_worker.read_text()
    assert Notice.objects.get(pk=notice.pk).status == Notice.Status.SENT
    runs = [
        line
        for line in _json_lines(json_worker.read_text())
        if line.get("logger") == TASK_LOGGER and line.get("task_name") == NOTICE_TASK
    ]
    assert [run["state"] for run in runs] == ["started", "succeeded"]
    assert {run["request_id"] for run in runs} == {"worker-trace-0003"}
    assert "13912345603" not in json_worker.read_text()


def _json_lines(text: str) -> list[dict]:
    """The worker's log lines (its start-up banner is printed, not logged)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]
