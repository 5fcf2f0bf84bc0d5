"""积分 in the admin: rules edited and audited, codes loaded with a report of the duplicates
refused, the ledger read-only, the adjustment page (with a reason, never below zero, audited,
for those with the permission only), the catch-up action; the rules copied to the next
edition and the offers not."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ciie_portal.cloning import edition_clone
from ciie_portal.models import AuditEntry
from credentials.points.models import Coupon, CouponBatch, PointsEntry, PointsRule
from credentials.points.selectors import unit_balance
from credentials.points.tasks import points_catch_up_task
from tests.credentials.points.factories import give, held_meeting, offer, rules
from tests.registration.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db):
    return UserFactory(is_staff=True, is_superuser=True)


def test_a_rule_added_in_the_admin_is_audited_and_applies(client, superuser, edition, unit):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:credentials_pointsrule_add"),
        {"edition": edition.pk, "kind": "meeting_held", "points": "25"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = PointsRule.objects.get()
    assert AuditEntry.objects.filter(action="config.add", object_id=str(rule.pk)).exists()
    held_meeting(unit)
    client.post(
        reverse("admin:credentials_pointsrule_changelist"),
        {"action": "catch_up", "_selected_action": [rule.pk]},
    )
    assert unit_balance(unit.pk) == 25


def test_codes_are_loaded_with_duplicates_refused_and_reported(client, superuser, edition):
    batch = offer(edition, codes=["OLD-1"])
    client.force_login(superuser)
    url = reverse("admin:credentials_couponbatch_load", args=[batch.pk])
    assert client.get(url).status_code == 200
    page = client.post(
        url,
        {
            "codes": "NEW-1\n  NEW-2 \n\nNEW-1\nOLD-1\n",
            "file": SimpleUploadedFile("codes.txt", b"NEW-3\nnew-3\n"),
        },
        HTTP_ACCEPT_LANGUAGE="en",
    ).content.decode()
    assert sorted(Coupon.objects.filter(batch=batch).values_list("code", flat=True)) == [
        "NEW-1",
        "NEW-2",
        "NEW-3",
        "OLD-1",
        "new-3",
    ]
    assert "codes-refused" in page
    assert "the same code as line 1" in page and "already loaded in this offer" in page
    audit = AuditEntry.objects.get(action="points.coupons_load")
    assert audit.data == {"added": 4, "refused": 2} and audit.actor == superuser
    # Nothing to load: said next to the form.
    page = client.post(url, {"codes": "  \n"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Paste the codes or choose a file." in page


def test_codes_load_needs_the_change_permission(client, edition):
    batch = offer(edition)
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_couponbatch"))
    client.force_login(viewer)
    url = reverse("admin:credentials_couponbatch_load", args=[batch.pk])
    assert client.post(url, {"codes": "X"}).status_code == 403
    assert Coupon.objects.filter(batch=batch).count() == 1


def test_the_ledger_is_read_only_in_the_admin(client, superuser, unit):
    entry = give(unit, 5)
    client.force_login(superuser)
    changelist = client.get(reverse("admin:credentials_pointsentry_changelist")).content.decode()
    assert "points-adjust-link" in changelist
    change = reverse("admin:credentials_pointsentry_change", args=[entry.pk])
    assert client.post(change, {"points": "500"}).status_code == 403
    assert client.get(reverse("admin:credentials_pointsentry_add")).status_code == 403
    assert PointsEntry.objects.get().points == 5


def test_an_adjustment_needs_a_reason_never_goes_below_zero_and_is_audited(client, superuser, unit):
    give(unit, 10)
    client.force_login(superuser)
    url = reverse("admin:credentials_pointsentry_adjust")
    page = client.post(
        url, {"unit": unit.pk, "points": "-11", "reason": "重复计分"}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "The unit has 10 points: it cannot lose 11." in page
    page = client.post(
        url, {"unit": unit.pk, "points": "5", "reason": ""}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "This field is required." in page
    assert unit_balance(unit.pk) == 10
    response = client.post(url, {"unit": unit.pk, "points": "-4", "reason": "重复计分"})
    assert response.status_code == 302
    entry = PointsEntry.objects.get(kind="adjustment", created_by=superuser)
    assert (entry.points, entry.note) == (-4, "重复计分")
    audit = AuditEntry.objects.get(action="points.adjust")
    assert audit.reason == "重复计分" and audit.data["balance_after"] == 6


def test_only_staff_allowed_to_adjust_reach_the_page(client, unit):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_pointsentry"))
    client.force_login(viewer)
    url = reverse("admin:credentials_pointsentry_adjust")
    assert client.post(url, {"unit": unit.pk, "points": "5", "reason": "x"}).status_code == 403
    changelist = client.get(reverse("admin:credentials_pointsentry_changelist"))
    assert "points-adjust-link" not in changelist.content.decode()
    assert PointsEntry.objects.count() == 0


def test_the_task_catches_up_the_current_edition(edition, unit):
    rules(edition, meeting_held=30)
    held_meeting(unit)
    assert points_catch_up_task() == {edition.number: {"meeting_held": 1}}
    assert points_catch_up_task() == {edition.number: {"meeting_held": 0}}


def test_the_next_edition_gets_the_rules_and_none_of_the_offers(edition, superuser):
    rules(edition, gate_day=5, meeting_held=30)
    offer(edition, codes=["A"])
    result = edition_clone(
        source=edition, number=edition.number + 1, name="下一届", offset=364, actor=superuser
    )
    new = result.edition
    assert dict(PointsRule.objects.filter(edition=new).values_list("kind", "points")) == {
        "gate_day": 5,
        "meeting_held": 30,
    }
    assert not CouponBatch.objects.filter(edition=new).exists()
