"""运行监控: the operations page in the admin and its JSON — who sees what (organisers all of
it, a secretary their delegation's part, finance the payments'), the series behind its charts
bucketed in Beijing time, and its watch lists."""

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django_otp import DEVICE_ID_SESSION_KEY

from ciie_portal.models import Notice
from ciie_portal.ops import series as ops_series
from ciie_portal.ops.figures import Scope
from ciie_portal.roles import SECURITY_REVIEWER
from credentials.models import ProductionJob
from payments.models import Method, Payment, PaymentNotification
from registration.models import Unit, Visitor
from tests.credentials.factories import CredentialOrderFactory
from tests.registration.factories import UnitFactory, UserFactory, VisitorFactory
from tests.test_csp import InlineCode

pytestmark = pytest.mark.django_db

BEIJING = ZoneInfo("Asia/Shanghai")
PAGE = "/admin/ops/"
DATA = "/admin/ops/data.json"


def _beijing(*args) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


def _data(client) -> dict:
    response = client.get(DATA)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    return json.loads(response.content)


def _hour_total(data: dict, name: str) -> float:
    return sum(data["charts"]["windows"]["hour"]["values"][name])


def _shown(html: str, attribute: str) -> set[str]:
    return set(re.findall(rf'{attribute}="([^"]+)"', html))


def _submitted_visitors(unit, count: int, when):
    visitors = [VisitorFactory(unit=unit) for _ in range(count)]
    Visitor.objects.filter(pk__in=[v.pk for v in visitors]).update(
        status=Visitor.Status.SUBMITTED, submitted_at=when
    )
    return visitors


@pytest.fixture
def two_delegations(edition, guangzhou, other_delegation):
    """Submissions a few minutes ago: two visitors and a unit in 广州 (广东's sub-delegation),
    three visitors and two units in 浙江."""
    recently = timezone.now() - timedelta(minutes=3)
    ours = UnitFactory(edition=edition, delegation=guangzhou)
    theirs = UnitFactory(edition=edition, delegation=other_delegation)
    other = UnitFactory(edition=edition, delegation=other_delegation)
    Unit.objects.filter(pk=ours.pk).update(submitted_at=recently)
    Unit.objects.filter(pk__in=[theirs.pk, other.pk]).update(submitted_at=recently)
    _submitted_visitors(ours, 2, recently)
    _submitted_visitors(theirs, 3, recently)
    return ours, theirs


@pytest.fixture
def waiting_notice(edition):
    notice = Notice.objects.create(
        key="ops-test-1",
        event="registration.submitted",
        channel=Notice.Channel.SMS,
        recipient="13912345678",
        template="unit_submitted",
        edition=edition,
    )
    Notice.objects.filter(pk=notice.pk).update(created_at=timezone.now() - timedelta(minutes=42))
    return notice


@pytest.fixture
def flagged_payment(edition, other_delegation):
    order = CredentialOrderFactory(unit=UnitFactory(edition=edition, delegation=other_delegation))
    return Payment.objects.create(
        order=order,
        method=Method.QR_ALIPAY,
        amount=Decimal("200.00"),
        received_amount=Decimal("150.00"),
        flagged=True,
        flag_reason="amount differs from the order's",
    )


# --- Who sees what --------------------------------------------------------------------------


def test_an_organiser_sees_every_figure_list_and_chart(
    client, organiser, two_delegations, waiting_notice, flagged_payment
):
    client.force_login(organiser)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    tiles = _shown(html, "data-figure")
    assert {"notices", "notice_oldest_waiting_seconds", "payments_flagged"} <= tiles
    assert _shown(html, "data-watch") >= {
        "oldest_waiting_notices",
        "flagged_payments",
        "stalled_production_jobs",
    }
    charts = _shown(html, "data-series")
    assert {"visitor_submissions", "notices_sent", "notice_backlog", "credentials_made"} <= charts
    # Each tile links to the admin list that acts on it.
    assert reverse("admin:ciie_portal_notice_changelist") + "?status__exact=queued" in html
    assert reverse("admin:payments_payment_changelist") + "?flagged__exact=1" in html
    # Every delegation's submissions.
    data = _data(client)
    assert _hour_total(data, "visitor_submissions") == 5
    assert _hour_total(data, "unit_submissions") == 3


@pytest.mark.parametrize("who", ["secretary", "group_secretary"])
def test_a_secretary_sees_their_delegations_part_only(client, who, request, two_delegations):
    """广州's secretary and 广东's (its trade delegation) see 广州's two visitors, not 浙江's
    three; nothing that cannot be cut down to a delegation (notices, the outbox, queues)."""
    client.force_login(request.getfixturevalue(who))
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "广东" in html or "广州" in html  # the page names whose figures these are
    tiles = _shown(html, "data-figure")
    assert "visitor_registrations_per_minute" in tiles
    assert not tiles & {"notices", "outbox_backlog", "celery_queue_length", "payments_flagged"}
    charts = _shown(html, "data-series")
    assert {"visitor_submissions", "unit_submissions", "units_created"} <= charts
    assert not charts & {"notices_queued", "notice_backlog", "accounts_created"}
    assert not _shown(html, "data-watch") & {"oldest_waiting_notices", "flagged_payments"}
    data = _data(client)
    assert _hour_total(data, "visitor_submissions") == 2
    assert _hour_total(data, "unit_submissions") == 1
    assert "notices_queued" not in data["charts"]["windows"]["hour"]["values"]


def test_the_other_delegations_secretary_sees_theirs(client, other_secretary, two_delegations):
    client.force_login(other_secretary)
    data = _data(client)
    assert _hour_total(data, "visitor_submissions") == 3
    assert _hour_total(data, "unit_submissions") == 2


def test_finance_sees_the_payments_part(client, finance, two_delegations, flagged_payment):
    client.force_login(finance)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    tiles = _shown(html, "data-figure")
    assert {"payments_flagged", "transfers_awaiting_finance", "refunds_open"} <= tiles
    assert not tiles & {"notices", "outbox_backlog", "visitor_registrations_per_minute"}
    charts = _shown(html, "data-series")
    assert {"payment_notifications_received", "payment_notifications_flagged"} <= charts
    assert not charts & {"visitor_submissions", "notices_sent"}
    assert _shown(html, "data-watch") == {"flagged_payments"}
    assert flagged_payment.order.number in html
    assert "visitor_submissions" not in _data(client)["charts"]["windows"]["day"]["values"]


@pytest.mark.parametrize("url", [PAGE, DATA])
def test_a_unit_contact_is_refused(client, contact, url):
    client.force_login(contact)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("url", [PAGE, DATA])
def test_anonymous_is_sent_to_sign_in(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:login')}?next={url}"


@pytest.mark.parametrize("url", [PAGE, DATA])
def test_staff_without_the_permission_are_refused(client, roles, url):
    reviewer = UserFactory(is_staff=True)
    reviewer.groups.add(Group.objects.get(name=SECURITY_REVIEWER))
    client.force_login(reviewer)
    assert client.get(url).status_code == 403


def test_staff_must_have_passed_the_second_factor(organiser, settings):
    client = Client()
    client.force_login(organiser)
    session = client.session
    del session[DEVICE_ID_SESSION_KEY]  # the password given, the second factor not yet
    session.save()
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:two_factor"))


@pytest.mark.parametrize(
    ("who", "linked"),
    [("organiser", True), ("secretary", True), ("finance", True), ("roles", False)],
)
def test_the_admin_home_links_to_it_for_those_who_may_see_it(client, who, linked, request):
    user = request.getfixturevalue(who) if who != "roles" else None
    if user is None:
        request.getfixturevalue("roles")
        user = UserFactory(is_staff=True)
        user.groups.add(Group.objects.get(name=SECURITY_REVIEWER))
    client.force_login(user)
    html = client.get(reverse("admin:index")).content.decode()
    assert (f'href="{reverse("ops:page")}"' in html) is linked


# --- The page ---------------------------------------------------------------------------------


def test_it_reads_in_chinese_and_english_in_beijing_time(client, organiser, edition):
    """Chinese first (the texts through the catalogue: the lead adds their Chinese), English
    with the language chosen; the update time in Beijing time."""
    client.force_login(organiser)
    chinese = client.get(PAGE).content.decode()
    assert '<html lang="zh-hans"' in chinese
    with translation.override("zh-hans"):
        texts = [gettext("Operations"), gettext("Pause auto-refresh"), gettext("Last day")]
    assert all(text in chinese for text in texts)
    client.cookies.load({settings.LANGUAGE_COOKIE_NAME: "en"})
    english = client.get(PAGE).content.decode()
    assert '<html lang="en"' in english
    assert "Operations" in english and "(Beijing time)" in english
    # The update time in Beijing time (UTC+8), with the machine-readable moment beside it.
    stamp = re.search(r'<time id="ops-updated-time" datetime="([^"]+)">([^<]+)</time>', english)
    moment = datetime.fromisoformat(stamp.group(1))
    assert stamp.group(2) == moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def test_the_page_carries_no_inline_script_or_style(client, organiser, two_delegations):
    client.force_login(organiser)
    response = client.get(PAGE)
    nonce = re.search(r"'nonce-([^']+)'", response.get("Content-Security-Policy", ""))
    parser = InlineCode(nonce.group(1) if nonce else None)
    parser.feed(response.content.decode())
    assert parser.found == []
    # The charts' numbers come as JSON data, and every section the JSON refreshes is there.
    html = response.content.decode()
    assert '<script id="ops-chart-data" type="application/json">' in html
    for section in _data(client)["sections"]:
        assert f'id="{section}"' in html


def test_each_chart_has_a_table_of_the_same_numbers(client, organiser, two_delegations):
    client.force_login(organiser)
    html = client.get(PAGE).content.decode()
    table = re.search(
        r'<div id="ops-table-visitor_submissions">(.*?)</div>', html, flags=re.S
    ).group(1)
    hour = re.search(r'<table class="ops-table" data-window="hour">(.*?)</table>', table, re.S)
    cells = re.findall(r'<td class="number">([^<]+)</td>', hour.group(1))
    assert len(cells) == 60
    assert sum(int(cell) for cell in cells) == 5
    assert 'data-window="day" hidden' in table


def test_the_json_follows_the_data(client, organiser, edition, guangzhou):
    client.force_login(organiser)
    before = _data(client)
    assert _hour_total(before, "visitor_submissions") == 0
    _submitted_visitors(UnitFactory(edition=edition, delegation=guangzhou), 4, timezone.now())
    after = _data(client)
    assert _hour_total(after, "visitor_submissions") == 4
    assert "ops-figures" in after["sections"] and "ops-watches" in after["sections"]


# --- Watch lists ----------------------------------------------------------------------------


def test_the_oldest_waiting_notice_is_shown_without_its_recipient(
    client, organiser, waiting_notice
):
    client.force_login(organiser)
    client.cookies.load({settings.LANGUAGE_COOKIE_NAME: "en"})
    html = client.get(PAGE).content.decode()
    watch = re.search(r'data-watch="oldest_waiting_notices">(.*?)</div>', html, re.S).group(1)
    assert reverse("admin:ciie_portal_notice_change", args=[waiting_notice.pk]) in watch
    assert "unit_submitted" in watch
    assert "42 min" in watch
    client.cookies.load({settings.LANGUAGE_COOKIE_NAME: "zh-hans"})
    html = client.get(PAGE).content.decode()
    assert "42 分" in html
    assert "13912345678" not in html


def test_a_job_without_progress_shows_as_stalled(client, organiser, edition):
    long_ago = timezone.now() - timedelta(minutes=20)
    stalled = ProductionJob.objects.create(
        edition=edition,
        status=ProductionJob.Status.RUNNING,
        started_at=long_ago,
        heartbeat_at=long_ago,
        total=100,
        done=40,
    )
    moving = ProductionJob.objects.create(
        edition=edition,
        status=ProductionJob.Status.RUNNING,
        started_at=long_ago,
        heartbeat_at=timezone.now(),
    )
    client.force_login(organiser)
    html = client.get(PAGE).content.decode()
    watch = re.search(r'data-watch="stalled_production_jobs">(.*?)</div>', html, re.S).group(1)
    assert reverse("admin:credentials_productionjob_change", args=[stalled.pk]) in watch
    assert reverse("admin:credentials_productionjob_change", args=[moving.pk]) not in watch
    assert "40" in watch and "100" in watch


# --- The series ------------------------------------------------------------------------------


def test_buckets_are_beijing_minutes_hours_and_days():
    now = _beijing(2027, 10, 16, 0, 0, 30)  # 16:00:30 UTC the day before
    since, until = ops_series.window(ops_series.HOUR, 24, now)
    assert since == _beijing(2027, 10, 15, 1) and until == _beijing(2027, 10, 16, 1)
    since, until = ops_series.window(ops_series.MINUTE, 60, now)
    assert since == _beijing(2027, 10, 15, 23, 1) and until == _beijing(2027, 10, 16, 0, 1)
    starts = ops_series.buckets(
        _beijing(2027, 10, 14, 7), _beijing(2027, 10, 16, 1), ops_series.DAY
    )
    assert starts == [_beijing(2027, 10, 14), _beijing(2027, 10, 15), _beijing(2027, 10, 16)]


def test_submissions_fall_into_their_beijing_buckets(edition, guangzhou, django_assert_num_queries):
    unit = UnitFactory(edition=edition, delegation=guangzhou)
    # 23:59:59 and 00:00:00 in Beijing: two days, though the same UTC date (15:59, 16:00).
    _submitted_visitors(unit, 2, _beijing(2027, 10, 15, 23, 59, 59))
    _submitted_visitors(unit, 1, _beijing(2027, 10, 16, 0, 0, 0))
    _submitted_visitors(unit, 1, _beijing(2027, 10, 16, 0, 59, 0))
    _submitted_visitors(unit, 1, _beijing(2027, 10, 16, 1, 0, 0))  # outside the window
    scope = Scope(edition.pk)
    compute = next(s for s in ops_series.series() if s.name == "visitor_submissions").compute

    with django_assert_num_queries(1):
        hours = compute(
            scope, _beijing(2027, 10, 15, 22), _beijing(2027, 10, 16, 1), ops_series.HOUR
        )
    assert hours == [
        (_beijing(2027, 10, 15, 22), 0.0),
        (_beijing(2027, 10, 15, 23), 2.0),
        (_beijing(2027, 10, 16, 0), 2.0),
    ]
    minutes = dict(
        compute(
            scope, _beijing(2027, 10, 15, 23, 58), _beijing(2027, 10, 16, 0, 1), ops_series.MINUTE
        )
    )
    assert list(minutes.values()) == [0.0, 2.0, 1.0]
    assert list(minutes) == [
        _beijing(2027, 10, 15, 23, 58),
        _beijing(2027, 10, 15, 23, 59),
        _beijing(2027, 10, 16, 0, 0),
    ]
    days = compute(scope, _beijing(2027, 10, 15), _beijing(2027, 10, 17), ops_series.DAY)
    assert days == [(_beijing(2027, 10, 15), 2.0), (_beijing(2027, 10, 16), 3.0)]


def test_a_scoped_series_counts_the_delegation_and_its_sub_delegations(
    edition, guangdong, guangzhou, other_delegation
):
    when = _beijing(2027, 10, 15, 10, 30)
    _submitted_visitors(UnitFactory(edition=edition, delegation=guangdong), 1, when)
    _submitted_visitors(UnitFactory(edition=edition, delegation=guangzhou), 2, when)
    _submitted_visitors(UnitFactory(edition=edition, delegation=other_delegation), 4, when)
    compute = next(s for s in ops_series.series() if s.name == "visitor_submissions").compute
    window = (_beijing(2027, 10, 15, 10), _beijing(2027, 10, 15, 11), ops_series.HOUR)

    def total(delegation):
        return sum(v for _t, v in compute(Scope(edition.pk, delegation), *window))

    assert total(None) == 7
    assert total(guangdong.pk) == 3  # with 广州
    assert total(guangzhou.pk) == 2
    assert total(other_delegation.pk) == 4


def _notice(edition, n, created, sent=None, status=Notice.Status.SENT):
    notice = Notice.objects.create(
        key=f"backlog-{n}",
        event="test",
        channel=Notice.Channel.EMAIL,
        recipient="a@example.com",
        template="t",
        edition=edition,
    )
    Notice.objects.filter(pk=notice.pk).update(created_at=created, sent_at=sent, status=status)


def test_notices_queued_sent_and_the_backlog_over_time(edition):
    """Three notices queued at 10:00–10:02 yesterday (Beijing), two sent at 10:03, one still
    waiting; one failed for good at 10:01 (left out of the backlog, which is worked back from
    now)."""
    yesterday = ops_series.floor(timezone.now(), ops_series.DAY) - ops_series.DAY
    t = yesterday + timedelta(hours=10)
    minute = ops_series.MINUTE
    _notice(edition, 1, t, sent=t + 3 * minute)
    _notice(edition, 2, t + minute, sent=t + 3 * minute)
    _notice(edition, 3, t + 2 * minute, status=Notice.Status.QUEUED)
    _notice(edition, 4, t + minute, status=Notice.Status.FAILED)
    scope = Scope(edition.pk)
    window = (t - minute, t + 5 * minute, minute)
    by_name = {s.name: s.compute for s in ops_series.series()}
    assert [v for _t, v in by_name["notices_queued"](scope, *window)] == [0, 1, 2, 1, 0, 0]
    assert [v for _t, v in by_name["notices_sent"](scope, *window)] == [0, 0, 0, 0, 2, 0]
    # Waiting at the end of 09:59, 10:00, 10:01, 10:02, 10:03, 10:04.
    assert [v for _t, v in by_name["notice_backlog"](scope, *window)] == [0, 1, 2, 3, 1, 1]


def test_a_failing_series_is_left_out_and_the_others_shown(edition, caplog):
    def broken(scope, since, until, step):
        raise RuntimeError("boom")

    ops_series.register_series(ops_series.Series(name="broken_test", label="x", compute=broken))
    try:
        since, until = ops_series.window(ops_series.MINUTE, 60)
        values = ops_series.compute(Scope(edition.pk), since, until, ops_series.MINUTE)
    finally:
        ops_series._registry.pop("broken_test")
    assert "broken_test" not in values and "visitor_submissions" in values
    assert "broken_test could not be computed" in caplog.text


def test_payment_notifications_received_and_flagged(edition, flagged_payment):
    when = _beijing(2027, 10, 15, 9, 30)
    for n, result in enumerate(["confirmed", "flagged", "flagged"]):
        notification = PaymentNotification.objects.create(
            provider="sandbox",
            provider_transaction_id=f"t{n}",
            payment=flagged_payment,
            body={},
            signature_valid=True,
            result=result,
        )
        PaymentNotification.objects.filter(pk=notification.pk).update(received_at=when)
    by_name = {s.name: s.compute for s in ops_series.series()}
    window = (_beijing(2027, 10, 15, 9), _beijing(2027, 10, 15, 10), ops_series.HOUR)
    scope = Scope(edition.pk)
    assert by_name["payment_notifications_received"](scope, *window) == [(window[0], 3.0)]
    assert by_name["payment_notifications_flagged"](scope, *window) == [(window[0], 2.0)]


def test_without_a_current_edition_the_page_still_opens(client, organiser):
    client.force_login(organiser)
    response = client.get(PAGE)
    assert response.status_code == 200
    with translation.override("zh-hans"):
        note = gettext("No edition is current: an organiser marks one as current.")
    assert note in response.content.decode()
    assert _hour_total(_data(client), "visitor_submissions") == 0
