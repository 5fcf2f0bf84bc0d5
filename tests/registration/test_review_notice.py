"""The unit's review result goes by SMS and by email; dates and times in notices and pages are
Beijing time."""

from datetime import UTC, datetime
from unittest import mock

import pytest
from django.utils import timezone, translation

from ciie_portal.models import Notice
from ciie_portal.notices.services import render_notice
from registration.models import Unit, UnitDraft, Visitor
from registration.returning import one_click_invite_send, one_click_max_age
from registration.services import unit_review_notice, unit_submit
from tests.ciie_portal.factories import EditionFactory
from tests.registration.factories import UnitFactory, VisitorFactory

# 15:59 UTC is 23:59 in Beijing.
UTC_1559 = datetime(2027, 10, 20, 15, 59, 30, tzinfo=UTC)


def _with_contacts(unit, **values):
    Unit.objects.filter(pk=unit.pk).update(**values)
    unit.refresh_from_db()
    return unit


def test_the_review_result_goes_by_sms_and_by_email(unit, django_capture_on_commit_callbacks):
    _with_contacts(
        unit,
        status=Unit.Status.RETURNED,
        contact_mobile="13800000001",
        contact_email="unit@example.com",
    )
    with translation.override("zh-hans"), django_capture_on_commit_callbacks(execute=True):
        unit_review_notice(unit=unit, key="unit-review:1:x", reason="营业执照不清晰")
    sms = Notice.objects.get(key="unit-review:1:x:sms")
    email = Notice.objects.get(key="unit-review:1:x:email")
    assert (sms.channel, sms.recipient, sms.status) == ("sms", "13800000001", Notice.Status.SENT)
    assert (email.channel, email.recipient) == ("email", "unit@example.com")
    sms.language = "en"
    text = render_notice(sms)["text"]
    assert unit.name in text
    assert "the review of your unit information by" in text
    assert "退回修改" in text  # the result as the unit's language said it when sent
    assert "营业执照不清晰" in text
    sms.language = "zh-hans"
    assert "审核" in render_notice(sms)["text"]


def test_without_an_email_address_only_the_sms_goes(unit):
    _with_contacts(unit, contact_mobile="13800000001", contact_email="")
    unit_review_notice(unit=unit, key="unit-review:2:x")
    assert list(Notice.objects.values_list("channel", flat=True)) == ["sms"]


def test_without_a_mobile_only_the_email_goes(unit):
    _with_contacts(unit, contact_mobile="", contact_email="unit@example.com")
    unit_review_notice(unit=unit, key="unit-review:3:x")
    assert list(Notice.objects.values_list("channel", flat=True)) == ["email"]


def test_an_automatic_approval_is_told_by_sms_and_email(unit, edition):
    edition.auto_approve_categories = [unit.category]
    edition.save()
    _with_contacts(
        unit,
        info_saved_at=timezone.now(),
        contact_mobile="13800000001",
        contact_email="unit@example.com",
    )
    VisitorFactory(unit=unit, status=Visitor.Status.SUBMITTED)
    unit_submit(unit=unit, actor=unit.account)
    keys = set(Notice.objects.filter(event="unit_review_result").values_list("key", flat=True))
    assert keys == {f"unit-review:{unit.pk}:auto:sms", f"unit-review:{unit.pk}:auto:email"}


# --- Beijing time ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_one_click_link_is_valid_until_a_beijing_time(edition, organiser):
    previous = EditionFactory(number=edition.number - 1)
    old_unit = UnitFactory(edition=previous, contact_email="old@example.com")
    with mock.patch("django.utils.timezone.now", return_value=UTC_1559 - one_click_max_age()):
        one_click_invite_send(units=[old_unit], actor=organiser, base_url="https://x")
    notice = Notice.objects.get(event="one_click_invite")
    assert notice.params["valid_until"] == "2027-10-20 23:59"


def test_the_autosave_time_is_beijing_time(client, contact, unit):
    client.force_login(contact)
    draft = UnitDraft(unit=unit, data={}, saved_at=UTC_1559)
    with mock.patch("registration.views.unit_draft_save", return_value=draft):
        response = client.post("/accounts/unit/autosave/", {"short_name": "草稿"})
    assert response.json()["saved_at"] == "23:59:30"
