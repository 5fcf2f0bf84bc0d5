import io
from datetime import date

import pytest
from crispy_forms.templatetags.crispy_forms_filters import as_crispy_form
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation
from PIL import Image, ImageDraw

from ciie_portal.models import AuditEntry
from registration.forms_visitors import VisitorForm
from registration.models import PersonType, Unit, Visitor
from registration.validators import resident_id_sex
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.registration.factories import (
    DeliveryAddressFactory,
    VisitorFactory,
    make_resident_id,
)
from tests.registration.images import decompression_bomb, pdf_named_jpg


def photo(size=(413, 531), background="white", fmt="JPEG"):
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w * 0.3, h * 0.15, w * 0.7, h * 0.55), fill=(90, 70, 60))
    draw.rectangle((w * 0.15, h * 0.6, w * 0.85, h), fill=(40, 50, 80))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return SimpleUploadedFile("photo.jpg", buffer.getvalue(), content_type="image/jpeg")


NUMBER = make_resident_id(11, birth="19850315", region="440106")
SEX = resident_id_sex(NUMBER)


@pytest.fixture
def signed_in(client, contact):
    client.force_login(contact)
    return client


@pytest.fixture
def address(unit):
    return DeliveryAddressFactory(unit=unit, is_default=True)


def mainland(edition, delivery, **overrides):
    data = {
        "name": "李明",
        "sex": SEX,
        "birth_date": "1985-03-15",
        "id_type": "resident_id",
        "id_number": NUMBER,
        "job_category": "purchasing",
        "position": "采购经理",
        "mobile": "13912340000",
        "email": "li@example.com",
        "entry_period": edition.entry_periods.first().pk,
        "pickup": "courier",
        "address": delivery.pk,
        "photo": photo(),
    }
    data.update(overrides)
    return data


def test_a_mainland_visitor_is_saved_and_stays_editable(signed_in, unit, edition, address):
    response = signed_in.post(
        "/accounts/visitors/add/mainland/", mainland(edition, address, save="1")
    )
    assert response.status_code == 302, response.context["form"].errors
    visitor = Visitor.objects.get(unit=unit)
    assert visitor.status == Visitor.Status.SAVED
    assert visitor.person_type == "mainland"
    assert visitor.id_number == NUMBER
    assert visitor.birth_date == date(1985, 3, 15)
    assert visitor.photo.name.startswith("visitor-photos/")
    listing = signed_in.get("/accounts/visitors/").content.decode()
    assert "李明" in listing
    assert f"{NUMBER[:3]}****{NUMBER[-3:]}" in listing
    assert NUMBER not in listing
    assert "待提交人数: 1" in listing or "待提交人数：1" in listing


def test_a_submitted_visitor_is_locked(signed_in, unit, edition, address):
    data = mainland(edition, address, submit="1", pledge="on", sensitive_consent="on")
    assert signed_in.post("/accounts/visitors/add/mainland/", data).status_code == 302
    visitor = Visitor.objects.get(unit=unit)
    assert visitor.status == Visitor.Status.SUBMITTED
    assert visitor.pledged_at and visitor.submitted_at
    page = signed_in.get(f"/accounts/visitors/{visitor.pk}/").content.decode()
    assert 'name="id_number"' not in page
    # Posting the whole form changes nothing but, at most, the entry days (allowed until ordered).
    signed_in.post(
        f"/accounts/visitors/{visitor.pk}/", mainland(edition, address, name="改名", save="1")
    )
    unchanged = Visitor.objects.get(pk=visitor.pk)
    assert (unchanged.name, unchanged.id_number, unchanged.status) == (
        "李明",
        NUMBER,
        Visitor.Status.SUBMITTED,
    )
    assert signed_in.post(f"/accounts/visitors/{visitor.pk}/delete/").status_code == 302
    assert Visitor.objects.filter(pk=visitor.pk).exists()


def test_submitting_needs_the_pledge(signed_in, unit, edition, address):
    response = signed_in.post(
        "/accounts/visitors/add/mainland/", mainland(edition, address, submit="1")
    )
    assert response.status_code == 200
    assert "pledge" in response.context["form"].errors
    assert not Visitor.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("birth_date", "1985-03-16"), ("sex", "F" if SEX == "M" else "M")],
)
def test_birth_date_and_sex_must_agree_with_the_number(signed_in, edition, address, field, value):
    response = signed_in.post(
        "/accounts/visitors/add/mainland/", mainland(edition, address, **{field: value})
    )
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Visitor.objects.exists()


def test_an_id_number_of_another_unit_is_refused_without_naming_it(
    signed_in, edition, address, other_unit
):
    VisitorFactory(unit=other_unit, id_number=NUMBER)
    response = signed_in.post("/accounts/visitors/add/mainland/", mainland(edition, address))
    content = response.content.decode()
    assert "已报名本届进博会" in content or "已登记" in content or "already" in content
    assert other_unit.name not in content
    assert Visitor.objects.count() == 1


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (lambda: photo(size=(300, 386)), "照片尺寸不足 413×531"),
        (lambda: photo(size=(600, 531)), "35:45"),
        (lambda: photo(background=(60, 60, 60)), "照片背景不是白色"),
        (pdf_named_jpg, "不是JPG或PNG图片"),
        (decompression_bomb, "像素"),
    ],
)
def test_bad_photos_are_refused_and_the_rest_is_kept(signed_in, edition, address, upload, message):
    response = signed_in.post(
        "/accounts/visitors/add/mainland/",
        mainland(edition, address, photo=upload(), position="保留的职务"),
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert message in content
    assert 'value="保留的职务"' in content
    assert not Visitor.objects.exists()


def test_photo_metadata_is_dropped(signed_in, unit, edition, address):
    signed_in.post("/accounts/visitors/add/mainland/", mainland(edition, address))
    stored = Image.open(Visitor.objects.get().photo.open("rb"))
    assert "exif" not in stored.info
    assert not stored.getexif()


def test_another_units_visitor_and_photo_are_404(signed_in, other_unit):
    theirs = VisitorFactory(unit=other_unit)
    for url in (
        f"/accounts/visitors/{theirs.pk}/",
        f"/accounts/visitors/{theirs.pk}/photo/",
    ):
        assert signed_in.get(url).status_code == 404
    assert signed_in.post(f"/accounts/visitors/{theirs.pk}/delete/").status_code == 404
    assert Visitor.objects.filter(pk=theirs.pk).exists()


def test_a_foreign_visitor_needs_english_names_and_nationality(signed_in, unit, edition, address):
    data = {
        "surname_en": "smith",
        "given_name_en": "John",
        "permit_name": "SMITH JOHN",
        "sex": "M",
        "birth_date": "1980-01-01",
        "nationality": "DE",
        "id_type": "passport",
        "id_number": "C01X00T47",
        "job_category": "sales",
        "position": "Buyer",
        "mobile": "+4915112345678",
        "entry_period": edition.entry_periods.first().pk,
        "pickup": "delegation",
        "photo": photo(),
    }
    assert signed_in.post("/accounts/visitors/add/foreign/", data).status_code == 302
    visitor = Visitor.objects.get(unit=unit)
    assert visitor.person_type == "foreign"
    assert (visitor.surname_en, visitor.name, visitor.nationality.code) == (
        "SMITH",
        "SMITH John",
        "DE",
    )
    del data["nationality"]
    data["id_number"] = "C01X00T48"
    assert signed_in.post("/accounts/visitors/add/foreign/", data).status_code == 200


def test_courier_delivery_needs_an_address(signed_in, edition, address):
    response = signed_in.post(
        "/accounts/visitors/add/mainland/", mainland(edition, address, address="")
    )
    assert "address" in response.context["form"].errors


@pytest.mark.parametrize("elsewhere", ["other edition", "no such period"])
def test_entry_days_of_another_edition_are_refused_next_to_the_field(
    signed_in, unit, edition, address, elsewhere
):
    other = EntryPeriodFactory(edition=EditionFactory(number=edition.number + 1))
    period = other.pk if elsewhere == "other edition" else other.pk + 1000
    response = signed_in.post(
        "/accounts/visitors/add/mainland/", mainland(edition, address, entry_period=period)
    )
    assert response.status_code == 200
    (refusal,) = response.context["form"].errors.as_data()["entry_period"]
    assert refusal.code == "invalid_choice"
    assert refusal.messages[0] in response.content.decode()  # shown with the field
    assert 'value="李明"' in response.content.decode()  # what was typed is kept
    assert not Visitor.objects.filter(unit=unit).exists()


def test_the_entry_days_are_taken_from_those_in_hand(
    signed_in, unit, edition, address, django_assert_max_num_queries
):
    signed_in.get("/accounts/visitors/add/mainland/")  # the edition's periods read and kept
    data = mainland(edition, address)
    with django_assert_max_num_queries(20) as saving:
        response = signed_in.post("/accounts/visitors/add/mainland/", data)
    assert response.status_code == 302
    assert Visitor.objects.get(unit=unit).entry_period == edition.entry_periods.first()
    assert not [q for q in saving.captured_queries if "ciie_portal_entryperiod" in q["sql"]]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_empty_form_kept_is_the_form_rendered_afresh(
    client, contact, unit, edition, other_contact, other_unit, language
):
    def fresh(person_type, of=unit):
        with translation.override(language):
            return as_crispy_form(
                VisitorForm(
                    unit=of,
                    person_type=person_type,
                    instance=Visitor(unit=of, edition=of.edition, person_type=person_type),
                )
            )

    def page(person_type, who=contact):
        client.force_login(who)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        return client.get(f"/accounts/visitors/add/{person_type}/").content.decode()

    DeliveryAddressFactory(unit=unit, address="崧泽大道111号")
    for person_type in PersonType.values:
        for _ in range(2):  # rendered, then kept
            assert fresh(person_type) in page(person_type)
    DeliveryAddressFactory(unit=unit, address="崧泽大道333号")
    EntryPeriodFactory(
        edition=edition, name="最后一天", name_en="Last day", first_day=edition.ends_on
    )
    again = page(PersonType.MAINLAND)
    assert fresh(PersonType.MAINLAND) in again and "崧泽大道333号" in again
    # Another unit's form holds its own addresses only.
    DeliveryAddressFactory(unit=other_unit, address="虹桥路222号")
    theirs = page(PersonType.MAINLAND, who=other_contact)
    assert fresh(PersonType.MAINLAND, of=other_unit) in theirs
    assert "虹桥路222号" in theirs and "崧泽大道" not in theirs


def test_the_list_filters_by_name_number_type_and_entry_day(signed_in, unit, edition):
    later = EntryPeriodFactory(edition=edition, name="后三天", first_day=edition.ends_on)
    alice = VisitorFactory(unit=unit, name="王甲")
    bob = VisitorFactory(unit=unit, name="赵乙", entry_period=later, person_type="hmt")

    def names(query):
        content = signed_in.get("/accounts/visitors/" + query).content.decode()
        return {v.name for v in (alice, bob) if v.name in content}

    assert names("?q=王") == {"王甲"}
    assert names(f"?q={bob.id_number}") == {"赵乙"}
    assert names("?person_type=hmt") == {"赵乙"}
    assert names(f"?entry_period={later.pk}") == {"赵乙"}


def test_the_visitor_list_and_dashboard_cost_the_same_for_1_or_200(
    signed_in, unit, django_assert_max_num_queries
):
    VisitorFactory(unit=unit)
    with django_assert_max_num_queries(20) as one_list:
        signed_in.get("/accounts/visitors/")
    with django_assert_max_num_queries(20) as one_dash:
        signed_in.get("/accounts/")
    VisitorFactory.create_batch(199, unit=unit)
    with django_assert_max_num_queries(len(one_list.captured_queries)):
        page = signed_in.get("/accounts/visitors/")
    assert page.content.decode().count("visitor-row") == 200
    with django_assert_max_num_queries(len(one_dash.captured_queries)):
        signed_in.get("/accounts/")


def _ready_unit(unit):
    Unit.objects.filter(pk=unit.pk).update(info_saved_at="2027-01-01T00:00:00Z")


def test_the_unit_cannot_be_submitted_without_a_submitted_visitor(signed_in, unit):
    _ready_unit(unit)
    VisitorFactory(unit=unit)  # saved, and incomplete
    response = signed_in.post("/accounts/submit/", {}, follow=True)
    assert "至少" in response.content.decode() or "at least" in response.content.decode()
    assert Unit.objects.get(pk=unit.pk).status == Unit.Status.DRAFT


def test_submitting_the_unit_with_its_visitors(signed_in, unit, edition, address, secretary):
    _ready_unit(unit)
    signed_in.post("/accounts/visitors/add/mainland/", mainland(edition, address))
    visitor = Visitor.objects.get()
    edition.auto_approve_categories = []
    edition.save()
    response = signed_in.post(
        "/accounts/submit/", {"visitor": [visitor.pk], "sensitive_consent": "1"}
    )
    assert response.status_code == 302
    unit.refresh_from_db()
    visitor.refresh_from_db()
    assert unit.status == Unit.Status.SUBMITTED
    assert visitor.status == Visitor.Status.SUBMITTED
    assert AuditEntry.objects.filter(action="unit.submitted", actor=unit.account).exists()
    # The unit information is now read-only; visitors can still be added.
    assert 'name="name"' not in signed_in.get("/accounts/unit/").content.decode()
    response = signed_in.post(
        "/accounts/visitors/add/mainland/",
        mainland(edition, address, id_number=make_resident_id(12, birth="19850315")),
    )
    # (the birth date in the number is the same; the sex may differ)
    assert Visitor.objects.filter(unit=unit).count() in (1, 2)


def test_an_enterprise_is_approved_at_once_where_the_edition_says_so(
    signed_in, unit, edition, address
):
    _ready_unit(unit)
    edition.auto_approve_categories = ["enterprise"]
    edition.save()
    signed_in.post("/accounts/visitors/add/mainland/", mainland(edition, address))
    signed_in.post(
        "/accounts/submit/", {"visitor": [Visitor.objects.get().pk], "sensitive_consent": "1"}
    )
    assert Unit.objects.get(pk=unit.pk).status == Unit.Status.APPROVED
    entry = AuditEntry.objects.get(action="unit.approved")
    assert entry.actor_repr == "system"


def test_the_dashboard_shows_the_eight_steps(signed_in, unit):
    VisitorFactory(unit=unit, status=Visitor.Status.REVIEW_PASSED)
    VisitorFactory(unit=unit, status=Visitor.Status.PENDING_REVIEW)
    content = signed_in.get("/accounts/").content.decode()
    assert content.count("data-step=") == 8
    assert "1/2" in content  # visitor review: one of two reviewed


def test_the_dashboard_of_another_contact_shows_their_unit_only(unit, other_contact, other_unit):
    other = Client()
    other.force_login(other_contact)
    content = other.get("/accounts/").content.decode()
    assert other_unit.name in content
    assert unit.name not in content


def test_the_units_own_visitor_photo_is_served_and_never_cached(signed_in, unit):
    from django.core.files.base import ContentFile

    from tests.registration.images import image_file

    visitor = VisitorFactory(unit=unit)
    visitor.photo.save("p.jpg", ContentFile(image_file(fmt="JPEG").read()))

    response = signed_in.get(f"/accounts/visitors/{visitor.pk}/photo/")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
