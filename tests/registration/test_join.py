"""单位人员加入 / 单位审核加入: colleagues join through the unit's invite link; the contact
approves or rejects them."""

import io
import re
import time
from datetime import timedelta

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image, ImageDraw

from ciie_portal.models import AuditEntry
from registration.models import PersonType, Unit, Visitor
from registration.validators import resident_id_sex
from registration.views_join import JOIN_SALT, JOINS_PER_HOUR, join_token
from tests.ciie_portal.factories import EditionFactory
from tests.registration.factories import (
    DeliveryAddressFactory,
    UnitFactory,
    VisitorFactory,
    make_resident_id,
)

INVITE = "/accounts/join/"
QR = "/accounts/join/qr.png"
APPROVE = "/accounts/join/approve/"
VISITORS = "/accounts/visitors/"
NUMBER = make_resident_id(42, birth="19850315")


@pytest.fixture(autouse=True)
def _private_media(private_media):
    return private_media


@pytest.fixture
def signed_in(contact):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(contact)
    return client


@pytest.fixture
def other_signed_in(other_contact):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(other_contact)
    return client


@pytest.fixture
def colleague():
    """Someone with the link and no account."""
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def join_url(unit) -> str:
    return f"/accounts/join/{join_token(unit)}/"


def photo_upload() -> SimpleUploadedFile:
    """A usable ID photo: white, 413×531, a dark head and shoulders away from the edges."""
    image = Image.new("RGB", (413, 531), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((130, 80, 283, 300), fill=(60, 60, 60))
    draw.ellipse((90, 330, 323, 620), fill=(40, 50, 90))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return SimpleUploadedFile("me.jpg", buffer.getvalue(), content_type="image/jpeg")


def colleague_data(unit, *, number=NUMBER, name="王同事", **overrides) -> dict:
    data = {
        "name": name,
        "sex": resident_id_sex(number),
        "birth_date": "1985-03-15",
        "id_type": "resident_id",
        "id_number": number,
        "job_category": "purchasing",
        "position": "采购经理",
        "mobile": "13900001111",
        "email": "",
        "entry_period": unit.edition.entry_periods.first().pk,
        "pickup": "delegation",
        "photo": photo_upload(),
        "sensitive_consent": "on",
    }
    data.update(overrides)
    return data


def join(client, unit, **overrides):
    return client.post(
        join_url(unit) + "?type=mainland", colleague_data(unit, **overrides), follow=True
    )


def pending_of(unit):
    return Visitor.objects.filter(unit=unit, join_pending=True)


# --- The contact's invite page --------------------------------------------------------------


def test_the_invite_page_shows_the_link_and_its_qr_code(signed_in, unit, colleague):
    response = signed_in.get(INVITE)
    assert response.status_code == 200
    content = response.content.decode()
    link = re.search(r'id="join-url" value="(http://testserver/accounts/join/[^"/]+/)"', content)
    assert link, "the invite link is shown"
    assert "<svg" in content
    assert 'href="/accounts/join/qr.png"' in content
    assert response["Cache-Control"].startswith("max-age=0")
    # The link works for someone without an account and names the unit.
    page = colleague.get(link.group(1).removeprefix("http://testserver"))
    assert page.status_code == 200
    assert unit.name in page.content.decode()
    assert all(f"?type={value}" in page.content.decode() for value in PersonType.values)


def test_the_qr_code_downloads_as_a_png(signed_in):
    response = signed_in.get(QR)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(response.content)).format == "PNG"


def test_the_contact_pages_need_a_login(colleague):
    for url in (INVITE, QR):
        response = colleague.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    assert colleague.post(APPROVE, {"visitor": ["1"]}).status_code == 302


# --- A colleague joins ----------------------------------------------------------------------


def test_a_colleague_joins_and_waits_for_approval(colleague, signed_in, unit):
    response = join(colleague, unit)
    assert response.status_code == 200
    assert 'id="join-done"' in response.content.decode()
    assert unit.name in response.content.decode()

    visitor = Visitor.objects.get()
    assert visitor.unit == unit
    assert visitor.edition == unit.edition
    assert visitor.join_pending is True
    assert visitor.status == Visitor.Status.SAVED
    assert visitor.person_type == PersonType.MAINLAND
    assert visitor.id_number == NUMBER
    assert visitor.sex == resident_id_sex(NUMBER)
    assert visitor.photo
    assert visitor.pledged_at is None
    assert set(
        AuditEntry.objects.filter(object_id=str(visitor.pk)).values_list("action", flat=True)
    ) == {
        "visitor.create",
        "visitor.sensitive_consent",
        "visitor.join_request",
    }

    # Not (yet) one of the unit's visitors ...
    listed = signed_in.get(VISITORS).content.decode()
    assert "王同事" not in listed
    # ... but waiting on the invite page, with the number masked.
    invite = signed_in.get(INVITE).content.decode()
    assert "王同事" in invite
    assert visitor.id_number_masked in invite
    assert NUMBER not in invite


def test_the_form_has_no_submit_and_no_pledge(colleague, unit):
    content = colleague.get(join_url(unit) + "?type=foreign").content.decode()
    assert 'id="join-form"' in content
    assert 'name="save"' in content
    assert 'name="submit"' not in content
    assert 'name="pledge"' not in content
    assert 'name="surname_en"' in content


def test_a_colleague_never_sees_the_units_visitors_or_address_contacts(colleague, unit):
    VisitorFactory(unit=unit, name="已登记的人")
    DeliveryAddressFactory(unit=unit, recipient="王收件", mobile="13912345678")
    for url in (join_url(unit), join_url(unit) + "?type=mainland"):
        content = colleague.get(url).content.decode()
        assert "已登记的人" not in content
        assert "13912345678" not in content
        assert "王收件" not in content
    content = join(colleague, unit).content.decode()
    assert "已登记的人" not in content


def test_an_id_number_already_used_in_the_edition_is_refused(colleague, other_unit, unit):
    VisitorFactory(unit=other_unit, id_number=NUMBER)
    response = join(colleague, unit)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="join-form"' in content
    assert "already registered" in content
    assert other_unit.name not in content
    assert not Visitor.objects.filter(unit=unit).exists()
    assert not AuditEntry.objects.filter(action="visitor.join_request").exists()


def test_birth_date_and_sex_must_agree_with_the_number(colleague, unit):
    wrong_sex = "F" if resident_id_sex(NUMBER) == "M" else "M"
    response = join(colleague, unit, birth_date="1985-03-16", sex=wrong_sex)
    content = response.content.decode()
    assert "does not agree with the ID number" in content
    assert not Visitor.objects.exists()


def test_a_submitted_unit_still_takes_colleagues(colleague, unit):
    Unit.objects.filter(pk=unit.pk).update(status=Unit.Status.SUBMITTED)
    join(colleague, unit)
    assert pending_of(unit).count() == 1


def test_a_rejected_unit_takes_nobody(colleague, unit):
    url = join_url(unit)
    Unit.objects.filter(pk=unit.pk).update(status=Unit.Status.REJECTED)
    response = colleague.get(url + "?type=mainland")
    assert response.status_code == 404
    assert "not approved" in response.content.decode()
    response = colleague.post(url + "?type=mainland", colleague_data(unit))
    assert response.status_code == 404
    assert not Visitor.objects.exists()


def test_a_tampered_token_is_refused(colleague, unit, other_unit):
    token = join_token(unit)
    payload, rest = token.split(":", 1)
    forged = signing.dumps({"unit": other_unit.pk, "edition": other_unit.edition_id}, salt="x")
    for bad in (token[:-2] + "xx", forged, "not-a-token", f"{payload}A:{rest}"):
        response = colleague.get(f"/accounts/join/{bad}/")
        assert response.status_code == 400, bad
        assert 'id="join-refusal"' in response.content.decode()
        assert unit.name not in response.content.decode()
    response = colleague.post(f"/accounts/join/{token[:-2]}xx/?type=mainland", colleague_data(unit))
    assert response.status_code == 400
    assert not Visitor.objects.exists()


def test_an_expired_token_is_refused(colleague, unit, monkeypatch):
    sixty_one_days_ago = time.time() - 61 * 24 * 3600
    monkeypatch.setattr(signing.time, "time", lambda: sixty_one_days_ago)
    token = join_token(unit)
    monkeypatch.undo()
    response = colleague.get(f"/accounts/join/{token}/")
    assert response.status_code == 400
    assert "expired" in response.content.decode()


def test_a_link_of_an_earlier_expo_is_refused(colleague, edition):
    earlier = UnitFactory(edition=EditionFactory(number=edition.number - 1))
    token = signing.dumps({"unit": earlier.pk, "edition": earlier.edition_id}, salt=JOIN_SALT)
    assert colleague.get(f"/accounts/join/{token}/").status_code == 404


def test_at_most_twenty_colleagues_join_per_hour(colleague, unit):
    for n in range(JOINS_PER_HOUR):
        VisitorFactory(unit=unit, join_pending=True, id_number=make_resident_id(100 + n))
    response = colleague.get(join_url(unit) + "?type=mainland")
    assert response.status_code == 429
    assert "Too many colleagues" in response.content.decode()
    response = colleague.post(join_url(unit) + "?type=mainland", colleague_data(unit))
    assert response.status_code == 429
    assert pending_of(unit).count() == JOINS_PER_HOUR
    # An hour later the link works again.
    Visitor.objects.update(created_at=timezone.now() - timedelta(hours=1, minutes=1))
    join(colleague, unit)
    assert pending_of(unit).count() == JOINS_PER_HOUR + 1


def test_approved_or_other_units_visitors_do_not_count_towards_the_limit(
    colleague, unit, other_unit
):
    for n in range(JOINS_PER_HOUR):
        VisitorFactory(unit=unit, id_number=make_resident_id(200 + n))
        VisitorFactory(unit=other_unit, join_pending=True, id_number=make_resident_id(300 + n))
    join(colleague, unit)
    assert pending_of(unit).count() == 1


# --- The contact approves or rejects --------------------------------------------------------


def test_approval_makes_colleagues_ordinary_visitors(colleague, signed_in, unit, contact):
    join(colleague, unit)
    join(colleague, unit, number=make_resident_id(43, birth="19850315"), name="李同事")
    first, second = pending_of(unit).order_by("pk")
    response = signed_in.post(APPROVE, {"visitor": [first.pk, second.pk], "action": "approve"})
    assert response.status_code == 302
    assert response["Location"] == INVITE
    assert not pending_of(unit).exists()
    assert Visitor.objects.filter(unit=unit, join_pending=False).count() == 2
    entries = AuditEntry.objects.filter(action="visitor.join_approve")
    assert sorted(entries.values_list("object_id", flat=True)) == sorted(
        [str(first.pk), str(second.pk)]
    )
    assert {entry.actor for entry in entries} == {contact}
    listed = signed_in.get(VISITORS).content.decode()
    assert "王同事" in listed and "李同事" in listed


def test_rejection_deletes_the_colleague_and_the_photo(colleague, signed_in, unit, tmp_path):
    join(colleague, unit)
    visitor = pending_of(unit).get()
    photo_path = tmp_path / "private" / visitor.photo.name
    assert photo_path.exists()
    response = signed_in.post(APPROVE, {"visitor": [visitor.pk], "action": "reject"})
    assert response.status_code == 302
    assert not Visitor.objects.filter(pk=visitor.pk).exists()
    entry = AuditEntry.objects.get(action="visitor.join_reject")
    assert entry.object_id == str(visitor.pk)
    assert entry.from_state == Visitor.Status.SAVED


def test_rejected_photos_are_removed_on_commit(
    colleague, signed_in, unit, tmp_path, django_capture_on_commit_callbacks
):
    join(colleague, unit)
    visitor = pending_of(unit).get()
    photo_path = tmp_path / "private" / visitor.photo.name
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(APPROVE, {"visitor": [visitor.pk], "action": "reject"})
    assert not photo_path.exists()


def test_nothing_selected_changes_nothing(colleague, signed_in, unit):
    join(colleague, unit)
    response = signed_in.post(APPROVE, {"action": "approve"}, follow=True)
    assert "Select the colleagues first." in response.content.decode()
    assert pending_of(unit).count() == 1


def test_only_the_units_own_pending_visitors_can_be_approved(
    colleague, other_signed_in, other_unit, unit
):
    join(colleague, unit)
    visitor = pending_of(unit).get()
    ordinary = VisitorFactory(unit=unit)
    # Another unit's contact does not see them ...
    assert "王同事" not in other_signed_in.get(INVITE).content.decode()
    # ... and cannot approve or reject them: the ids are ignored.
    other_signed_in.post(APPROVE, {"visitor": [visitor.pk], "action": "approve"})
    other_signed_in.post(APPROVE, {"visitor": [visitor.pk, ordinary.pk], "action": "reject"})
    visitor.refresh_from_db()
    assert visitor.join_pending is True
    assert Visitor.objects.filter(pk=ordinary.pk).exists()
    assert not AuditEntry.objects.filter(
        action__in=["visitor.join_approve", "visitor.join_reject"]
    ).exists()


def test_ordinary_visitors_are_neither_approved_nor_rejected(signed_in, unit):
    ordinary = VisitorFactory(unit=unit)
    signed_in.post(APPROVE, {"visitor": [ordinary.pk], "action": "reject"})
    signed_in.post(APPROVE, {"visitor": [ordinary.pk], "action": "approve"})
    assert Visitor.objects.filter(pk=ordinary.pk, join_pending=False).exists()
    assert not AuditEntry.objects.filter(
        action__in=["visitor.join_approve", "visitor.join_reject"]
    ).exists()
