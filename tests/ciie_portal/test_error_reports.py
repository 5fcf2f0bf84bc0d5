"""Error reports (Sentry): off unless SENTRY_DSN is set; what would be sent is scrubbed of
personal data — checked on event dicts as the SDK hands them to ``before_send``, and end to end in
a separate process whose SDK sends to a transport that keeps the events (no network)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sentry_sdk
import structlog

from ciie_portal.error_reports import scrub_breadcrumb, scrub_event

ROOT = Path(__file__).resolve().parents[2]
ID_NUMBER = "440106198503150417"
MOBILE = "13912345678"


def django_event() -> dict:
    """An event as the Django integration builds it for a failed POST (send_default_pii off
    still sends the body, cookies and most headers)."""
    return {
        "level": "error",
        "message": f"Visitor {ID_NUMBER} could not be saved",
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": f"duplicate id_number={ID_NUMBER} for mobile {MOBILE}",
                    "stacktrace": {
                        "frames": [
                            {
                                "function": "visitor_add",
                                "vars": {"raw": f"'{ID_NUMBER}'", "value": "'hunter2'"},
                            }
                        ]
                    },
                }
            ]
        },
        "request": {
            "url": f"https://visitors.example.com/accounts/visitors/?q={ID_NUMBER}&page=2",
            "method": "POST",
            "query_string": f"q={ID_NUMBER}&page=2",
            "data": {"id_number": ID_NUMBER, "mobile": MOBILE, "password": "hunter2"},
            "cookies": {"sessionid": "abc", "csrftoken": "def"},
            "headers": {
                "Authorization": "Bearer secret-token",
                "Cookie": "sessionid=abc",
                "X-Csrftoken": "def",
                "User-Agent": "Mozilla/5.0",
                "X-Request-Id": "edge-7f3a9c1e",
            },
            "env": {"SERVER_NAME": "web-1"},
        },
        "user": {"id": "7", "username": "91310000MA0098765X", "email": "li@example.com"},
        "extra": {"contact_mobile": MOBILE, "note": f"called {MOBILE}"},
        "breadcrumbs": {
            "values": [
                {"category": "query", "message": f"SELECT … WHERE mobile = '{MOBILE}'"},
                {
                    "category": "httplib",
                    "data": {"url": f"https://sms.example.com/send?phone={MOBILE}&sign=x"},
                },
                {"category": "log", "message": "request", "data": {"password": "hunter2"}},
            ]
        },
    }


def test_the_event_leaves_without_body_cookies_credentials_or_personal_numbers():
    event = scrub_event(django_event(), {})
    sent = json.dumps(event, ensure_ascii=False)
    for secret in (ID_NUMBER, MOBILE, "hunter2", "secret-token", "sessionid=abc", "li@example.com"):
        assert secret not in sent, secret

    request = event["request"]
    assert "data" not in request and "cookies" not in request
    assert set(request["headers"]) == {"User-Agent", "X-Request-Id"}
    assert request["url"] == "https://visitors.example.com/accounts/visitors/?q=&page="
    assert request["query_string"] == "q=&page="
    assert event["user"] == {"id": "7"}
    [value] = event["exception"]["values"]
    assert value["value"] == "duplicate id_number=[redacted] for mobile [mobile]"
    assert "vars" not in value["stacktrace"]["frames"][0]
    assert value["stacktrace"]["frames"][0]["function"] == "visitor_add"
    assert event["extra"] == {"contact_mobile": "[redacted]", "note": "called [mobile]"}
    query, http, log = event["breadcrumbs"]["values"]
    assert query["message"] == "SELECT … WHERE mobile = '[redacted]'"
    assert http["data"]["url"] == "https://sms.example.com/send?phone=&sign="
    assert log["data"] == {"password": "[redacted]"}


def test_the_event_is_tagged_with_the_request_and_user_of_the_logs():
    with structlog.contextvars.bound_contextvars(
        request_id="edge-7f3a9c1e", user_id=7, role="secretary"
    ):
        event = scrub_event({"level": "error", "message": "boom"}, {})
    assert event["tags"] == {"request_id": "edge-7f3a9c1e", "role": "secretary"}
    assert event["user"] == {"id": "7"}
    # Outside a request (a task, beat): no user, the task's names.
    with structlog.contextvars.bound_contextvars(task_name="t", task_id="abc"):
        event = scrub_event({"level": "error", "user": {"username": "x"}}, {})
    assert "user" not in event
    assert event["tags"] == {"task_name": "t", "task_id": "abc"}


def test_a_breadcrumb_is_redacted_on_its_own():
    crumb = scrub_breadcrumb({"message": f"SMS to {MOBILE}", "data": {"id_number": ID_NUMBER}})
    assert crumb == {"message": "SMS to [mobile]", "data": {"id_number": "[redacted]"}}


def test_reporting_is_off_without_a_dsn(settings):
    if os.environ.get("SENTRY_DSN"):
        pytest.skip("this machine reports to Sentry")
    assert settings.SENTRY_DSN == ""
    assert not sentry_sdk.get_client().is_active()


# What a process with SENTRY_DSN set sends when a view fails, called as gunicorn calls it (the WSGI
# application): its SDK's transport keeps the envelopes instead of sending them.
PROBE = r"""
import io, json, logging
import django
django.setup()
import sentry_sdk
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.test import override_settings
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from sentry_sdk.transport import Transport

from ciie_portal.error_reports import sentry_init

kept = []

class Keep(Transport):
    def capture_envelope(self, envelope):
        for item in envelope.items:
            if item.type == "event":
                kept.append(item.payload.json)

# As settings started it: the SDK on, with the Django and Celery integrations, no PII.
client = sentry_sdk.get_client()
assert client.is_active()
assert client.options["send_default_pii"] is False
assert (client.options["environment"], client.options["release"]) == ("staging", "ciie@1.2.3")
names = {type(integration).__name__ for integration in client.integrations.values()}
assert {"DjangoIntegration", "CeleryIntegration"} <= names, names
# The same, sending to a transport that keeps the events.
sentry_init(dsn=settings.SENTRY_DSN, environment="staging", release="ciie@1.2.3", transport=Keep)

@csrf_exempt
def boom(request):
    logging.getLogger("probe").info("looking up 440106198503150417 for 13912345678")
    raise ValueError("no visitor 440106198503150417, mobile 13912345678")

urlpatterns = [path("boom/", boom)]
body = b"id_number=440106198503150417&password=hunter2"
environ = {
    "REQUEST_METHOD": "POST", "PATH_INFO": "/boom/", "QUERY_STRING": "q=440106198503150417",
    "SERVER_NAME": "localhost", "SERVER_PORT": "80", "HTTP_HOST": "localhost",
    "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": io.StringIO(),
    "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
    "HTTP_AUTHORIZATION": "Bearer secret-token", "HTTP_X_REQUEST_ID": "probe-request-0001",
    "HTTP_COOKIE": "tracking=abc; csrftoken=def", "REMOTE_ADDR": "203.0.113.9",
}
statuses = []
with override_settings(ROOT_URLCONF=__name__):
    b"".join(get_wsgi_application()(environ, lambda status, headers: statuses.append(status)))
sentry_sdk.flush()
print(json.dumps({"status": statuses[0], "events": kept}))
"""


def test_a_deployment_with_a_dsn_reports_a_failing_view_scrubbed(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="ciie_portal.settings",
        CIIE_VAR_DIR=str(tmp_path),
        SENTRY_DSN="https://public@127.0.0.1:9/1",
        SENTRY_ENVIRONMENT="staging",
        SENTRY_RELEASE="ciie@1.2.3",
        LOG_FORMAT="json",
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome["status"].startswith("500")
    [event] = outcome["events"]
    sent = json.dumps(event, ensure_ascii=False)
    for secret in ("440106198503150417", "13912345678", "hunter2", "secret-token", "tracking=abc"):
        assert secret not in sent, secret
    assert event["tags"]["request_id"] == "probe-request-0001"
    assert event["environment"] == "staging" and event["release"] == "ciie@1.2.3"
    request = event["request"]
    assert request["url"] == "http://localhost/boom/"
    assert request["query_string"] == "q="
    assert "data" not in request and "cookies" not in request
    assert {"Authorization", "Cookie"}.isdisjoint(request["headers"])
    assert request["headers"]["X-Request-Id"] == "probe-request-0001"
    [value] = event["exception"]["values"]
    assert value["value"] == "no visitor [id_number], mobile [mobile]"
    assert any(
        crumb.get("message") == "looking up [id_number] for [mobile]"
        for crumb in event["breadcrumbs"]["values"]
    )
    # The process logged the same failure as JSON lines, with the same request id.
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    logged = {line["logger"]: line for line in lines}
    for name in ("probe", "django.request", "ciie_portal.request_log"):
        assert logged[name]["request_id"] == "probe-request-0001"
    assert "440106198503150417" not in result.stderr
