"""安检暂停: security holds — placed and lifted with a reason, audited, at most one open per
visitor, production skips a held visitor, holds are per visitor and edition; their admin."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from ciie_portal.models import AuditEntry
from ciie_portal.roles import SECURITY_REVIEWER
from credentials.entry.holds import hold_place, hold_place_many, hold_release
from credentials.models import Credential, SecurityHold
from registration.models import Visitor
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.credentials.conftest import PRODUCTION
from tests.credentials.test_production import jpeg, produce, reviewed
from tests.registration.factories import (
    ApprovedUnitFactory,
    UserFactory,
    VisitorFactory,
    make_resident_id,
)

pytestmark = pytest.mark.usefixtures(*PRODUCTION)

HOLDS = "/admin/credentials/securityhold/"


@pytest.fixture(autouse=True)
def in_english_pages(client, settings):
    """The admin pages here are read in English (the texts asserted are the msgids)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def photo(private_storage):
    return default_storage.save("visitor-photos/photo.jpg", ContentFile(jpeg()))


@pytest.fixture
def reviewer(roles):
    user = UserFactory(is_staff=True, email="security@example.com")
    user.groups.add(Group.objects.get(name=SECURITY_REVIEWER))
    return user


@pytest.fixture
def visitor(unit):
    return VisitorFactory(unit=unit, name="张安检")


# --- The services ----------------------------------------------------------------------------


def test_a_hold_is_placed_and_lifted_with_reasons_and_both_are_audited(visitor, reviewer):
    hold = hold_place(visitor=visitor, reason="  与公安核实  ", actor=reviewer)

    assert (hold.edition_id, hold.visitor_id, hold.reason, hold.placed_by) == (
        visitor.edition_id,
        visitor.pk,
        "与公安核实",
        reviewer,
    )
    assert hold.is_open
    placed = AuditEntry.objects.get(action="security_hold.place")
    assert (placed.object_id, placed.actor, placed.reason, placed.to_state) == (
        str(hold.pk),
        reviewer,
        "与公安核实",
        "open",
    )

    lifted = hold_release(hold=hold, reason="已面谈", actor=reviewer)

    hold.refresh_from_db()
    assert not hold.is_open
    assert (hold.released_by, hold.release_reason) == (reviewer, "已面谈")
    assert lifted.released_at == hold.released_at
    entry = AuditEntry.objects.get(action="security_hold.release")
    assert (entry.object_id, entry.from_state, entry.to_state, entry.reason) == (
        str(hold.pk),
        "open",
        "lifted",
        "已面谈",
    )


def test_a_second_open_hold_is_refused_and_a_hold_is_lifted_only_once(visitor, reviewer):
    hold = hold_place(visitor=visitor, reason="核查", actor=reviewer)

    with pytest.raises(ValidationError, match="already on security hold"):
        hold_place(visitor=visitor, reason="再次", actor=reviewer)
    hold_release(hold=hold, reason="已面谈", actor=reviewer)
    with pytest.raises(ValidationError, match="already lifted"):
        hold_release(hold=hold, reason="再次", actor=reviewer)

    # Lifted: a new hold may be placed; the history keeps both.
    hold_place(visitor=visitor, reason="新情况", actor=reviewer)
    assert visitor.security_holds.count() == 2
    assert visitor.security_holds.filter(released_at__isnull=True).count() == 1
    assert AuditEntry.objects.filter(action="security_hold.release").count() == 1


def test_a_hold_needs_a_reason(visitor, reviewer):
    with pytest.raises(ValidationError, match="reason"):
        hold_place(visitor=visitor, reason="   ", actor=reviewer)
    hold = hold_place(visitor=visitor, reason="核查", actor=reviewer)
    with pytest.raises(ValidationError, match="reason"):
        hold_release(hold=hold, reason="", actor=reviewer)
    assert not SecurityHold.objects.filter(released_at__isnull=False).exists()


def test_hold_place_many_holds_each_once_and_names_those_already_held(unit, reviewer):
    first, second = VisitorFactory(unit=unit, name="甲"), VisitorFactory(unit=unit, name="乙")
    hold_place(visitor=first, reason="核查", actor=reviewer)

    placed, refused = hold_place_many(visitors=[first, second], reason="批量", actor=reviewer)

    assert [hold.visitor_id for hold in placed] == [second.pk]
    assert refused == ["甲"]
    assert SecurityHold.objects.filter(released_at__isnull=True).count() == 2


# --- Production --------------------------------------------------------------------------------


def test_production_skips_a_held_visitor_and_makes_the_card_once_the_hold_is_lifted(
    edition, unit, photo, reviewer
):
    held = reviewed(unit, photo, name="王暂停")
    free = reviewed(unit, photo, name="李通过")
    hold = hold_place(visitor=held, reason="核查", actor=reviewer)

    job = produce(edition)

    assert job.total == 1
    assert free.credentials.filter(status=Credential.Status.ACTIVE).exists()
    assert not held.credentials.exists()

    hold_release(hold=hold, reason="已面谈", actor=reviewer)
    job = produce(edition)

    assert job.total == 1
    assert held.credentials.filter(status=Credential.Status.ACTIVE).count() == 1


def test_a_hold_revokes_nothing(edition, unit, photo, reviewer):
    visitor = reviewed(unit, photo)
    produce(edition)
    credential = visitor.credentials.get()

    hold_place(visitor=visitor, reason="核查", actor=reviewer)

    credential.refresh_from_db()
    assert credential.status == Credential.Status.ACTIVE
    assert produce(edition).total == 0


def test_holds_are_per_visitor_and_edition(edition, unit, photo, reviewer, guangzhou):
    """The same person in edition 10 and 11: a hold on the one does not touch the other."""
    number = make_resident_id(7, birth="19790101")
    earlier = reviewed(unit, photo, name="赵两届", id_number=number)
    later_edition = EditionFactory(number=11)
    EntryPeriodFactory(edition=later_edition)
    later_unit = ApprovedUnitFactory(edition=later_edition, delegation=guangzhou)
    later = reviewed(later_unit, photo, name="赵两届", id_number=number)
    assert earlier.id_number_index == later.id_number_index

    hold = hold_place(visitor=earlier, reason="核查", actor=reviewer)

    assert hold.edition == edition
    assert not later.security_holds.exists()
    assert produce(later_edition).total == 1
    assert later.credentials.filter(status=Credential.Status.ACTIVE).exists()
    assert produce(edition).total == 0
    assert not earlier.credentials.exists()
    # A hold on the later visitor is a hold of its own, in edition 11.
    assert hold_place(visitor=later, reason="核查", actor=reviewer).edition == later_edition


# --- The admin ---------------------------------------------------------------------------------


def test_the_reviewer_places_a_hold_by_reference_number_and_sees_it_listed(
    client, visitor, reviewer
):
    client.force_login(reviewer)

    response = client.post(
        HOLDS + "add/", {"visitor": visitor.reference, "reason": "与公安核实"}, follow=True
    )

    assert response.status_code == 200
    hold = SecurityHold.objects.get()
    assert (hold.visitor, hold.reason, hold.placed_by, hold.edition_id) == (
        visitor,
        "与公安核实",
        reviewer,
        visitor.edition_id,
    )
    assert AuditEntry.objects.filter(action="security_hold.place", object_id=str(hold.pk)).exists()
    listing = client.get(HOLDS).content.decode()
    assert "张安检" in listing and visitor.id_number_masked in listing
    assert visitor.id_number not in listing
    assert "与公安核实" in listing

    # A second hold on the same visitor is refused on the form.
    again = client.post(HOLDS + "add/", {"visitor": visitor.reference, "reason": "再次"})
    assert again.status_code == 200
    assert "already on security hold" in again.content.decode()
    assert SecurityHold.objects.count() == 1
    unknown = client.post(HOLDS + "add/", {"visitor": "VNOSUCH00", "reason": "核查"})
    assert "No visitor has this reference number" in unknown.content.decode()


def test_the_reviewer_lifts_holds_with_a_reason_and_cannot_edit_or_delete_them(
    client, visitor, reviewer
):
    hold = hold_place(visitor=visitor, reason="核查", actor=reviewer)
    client.force_login(reviewer)

    page = client.post(HOLDS, {"action": "lift", "_selected_action": [hold.pk]})
    assert page.status_code == 200 and "张安检" in page.content.decode()
    hold.refresh_from_db()
    assert hold.is_open  # not before the reason is given

    client.post(HOLDS, {"action": "lift", "_selected_action": [hold.pk], "apply": "1",
                        "reason": "已面谈"})  # fmt: skip

    hold.refresh_from_db()
    assert (hold.is_open, hold.release_reason, hold.released_by) == (False, "已面谈", reviewer)
    # Read-only: no change, no delete.
    change = client.post(f"{HOLDS}{hold.pk}/change/", {"reason": "改"})
    assert change.status_code == 403
    assert client.get(f"{HOLDS}{hold.pk}/delete/").status_code == 403
    hold.refresh_from_db()
    assert hold.reason == "核查"
    lifted = client.get(HOLDS + "?state=lifted").content.decode()
    assert "张安检" in lifted
    assert "张安检" not in client.get(HOLDS + "?state=open").content.decode()


def test_a_secretary_is_refused_the_holds(client, visitor, secretary, reviewer):
    hold = hold_place(visitor=visitor, reason="核查", actor=reviewer)
    client.force_login(secretary)

    assert client.get(HOLDS).status_code == 403
    assert client.get(HOLDS + "add/").status_code == 403
    client.post(HOLDS, {"action": "lift", "_selected_action": [hold.pk], "apply": "1",
                        "reason": "已面谈"})  # fmt: skip
    hold.refresh_from_db()
    assert hold.is_open
    refused = client.post(HOLDS + "add/", {"visitor": visitor.reference, "reason": "x"})
    assert refused.status_code == 403
    assert SecurityHold.objects.count() == 1


def test_who_only_sees_holds_may_not_place_or_lift_them(client, visitor, reviewer):
    hold = hold_place(visitor=visitor, reason="核查", actor=reviewer)
    onlooker = UserFactory(is_staff=True)
    onlooker.user_permissions.add(
        Permission.objects.get(content_type__app_label="credentials", codename="view_securityhold")
    )
    client.force_login(onlooker)

    assert "张安检" in client.get(HOLDS).content.decode()
    assert client.get(HOLDS + "add/").status_code == 403
    client.post(HOLDS, {"action": "lift", "_selected_action": [hold.pk], "apply": "1",
                        "reason": "已面谈"})  # fmt: skip
    hold.refresh_from_db()
    assert hold.is_open


def test_holders_are_put_on_hold_from_the_credential_list(
    client, edition, unit, photo, organiser, reviewer
):
    visitors = [reviewed(unit, photo, name=f"持证{n}") for n in range(2)]
    produce(edition)
    client.force_login(organiser)
    credentials = list(Credential.objects.order_by("pk").values_list("pk", flat=True))

    page = client.post(
        "/admin/credentials/credential/",
        {"action": "hold_holders", "_selected_action": credentials},
    )
    assert page.status_code == 200 and "Put holders on security hold" in page.content.decode()
    client.post(
        "/admin/credentials/credential/",
        {"action": "hold_holders", "_selected_action": credentials, "apply": "1",
         "reason": "现场核查"},
    )  # fmt: skip

    holds = SecurityHold.objects.order_by("visitor_id")
    assert [(h.visitor_id, h.reason, h.placed_by) for h in holds] == [
        (v.pk, "现场核查", organiser) for v in visitors
    ]
    assert not Credential.objects.exclude(status=Credential.Status.ACTIVE).exists()


def test_the_credential_list_offers_holds_only_to_who_may_place_them(
    client, organiser, credential_office
):
    # The credential office sees the list but may not hold anyone; organisers may.
    client.force_login(credential_office)
    page = client.get("/admin/credentials/credential/").content.decode()
    assert "hold_holders" not in page
    client.force_login(organiser)
    assert "hold_holders" in client.get("/admin/credentials/credential/").content.decode()


def test_a_hold_on_a_visitor_keeps_them_out_of_production_counts(edition, unit, photo, reviewer):
    from credentials.production.selectors import producible, selection_visitors

    visitor = reviewed(unit, photo)
    hold_place(visitor=visitor, reason="核查", actor=reviewer)

    assert not producible(selection_visitors(edition_id=edition.pk)).exists()
    assert Visitor.objects.get(pk=visitor.pk).status == Visitor.Status.REVIEW_PASSED
