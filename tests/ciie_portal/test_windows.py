"""The registration window (ciie_portal.windows), in Beijing time, and organisers moving it
(audited, through the admin)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation

from ciie_portal.models import AuditEntry, Edition
from ciie_portal.windows import (
    CLOSED,
    NOT_YET_OPEN,
    OPEN,
    is_bound,
    registration_window,
    registration_window_check,
)
from tests.ciie_portal.factories import EditionFactory
from tests.registration.factories import UserFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPENS = datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI)
CLOSES = datetime(2027, 10, 20, 23, 59, tzinfo=SHANGHAI)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def fixed(db):
    return EditionFactory(
        number=30, registration_opens_at=OPENS, registration_closes_at=CLOSES, is_current=False
    )


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (OPENS - MINUTE, NOT_YET_OPEN),
        (OPENS, OPEN),
        (OPENS + MINUTE, OPEN),
        (CLOSES - MINUTE, OPEN),
        (CLOSES, OPEN),
        (CLOSES + MINUTE, CLOSED),
    ],
)
def test_the_window_is_open_from_its_opening_to_its_closing_minute(fixed, now, state):
    assert registration_window(fixed, now=now).state == state


def test_a_contact_after_closing_is_told_the_window_in_beijing_time_and_what_to_do(fixed):
    contact = UserFactory()
    with translation.override("en"), pytest.raises(ValidationError) as refusal:
        registration_window_check(edition=fixed, actor=contact, now=CLOSES + MINUTE)
    message = " ".join(refusal.value.messages)
    # 23:59 in Beijing, not the 15:59 of UTC.
    assert "2027-10-20 23:59" in message
    assert "15:59" not in message
    assert "2026-11-20 09:00" in message
    assert "delegation" in message
    registration_window_check(edition=fixed, actor=contact, now=CLOSES - MINUTE)


def test_before_opening_the_message_says_when_it_opens(fixed):
    with pytest.raises(ValidationError, match="2026-11-20 09:00"):
        registration_window_check(edition=fixed, actor=None, now=OPENS - MINUTE)
    registration_window_check(edition=fixed, actor=None, now=OPENS + MINUTE)


def test_staff_and_the_system_are_not_bound(fixed):
    staff = UserFactory(is_staff=True)
    registration_window_check(edition=fixed, actor=staff, now=CLOSES + MINUTE)
    registration_window_check(edition=fixed, actor="system", now=CLOSES + MINUTE)
    assert is_bound(None) and is_bound(UserFactory())
    assert not is_bound(staff) and not is_bound("system")


def test_the_message_is_translated(fixed):
    with translation.override("zh-hans"):
        message = registration_window(fixed, now=CLOSES + MINUTE).message
    assert "2027-10-20 23:59" in message
    assert "交易团" in message


# --- Organisers move windows in the admin (audited) -----------------------------------------


def _admin_form_data(edition: Edition, **changes) -> dict:
    def local(value):
        return value.astimezone(SHANGHAI)

    data = {
        "number": edition.number,
        "name": edition.name,
        "starts_on": edition.starts_on.isoformat(),
        "ends_on": edition.ends_on.isoformat(),
        "registration_opens_at_0": local(edition.registration_opens_at).strftime("%Y-%m-%d"),
        "registration_opens_at_1": local(edition.registration_opens_at).strftime("%H:%M:%S"),
        "registration_closes_at_0": local(edition.registration_closes_at).strftime("%Y-%m-%d"),
        "registration_closes_at_1": local(edition.registration_closes_at).strftime("%H:%M:%S"),
        "transfer_deadline_0": local(edition.transfer_deadline).strftime("%Y-%m-%d"),
        "transfer_deadline_1": local(edition.transfer_deadline).strftime("%H:%M:%S"),
        "online_payment_deadline_0": local(edition.online_payment_deadline).strftime("%Y-%m-%d"),
        "online_payment_deadline_1": local(edition.online_payment_deadline).strftime("%H:%M:%S"),
        "order_payment_window": "00:30:00",
        "reuse_fee_percent": str(edition.reuse_fee_percent),
        "default_vip_quota": edition.default_vip_quota,
        "default_staff_quota": edition.default_staff_quota,
        "review_days_domestic": edition.review_days_domestic,
        "review_days_foreign": edition.review_days_foreign,
        "entry_periods-TOTAL_FORMS": "0",
        "entry_periods-INITIAL_FORMS": "0",
        "entry_periods-MIN_NUM_FORMS": "0",
        "entry_periods-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    data.update(changes)
    return data


def test_an_organiser_extends_registration_and_each_changed_window_is_audited(fixed, organiser):
    client = Client()
    client.force_login(organiser)
    response = client.post(
        f"/admin/ciie_portal/edition/{fixed.pk}/change/",
        _admin_form_data(
            fixed,
            registration_closes_at_0="2027-10-25",
            registration_closes_at_1="23:59:00",
            order_payment_window="01:00:00",
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    fixed.refresh_from_db()
    assert fixed.registration_closes_at == datetime(2027, 10, 25, 23, 59, tzinfo=SHANGHAI)
    audited = AuditEntry.objects.filter(action="edition.window_change")
    entries = {entry.data["field"]: entry for entry in audited}
    assert set(entries) == {"registration_closes_at", "order_payment_window"}
    closing = entries["registration_closes_at"]
    assert (closing.from_state, closing.to_state) == ("2027-10-20 23:59", "2027-10-25 23:59")
    assert closing.actor == organiser
    payment_window = entries["order_payment_window"]
    assert (payment_window.from_state, payment_window.to_state) == ("30 min", "60 min")


def test_saving_an_edition_without_moving_a_window_audits_nothing(fixed, organiser):
    client = Client()
    client.force_login(organiser)
    response = client.post(
        f"/admin/ciie_portal/edition/{fixed.pk}/change/",
        _admin_form_data(fixed, name="第三十届"),
    )
    assert response.status_code == 302
    assert not AuditEntry.objects.filter(action="edition.window_change").exists()
