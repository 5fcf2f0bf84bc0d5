"""The personal-data access log: staff who see a photo, a licence or a full ID number are recorded
(who, what, whose, when, through which page); organisers list it by visitor and by staff member;
a unit contact looking at their own visitors is not recorded."""

from datetime import date

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile

from ciie_portal.access_log import access_log_url, access_record, access_record_many
from ciie_portal.models import AccessLogEntry
from ciie_portal.roles import SECURITY_REVIEWER
from registration.models import Label, Visitor
from tests.conftest import approved_unit_fixtures
from tests.credentials import conftest as credentials_conftest
from tests.registration.factories import UserFactory, VisitorFactory
from tests.registration.images import image_file

# Approved units: the review and production steps below need them (delegations.gates).
unit, other_unit = approved_unit_fixtures()
# Credentials made by a production run, and gate staff (tests/credentials/conftest.py).
credentials = credentials_conftest.credentials
gate_staff = credentials_conftest.gate_staff

LIST = "/admin/ciie_portal/accesslogentry/"


@pytest.fixture
def in_english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def with_photo(unit, **values):
    visitor = VisitorFactory(unit=unit, **values)
    visitor.photo.save("p.jpg", ContentFile(image_file(fmt="JPEG").read()))
    return visitor


def rows_of(visitor):
    return AccessLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Visitor), object_id=str(visitor.pk)
    )


def test_a_staff_members_view_of_a_photo_is_recorded(client, private_media, secretary, unit):
    visitor = with_photo(unit)
    client.force_login(secretary)
    url = f"/staff/visitors/{visitor.pk}/photo/"
    assert client.get(url).status_code == 200
    [entry] = rows_of(visitor)
    assert (entry.actor, entry.what, entry.via, entry.count) == (secretary, "photo", url, 1)
    assert entry.object_repr == str(visitor) and visitor.name in entry.object_repr
    assert entry.at is not None


def test_a_refused_or_missing_photo_records_nothing(
    client, private_media, secretary, other_secretary, unit
):
    visitor = with_photo(unit)
    without = VisitorFactory(unit=unit)
    client.force_login(other_secretary)
    assert client.get(f"/staff/visitors/{visitor.pk}/photo/").status_code == 404
    client.force_login(secretary)
    assert client.get(f"/staff/visitors/{without.pk}/photo/").status_code == 404
    assert not AccessLogEntry.objects.exists()


def test_a_staff_members_view_of_a_licence_is_recorded(client, private_media, secretary, unit):
    unit.licence.save("l.png", ContentFile(image_file().read()))
    client.force_login(secretary)
    assert client.get(f"/staff/units/{unit.pk}/licence/").status_code == 200
    [entry] = AccessLogEntry.objects.all()
    assert (entry.actor, entry.what, entry.object_id) == (secretary, "licence", str(unit.pk))


def test_a_unit_contacts_view_of_their_own_photo_and_licence_records_nothing(
    client, private_media, contact, unit
):
    visitor = with_photo(unit)
    unit.licence.save("l.png", ContentFile(image_file().read()))
    client.force_login(contact)
    assert client.get(f"/accounts/visitors/{visitor.pk}/photo/").status_code == 200
    assert client.get("/accounts/unit/licence/").status_code == 200
    assert not AccessLogEntry.objects.exists()


def test_only_staff_are_recorded(unit, contact):
    visitor = VisitorFactory(unit=unit)
    from django.contrib.auth.models import AnonymousUser

    assert access_record(actor=AnonymousUser(), obj=visitor, what="photo", via="x") is None
    assert access_record(actor=None, obj=visitor, what="photo", via="x") is None
    assert access_record(actor=contact, obj=visitor, what="photo", via="x") is None
    assert access_record_many(actor=contact, objects=[visitor], what="export", via="x") == 0
    assert not AccessLogEntry.objects.exists()


@pytest.fixture
def reviewer(roles):
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=SECURITY_REVIEWER))
    return user


def awaiting(unit):
    return VisitorFactory(
        unit=unit,
        status=Visitor.Status.PENDING_REVIEW,
        label=Label.VISITOR,
        sex="M",
        birth_date=date(1980, 1, 1),
    )


def test_a_review_export_records_one_row_per_visitor(client, reviewer, unit):
    exported = [awaiting(unit), awaiting(unit)]
    untouched = VisitorFactory(unit=unit)
    client.force_login(reviewer)
    response = client.post(
        "/admin/credentials/reviewbatch/export/", {"limit": 100, "only_new": "on"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    from credentials.models import ReviewBatch

    batch = ReviewBatch.objects.get()
    for visitor in exported:
        [entry] = rows_of(visitor)
        assert (entry.actor, entry.what) == (reviewer, "export")
        assert batch.code in entry.via
    assert not rows_of(untouched).exists()

    # Downloading the batch again is another access of each of its visitors.
    assert client.get(f"/admin/credentials/reviewbatch/{batch.pk}/download/").status_code == 200
    assert all(rows_of(visitor).count() == 2 for visitor in exported)


@pytest.fixture
def accesses(organiser, secretary, finance, unit, other_unit):
    """Two staff members, two visitors: the secretary saw 王一's photo, finance exported both."""
    wang = VisitorFactory(unit=unit, name="王一")
    li = VisitorFactory(unit=other_unit, name="李二")
    access_record(actor=secretary, obj=wang, what="photo", via="/staff/visitors/1/photo/")
    finance.is_staff = True
    access_record_many(actor=finance, objects=[wang, li], what="export", via="review batch B1")
    return wang, li


def test_organisers_list_the_accesses_by_visitor_and_by_staff_member(
    client, in_english, organiser, secretary, finance, accesses
):
    wang, li = accesses
    client.force_login(organiser)
    page = client.get(LIST).content.decode()
    assert "王一" in page and "李二" in page

    by_visitor = client.get(access_log_url(obj=wang))
    assert by_visitor.status_code == 200
    assert list(by_visitor.context["cl"].result_list) == list(rows_of(wang))
    assert {e.actor for e in by_visitor.context["cl"].result_list} == {secretary, finance}

    by_staff = client.get(access_log_url(actor=secretary))
    assert [e.object_repr for e in by_staff.context["cl"].result_list] == [str(wang)]

    by_what = client.get(LIST, {"what__exact": "export"})
    assert {e.object_repr for e in by_what.context["cl"].result_list} == {str(wang), str(li)}

    searched = client.get(LIST, {"q": "李二"})
    assert [e.object_repr for e in searched.context["cl"].result_list] == [str(li)]
    by_id = client.get(LIST, {"q": str(li.pk)})
    assert str(li) in {e.object_repr for e in by_id.context["cl"].result_list}

    entry = rows_of(wang).first()
    detail = client.get(f"{LIST}{entry.pk}/change/")
    assert detail.status_code == 200
    assert "Save" not in detail.content.decode()


def test_the_visitor_and_user_admin_pages_link_to_their_accesses(
    client, in_english, organiser, secretary, accesses
):
    wang, _li = accesses
    client.force_login(organiser)
    visitor_page = client.get(f"/admin/registration/visitor/{wang.pk}/change/").content.decode()
    assert access_log_url(obj=wang).replace("&", "&amp;") in visitor_page
    user_page = client.get(f"/admin/registration/user/{secretary.pk}/change/").content.decode()
    assert access_log_url(actor=secretary) in user_page


def test_the_log_is_refused_to_a_secretary_and_read_only_for_organisers(
    client, organiser, secretary, accesses
):
    wang, _li = accesses
    client.force_login(secretary)
    assert client.get(LIST).status_code == 403
    visitor_page = client.get(f"/admin/registration/visitor/{wang.pk}/change/").content.decode()
    assert "accesslogentry" not in visitor_page
    client.force_login(organiser)
    assert client.get(f"{LIST}add/").status_code == 403
    entry = AccessLogEntry.objects.first()
    assert client.post(f"{LIST}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AccessLogEntry.objects.count() == 3


def test_the_gate_photo_is_recorded_for_gate_staff_not_for_a_device(
    client, gate_staff, credentials
):
    client.force_login(gate_staff)
    answer = client.post("/gate/check/", {"payload": credentials["today"].qr_payload}).json()
    assert client.get(answer["photo_url"]).status_code == 200
    [entry] = rows_of(credentials["today"].visitor)
    assert (entry.actor, entry.what) == (gate_staff, "photo")
    assert entry.via.startswith("/gate/photo/")


def test_a_card_and_a_print_batch_record_their_visitors_photos(client, organiser, credentials):
    from credentials.models import PrintBatch

    client.force_login(organiser)
    today = credentials["today"]
    assert client.get(f"/admin/credentials/credential/{today.pk}/card.pdf").status_code == 200
    assert [e.what for e in rows_of(today.visitor)] == ["photo"]
    batch = PrintBatch.objects.get(credentials=today)
    assert client.get(f"/admin/credentials/printbatch/{batch.pk}/sheets.pdf").status_code == 200
    in_batch = Visitor.objects.filter(credentials__print_batch=batch).distinct()
    assert AccessLogEntry.objects.filter(via__contains="sheets").count() == in_batch.count()
    assert rows_of(today.visitor).count() == 2
