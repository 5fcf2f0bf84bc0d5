"""定期导出: secretaries and finance subscribe to their own lists by email (.xlsx), built at send
time with the subscriber's own permissions and scope, each once per period; one link stops it."""

import email
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.core import mail as outbox
from django.core import signing
from django.test import Client
from django.utils import timezone, translation
from django.utils.translation import gettext
from openpyxl import load_workbook

from ciie_portal.models import AuditEntry
from ciie_portal.roles import SECRETARY
from delegations.models import Secretary
from registration.exports import (
    UNSUBSCRIBE_SALT,
    XLSX,
    export_subscriptions_due,
    unsubscribe_token,
)
from registration.models import ExportSubscription, Visitor
from registration.tasks import export_subscriptions_due_task
from tests.registration.factories import UnitFactory, VisitorFactory

PAGE = "/staff/exports/"
BEIJING = ZoneInfo("Asia/Shanghai")
# A Wednesday.
MORNING = datetime(2027, 3, 3, 7, 5, tzinfo=BEIJING)


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def frozen(monkeypatch):
    """Time stands still at what the test sets (``frozen(moment)``)."""

    def freeze(moment):
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return freeze


@pytest.fixture
def with_email(secretary, finance):
    for user in (secretary, finance):
        user.email = f"{user.username}@example.com"
        user.save(update_fields=["email"])


def subscribe(client, key, frequency="daily", weekday=""):
    return client.post(
        PAGE, {"action": "subscribe", "export": key, "frequency": frequency, "weekday": weekday}
    )


def run_beat(django_capture_on_commit_callbacks):
    """The hourly beat task, with the sends it queues run as the outbox runs them."""
    with django_capture_on_commit_callbacks(execute=True):
        return export_subscriptions_due_task()


def sheet_of(message):
    [(name, data, mimetype)] = message.attachments
    assert name.endswith(".xlsx") and mimetype == XLSX
    workbook = load_workbook(io.BytesIO(data))
    return workbook.worksheets[0]


def values(sheet):
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def subscribed(**fields):
    """A subscription as the page makes it, by a subscriber who reads English."""
    return ExportSubscription.objects.create(**{"language": "en", **fields})


def pending_lock(unit, **changes):
    return VisitorFactory(unit=unit, status=Visitor.Status.PENDING_LOCK, **changes)


# --- Subscribing ---------------------------------------------------------------------------


def test_a_secretary_subscribes_to_the_lists_of_a_secretary(client, secretary, with_email):
    client.force_login(secretary)
    page = client.get(PAGE)
    assert page.status_code == 200
    offered = set(re.findall(r'name="export" value="([a-z_]+)"', page.content.decode()))
    assert offered == {"visitors_awaiting_lock", "delegation_overview"}

    response = subscribe(client, "visitors_awaiting_lock", "weekly", "4")
    assert response.status_code == 302
    subscription = ExportSubscription.objects.get(user=secretary)
    assert (subscription.export_key, subscription.frequency, subscription.weekday) == (
        "visitors_awaiting_lock",
        "weekly",
        4,
    )
    assert subscription.active and subscription.base_url == "http://testserver/"
    assert AuditEntry.objects.filter(action="export.subscribe", object_id=subscription.pk).exists()


def test_a_weekly_export_needs_its_weekday(client, secretary):
    client.force_login(secretary)
    subscribe(client, "visitors_awaiting_lock", "weekly", "")
    assert not ExportSubscription.objects.exists()


def test_each_export_needs_its_permission(client, secretary, finance):
    client.force_login(secretary)
    assert subscribe(client, "transfers_to_confirm").status_code == 403
    assert subscribe(client, "refunds_to_approve").status_code == 403
    finance_client = Client()
    finance_client.force_login(finance)
    page = finance_client.get(PAGE).content.decode()
    offered = set(re.findall(r'name="export" value="([a-z_]+)"', page))
    assert offered == {"transfers_to_confirm", "refunds_to_approve"}
    assert subscribe(finance_client, "visitors_awaiting_lock").status_code == 403
    assert subscribe(finance_client, "delegation_overview").status_code == 403
    assert subscribe(finance_client, "transfers_to_confirm").status_code == 302
    assert not ExportSubscription.objects.filter(user=secretary).exists()
    assert ExportSubscription.objects.get(user=finance).export_key == "transfers_to_confirm"


def test_anonymous_and_unit_contacts_are_sent_to_the_staff_sign_in(client, contact):
    assert client.get(PAGE).status_code == 302
    assert subscribe(client, "visitors_awaiting_lock").status_code == 302
    client.force_login(contact)
    response = subscribe(client, "visitors_awaiting_lock")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not ExportSubscription.objects.exists()


def test_a_subscriber_stops_only_their_own_subscription(client, secretary, other_secretary):
    client.force_login(other_secretary)
    subscribe(client, "visitors_awaiting_lock")
    theirs = ExportSubscription.objects.get(user=other_secretary)
    client.force_login(secretary)
    subscribe(client, "visitors_awaiting_lock")
    mine = ExportSubscription.objects.get(user=secretary)

    response = client.post(PAGE, {"action": "unsubscribe", "subscription": theirs.pk})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.active

    client.post(PAGE, {"action": "unsubscribe", "subscription": mine.pk})
    mine.refresh_from_db()
    assert not mine.active and mine.inactive_reason == "unsubscribed"


# --- The unsubscribe link ------------------------------------------------------------------


def test_the_link_asks_first_and_stops_on_post_without_signing_in(client, secretary):
    subscription = subscribed(
        user=secretary, export_key="visitors_awaiting_lock", frequency="daily"
    )
    url = f"{PAGE}unsubscribe/{unsubscribe_token(subscription)}/"
    page = client.get(url)
    assert page.status_code == 200 and b"unsubscribe-confirm" in page.content
    subscription.refresh_from_db()
    assert subscription.active  # a link scanner's GET stops nothing

    done = client.post(url)
    assert done.status_code == 200 and b"unsubscribe-done" in done.content
    subscription.refresh_from_db()
    assert not subscription.active
    entry = AuditEntry.objects.get(action="export.unsubscribe", object_id=subscription.pk)
    assert entry.reason == "unsubscribe link"


def test_a_tampered_or_foreign_token_stops_nothing(client, secretary, other_secretary):
    mine = subscribed(user=secretary, export_key="visitors_awaiting_lock", frequency="daily")
    theirs = subscribed(
        user=other_secretary, export_key="visitors_awaiting_lock", frequency="daily"
    )
    token = unsubscribe_token(mine)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    # Signed right, but naming another subscription with this one's secret.
    forged = signing.dumps([theirs.pk, mine.token], salt=UNSUBSCRIBE_SALT)
    # Another salt (another kind of link of the portal).
    other_salt = signing.dumps([theirs.pk, theirs.token])
    for bad in (tampered, forged, other_salt, "nonsense"):
        response = client.post(f"{PAGE}unsubscribe/{bad}/")
        assert response.status_code == 404
        assert b"unsubscribe-invalid" in response.content
    assert ExportSubscription.objects.filter(active=True).count() == 2


def test_an_old_link_cannot_stop_a_renewed_subscription(client, secretary):
    client.force_login(secretary)
    subscribe(client, "visitors_awaiting_lock")
    subscription = ExportSubscription.objects.get(user=secretary)
    old = unsubscribe_token(subscription)
    Client().post(f"{PAGE}unsubscribe/{old}/")
    subscribe(client, "visitors_awaiting_lock")
    assert Client().post(f"{PAGE}unsubscribe/{old}/").status_code == 404
    subscription.refresh_from_db()
    assert subscription.active


# --- Sending -------------------------------------------------------------------------------


def test_the_export_follows_the_secretarys_delegation_when_it_changes(
    secretary, with_email, unit, other_unit, frozen, django_capture_on_commit_callbacks
):
    """The issue's test: the list is built at send time with the scope of then."""
    ours = pending_lock(unit, name="广州访客")
    theirs = pending_lock(other_unit, name="浙江访客")
    VisitorFactory(unit=unit, status=Visitor.Status.SUBMITTED, name="未提交锁定")
    subscribed(user=secretary, export_key="visitors_awaiting_lock", frequency="daily")
    frozen(MORNING)
    run_beat(django_capture_on_commit_callbacks)
    [first] = outbox.outbox
    assert first.to == [secretary.email]
    rows = values(sheet_of(first))
    assert rows[0][:2] == ["reference number", "full name"]
    assert [row[1] for row in rows[1:]] == [ours.name]
    # ID numbers masked as in the lists.
    assert rows[1][5] == ours.id_number_masked and rows[1][5] != ours.id_number

    Secretary.objects.filter(user=secretary).update(delegation=other_unit.delegation)
    frozen(MORNING.replace(day=4))
    run_beat(django_capture_on_commit_callbacks)
    second = outbox.outbox[1]
    assert [row[1] for row in values(sheet_of(second))[1:]] == [theirs.name]


def test_the_export_is_in_the_language_of_the_subscriber(
    client, secretary, with_email, unit, frozen, django_capture_on_commit_callbacks
):
    pending_lock(unit)
    client.force_login(secretary)  # the staff pages are Chinese by default
    subscribe(client, "visitors_awaiting_lock")
    assert ExportSubscription.objects.get(user=secretary).language == "zh-hans"
    frozen(MORNING)
    run_beat(django_capture_on_commit_callbacks)
    with translation.override("zh-hans"):
        titles = [gettext("reference number"), gettext("full name")]
    assert values(sheet_of(outbox.outbox[0]))[0][:2] == titles


def test_cells_that_would_be_formulas_are_escaped(
    secretary, with_email, edition, guangzhou, frozen, django_capture_on_commit_callbacks
):
    unit = UnitFactory(edition=edition, delegation=guangzhou, name="@SUM(1+1)")
    names = ['=HYPERLINK("http://evil.example","x")', "+86 139", "-5+3"]
    for name in names:
        pending_lock(unit, name=name)
    subscribed(user=secretary, export_key="visitors_awaiting_lock", frequency="daily")
    frozen(MORNING)
    run_beat(django_capture_on_commit_callbacks)
    sheet = sheet_of(outbox.outbox[0])
    cells = list(sheet.iter_rows(min_row=2))
    assert sorted(row[1].value for row in cells) == sorted("'" + name for name in names)
    assert {row[2].value for row in cells} == {"'@SUM(1+1)"}
    assert all(row[1].data_type == "s" for row in cells)


def test_sent_once_per_period_however_often_the_task_runs(
    secretary, with_email, unit, frozen, django_capture_on_commit_callbacks
):
    pending_lock(unit)
    daily = subscribed(user=secretary, export_key="visitors_awaiting_lock", frequency="daily")
    subscribed(user=secretary, export_key="delegation_overview", frequency="weekly", weekday=4)
    frozen(MORNING.replace(hour=6, minute=5))
    run_beat(django_capture_on_commit_callbacks)
    assert outbox.outbox == []  # before 07:00 Beijing time

    frozen(MORNING)
    run_beat(django_capture_on_commit_callbacks)
    run_beat(django_capture_on_commit_callbacks)
    frozen(MORNING.replace(hour=8))
    run_beat(django_capture_on_commit_callbacks)
    assert len(outbox.outbox) == 1  # Wednesday: the daily one only, once
    daily.refresh_from_db()
    assert daily.last_period == MORNING.date() and daily.last_sent_at == MORNING.replace(hour=7)

    frozen(MORNING.replace(day=5))  # Friday: the daily one and the weekly one
    run_beat(django_capture_on_commit_callbacks)
    run_beat(django_capture_on_commit_callbacks)
    assert len(outbox.outbox) == 3
    overview = sheet_of(outbox.outbox[-1])
    assert values(overview)[0][0] == "Label"


def test_a_send_task_delivered_twice_sends_once(
    secretary, with_email, unit, frozen, django_capture_on_commit_callbacks
):
    from registration.exports import export_subscription_send

    subscription = subscribed(
        user=secretary, export_key="visitors_awaiting_lock", frequency="daily"
    )
    frozen(MORNING)
    assert export_subscriptions_due() == [subscription.pk]
    assert export_subscriptions_due() == []
    period = MORNING.date().isoformat()
    assert export_subscription_send(subscription_id=subscription.pk, period=period) == "sent"
    assert export_subscription_send(subscription_id=subscription.pk, period=period) == "skipped"
    assert len(outbox.outbox) == 1


def test_nothing_is_sent_after_the_permission_is_lost(
    secretary, with_email, unit, frozen, django_capture_on_commit_callbacks
):
    pending_lock(unit)
    subscription = subscribed(
        user=secretary, export_key="visitors_awaiting_lock", frequency="daily"
    )
    secretary.groups.remove(Group.objects.get(name=SECRETARY))
    frozen(MORNING)
    run_beat(django_capture_on_commit_callbacks)
    assert outbox.outbox == []
    subscription.refresh_from_db()
    assert not subscription.active
    assert subscription.inactive_reason == "no permission registration.change_visitor"
    assert AuditEntry.objects.filter(action="export.unsubscribe", object_id=subscription.pk)


def test_nothing_is_sent_to_a_secretary_without_a_delegation(
    secretary, with_email, unit, frozen, django_capture_on_commit_callbacks
):
    subscription = subscribed(user=secretary, export_key="delegation_overview", frequency="daily")
    Secretary.objects.filter(user=secretary).delete()
    frozen(MORNING)
    run_beat(django_capture_on_commit_callbacks)
    assert outbox.outbox == []
    subscription.refresh_from_db()
    assert (subscription.active, subscription.inactive_reason) == (False, "no scope")


def test_the_email_carries_the_unsubscribe_link_and_goes_through_the_outbox_backend(
    settings, _outbox, client, secretary, with_email, unit, frozen,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    settings.EMAIL_BACKEND = "ciie_portal.notices.backends.OutboxEmailBackend"
    pending_lock(unit, name="=1+1")
    client.force_login(secretary)
    subscribe(client, "visitors_awaiting_lock")
    frozen(MORNING)
    run_beat(django_capture_on_commit_callbacks)
    [eml] = list((_outbox / "email").glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes())
    [attachment] = [part for part in message.walk() if part.get_filename()]
    assert attachment.get_content_type() == XLSX
    sheet = load_workbook(io.BytesIO(attachment.get_payload(decode=True))).worksheets[0]
    assert values(sheet)[1][1] == "'=1+1"
    body = next(
        part.get_payload(decode=True).decode()
        for part in message.walk()
        if part.get_content_type() == "text/plain"
    )
    link = re.search(r"http://testserver(/staff/exports/unsubscribe/[^/\s]+/)", body).group(1)
    assert Client().post(link).status_code == 200
    assert not ExportSubscription.objects.get(user=secretary).active


@pytest.fixture
def _private_media(private_media):
    return private_media


def test_finance_gets_the_transfers_awaiting_confirmation(
    _private_media, finance, with_email, unit, contact, edition, frozen,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    from tests.payments.factories import open_for_payment
    from tests.payments.test_transfer import submitted

    open_for_payment(edition)
    payment = submitted(unit, contact)
    subscribed(user=finance, export_key="transfers_to_confirm", frequency="daily")
    subscribed(user=finance, export_key="refunds_to_approve", frequency="daily")
    frozen(MORNING)
    run_beat(django_capture_on_commit_callbacks)
    by_subject = {message.subject: message for message in outbox.outbox}
    transfers = values(sheet_of(by_subject[f"Transfers to confirm of {MORNING.date()}"]))
    assert [row[0] for row in transfers[1:]] == [payment.pk]
    assert transfers[1][1] == payment.order.number
    refunds = values(sheet_of(by_subject[f"Refunds to approve of {MORNING.date()}"]))
    assert refunds[1:] == []
