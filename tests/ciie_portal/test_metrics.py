"""/metrics: who may read it, what requests and tasks add to it, the figures it serves.

The test process keeps its metrics in one registry (no PROMETHEUS_MULTIPROC_DIR): counters only
grow across tests, so each test compares a scrape before and after what it does.
"""

from datetime import timedelta

import pytest
from django.http import HttpResponse
from django.test.client import ClientMixin
from django.urls import path
from django.utils import timezone

from ciie_portal import metrics
from ciie_portal.models import Notice
from ciie_portal.notices.services import notice_deliver, notice_send
from ciie_portal.ops import figures as registry
from ciie_portal.ops.figures import Figure, Sample
from ciie_portal.tasks import notice_deliver_task
from tests.scrape import parse, scrape, value

PUBLIC = "203.0.113.9"


# --- Who may read it ---------------------------------------------------------------------------


def test_the_public_gets_a_404(client, db):
    response = client.get("/metrics", REMOTE_ADDR=PUBLIC)
    assert response.status_code == 404
    assert b"ciie_" not in response.content


def test_an_allowed_address_reads_the_metrics(client, db):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    scraped = parse(response.content.decode())
    assert ("ciie_notices", (("channel", "sms"), ("state", "queued"))) in scraped


def test_ipv6_loopback_is_allowed_by_default(client, db):
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_the_token_opens_it_from_anywhere_and_a_wrong_one_does_not(client, db, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    good = client.get("/metrics", REMOTE_ADDR=PUBLIC, HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert good.status_code == 200
    for header in ("Bearer wrong", "Basic s3cret-token", "s3cret-token", "Bearer "):
        response = client.get("/metrics", REMOTE_ADDR=PUBLIC, HTTP_AUTHORIZATION=header)
        assert response.status_code == 404, header


def test_no_token_configured_means_no_token_opens_it(client, db, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR=PUBLIC, HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404


def test_a_request_through_a_proxy_needs_the_token(client, db, settings):
    """A proxy on the same host makes every visitor's REMOTE_ADDR 127.0.0.1; what it forwards
    carries X-Forwarded-For, and a client's own header says nothing about where it is."""
    settings.METRICS_TOKEN = "s3cret-token"
    for header in ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP"):
        proxied = {"REMOTE_ADDR": "127.0.0.1", header: "127.0.0.1"}
        assert client.get("/metrics", **proxied).status_code == 404, header
        authorised = client.get("/metrics", **proxied, HTTP_AUTHORIZATION="Bearer s3cret-token")
        assert authorised.status_code == 200


def test_the_allowed_networks_come_from_the_settings(client, db, settings):
    settings.METRICS_ALLOWED_IPS = ("10.0.0.0/8", "fd00::/8")
    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="fd00::5").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="11.0.0.1").status_code == 404


def test_only_get_is_served(client, db):
    assert client.post("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 405


def test_a_staff_user_who_gave_only_the_password_is_not_sent_to_the_second_factor(
    client, organiser
):
    """Like /healthz, the machines' endpoints are outside the second-factor wall."""
    ClientMixin.force_login(client, organiser)  # the password only: no second factor
    assert client.get("/admin/", REMOTE_ADDR="127.0.0.1").status_code == 302
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)


# --- Requests -----------------------------------------------------------------------------------


def test_requests_are_counted_by_view_name_not_path(client, db):
    before = scrape(client)
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no/such/page/12345/")
    after = scrape(client)

    labels = {"view": "healthz", "method": "GET", "status": "200"}
    assert value(after, "ciie_http_requests_total", **labels) - value(
        before, "ciie_http_requests_total", **labels
    ) == pytest.approx(2)
    unresolved = {"view": "<unresolved>", "method": "GET", "status": "404"}
    assert value(after, "ciie_http_requests_total", **unresolved) - value(
        before, "ciie_http_requests_total", **unresolved
    ) == pytest.approx(1)
    # Latency: two more observations for the view, and never a path as a label.
    count = "ciie_http_request_duration_seconds_count"
    assert value(after, count, view="healthz") - value(before, count, view="healthz") == 2
    assert not any("/no/such" in str(key) for key in after)
    # /healthz asks the database one SELECT 1.
    queries = "ciie_http_db_queries_total"
    assert value(after, queries, view="healthz") - value(before, queries, view="healthz") == 2


def test_the_database_queries_of_a_page_are_counted(client, contact):
    before = scrape(client)
    client.force_login(contact)
    response = client.get("/accounts/")
    after = scrape(client)
    view = response.resolver_match.view_name
    queries = "ciie_http_db_queries_total"
    assert value(after, queries, view=view) - value(before, queries, view=view) >= 1


def _boom(request):
    raise RuntimeError("kaboom")


def _ok(request, number):
    return HttpResponse("ok")


urlpatterns = [
    path("boom/", _boom, name="boom"),
    path("ok/<int:number>/", _ok, name="ok"),
    path("metrics", __import__("ciie_portal.views_ops").views_ops.metrics_view),
]


def test_errors_are_counted_by_view_with_the_exception(client, db, settings):
    settings.ROOT_URLCONF = __name__
    client.raise_request_exception = False
    before = scrape(client)
    assert client.get("/boom/").status_code == 500
    assert client.get("/ok/1/").status_code == 200
    assert client.get("/ok/2/").status_code == 200
    after = scrape(client)

    errors = {"view": "boom", "method": "GET", "status": "500"}
    total = "ciie_http_requests_total"
    assert value(after, total, **errors) - value(before, total, **errors) == 1
    raised = {"view": "boom", "exception": "RuntimeError"}
    exceptions = "ciie_http_exceptions_total"
    assert value(after, exceptions, **raised) - value(before, exceptions, **raised) == 1
    ok = {"view": "ok", "method": "GET", "status": "200"}
    assert value(after, total, **ok) - value(before, total, **ok) == 2


# --- Notices and tasks ----------------------------------------------------------------------


def _send_code(key="metrics:1"):
    return notice_send(
        key=key,
        event="verification_code",
        channel=Notice.Channel.SMS,
        recipient="13912345678",
        template="verification_code",
        params={"code": "123456"},
        language="en",
    )


def test_a_notice_queued_then_sent_moves_the_figures_and_the_latency(
    client, edition, django_capture_on_commit_callbacks
):
    before = scrape(client)
    with django_capture_on_commit_callbacks(execute=False):
        notice = _send_code()  # queued; its task is not run
    Notice.objects.filter(pk=notice.pk).update(created_at=timezone.now() - timedelta(seconds=90))

    queued = scrape(client)
    assert value(queued, "ciie_notices", channel="sms", state="queued") == 1
    assert value(queued, "ciie_notice_oldest_waiting_seconds") >= 90
    delivered = "ciie_notice_delivery_seconds_count"
    assert value(queued, delivered, channel="sms") == value(before, delivered, channel="sms")

    notice_deliver(notice_id=notice.pk)
    sent = scrape(client)
    assert Notice.objects.get(pk=notice.pk).status == Notice.Status.SENT
    assert value(sent, "ciie_notices", channel="sms", state="queued") == 0
    assert value(sent, "ciie_notice_oldest_waiting_seconds") == 0
    assert value(sent, delivered, channel="sms") - value(before, delivered, channel="sms") == 1
    latency = value(sent, "ciie_notice_delivery_seconds_sum", channel="sms") - value(
        before, "ciie_notice_delivery_seconds_sum", channel="sms"
    )
    assert 90 <= latency < 120
    # Observed in the 120-second bucket, not the 60-second one.
    bucket = "ciie_notice_delivery_seconds_bucket"
    assert value(sent, bucket, channel="sms", le="60.0") == value(
        before, bucket, channel="sms", le="60.0"
    )


def test_tasks_are_counted_by_name_and_state(client, edition, django_capture_on_commit_callbacks):
    name = "ciie_portal.tasks.notice_deliver"
    with django_capture_on_commit_callbacks(execute=False):
        notice = _send_code("metrics:task")
    before = scrape(client)
    notice_deliver_task.apply(kwargs={"notice_id": notice.pk})  # as a worker runs it
    after = scrape(client)
    assert Notice.objects.get(pk=notice.pk).status == Notice.Status.SENT
    total = "ciie_celery_tasks_total"
    success = {"task": name, "state": "success"}
    assert value(after, total, **success) - value(before, total, **success) == 1
    duration = "ciie_celery_task_duration_seconds_count"
    assert value(after, duration, task=name) - value(before, duration, task=name) == 1


def test_a_task_killed_by_its_hard_limit_is_counted_once():
    from billiard.exceptions import TimeLimitExceeded

    class Task:
        name = "credentials.tasks.production_job_run"

    labels = {"task": Task.name, "state": "time_limit"}
    before = metrics.CELERY_TASKS.labels(**labels)._value.get()
    metrics.task_killed(sender=Task(), task_id="x", exception=TimeLimitExceeded(600))
    metrics.task_killed(sender=Task(), task_id="y", exception=ValueError("counted at postrun"))
    assert metrics.CELERY_TASKS.labels(**labels)._value.get() - before == 1


# --- Figures ---------------------------------------------------------------------------------


def test_a_failing_figure_is_reported_down_and_the_others_still_served(client, db, monkeypatch):
    def broken(scope):
        raise RuntimeError("no")

    monkeypatch.setitem(
        registry._registry,
        "broken_for_test",
        Figure(name="broken_for_test", label="Broken", help="Broken.", compute=broken),
    )
    monkeypatch.setitem(
        registry._registry,
        "answer_for_test",
        Figure(
            name="answer_for_test",
            label="Answer",
            help="Answer.",
            compute=lambda scope: [Sample({"kind": "a"}, 42), Sample({}, 1)],
        ),
    )
    scraped = scrape(client)
    assert value(scraped, "ciie_figure_up", figure="broken_for_test") == 0
    assert value(scraped, "ciie_figure_up", figure="notices") == 1
    assert value(scraped, "ciie_answer_for_test", kind="a") == 42
    # A sample without the family's label gets it empty.
    assert value(scraped, "ciie_answer_for_test", kind="") == 1
    assert not any(key[0] == "ciie_broken_for_test" for key in scraped)


def test_every_registered_figure_is_served(client, edition):
    scraped = scrape(client)
    served = {name for name, _labels in scraped}
    for figure in registry.figures():
        assert value(scraped, "ciie_figure_up", figure=figure.name) == 1, figure.name
    expected = {
        "ciie_notices",
        "ciie_notice_oldest_waiting_seconds",
        "ciie_outbox_backlog",
        "ciie_payments_flagged",
        "ciie_payment_notifications_last_hour",
        "ciie_transfers_awaiting_finance",
        "ciie_refunds_open",
        "ciie_production_jobs",
        "ciie_production_cards_per_second",
        "ciie_visitor_registrations_per_minute",
        "ciie_submissions_per_minute",
    }
    assert expected <= served
