"""The unit's own copy (PIPL art. 45): the signed-in unit contact downloads a ZIP of the unit's
and its visitors' data — full ID numbers, photos, the licence — and nothing of another unit;
at most three downloads an hour; each one audited."""

import io
import json
import zipfile

import pytest
from django.conf import settings
from django.core.files.base import ContentFile

from ciie_portal.models import AccessLogEntry, AuditEntry
from tests.registration.factories import DeliveryAddressFactory, VisitorFactory
from tests.registration.images import image_file

URL = "/accounts/my-data/"


@pytest.fixture
def in_english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def with_photo(unit, **values):
    visitor = VisitorFactory(unit=unit, **values)
    visitor.photo.save("p.jpg", ContentFile(image_file(fmt="JPEG").read()))
    return visitor


@pytest.fixture
def two_units(private_media, unit, other_unit):
    """Each unit has a licence, an address and two visitors, one with a photo."""
    for owner, prefix in ((unit, "本"), (other_unit, "他")):
        owner.licence.save("licence.png", ContentFile(image_file().read()))
        DeliveryAddressFactory(unit=owner, recipient=f"{prefix}收件人")
    mine = [with_photo(unit, name="本单位甲"), VisitorFactory(unit=unit, name="本单位乙")]
    theirs = [with_photo(other_unit, name="他单位甲"), VisitorFactory(unit=other_unit)]
    return mine, theirs


def download(client):
    response = client.post(URL)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/zip"
    assert response["Cache-Control"] == "private, no-store"
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_the_page_explains_and_offers_the_download(client, in_english, contact):
    client.force_login(contact)
    page = client.get(URL).content.decode()
    assert "Personal Information Protection Law" in page
    assert 'method="post"' in page
    assert URL in client.get("/accounts/").content.decode()


def test_the_zip_holds_the_units_data_and_nothing_of_another_unit(
    client, contact, unit, other_unit, two_units
):
    mine, theirs = two_units
    client.force_login(contact)
    archive = download(client)
    names = set(archive.namelist())
    assert names == {
        "unit.json",
        "visitors.json",
        "licence.png",
        f"photos/{mine[0].reference}.jpg",
    }
    assert archive.read("licence.png") == unit.licence.open("rb").read()
    assert archive.read(f"photos/{mine[0].reference}.jpg") == mine[0].photo.open("rb").read()

    data = json.loads(archive.read("unit.json"))
    assert data["unit"]["name"] == unit.name and data["unit"]["uscc"] == unit.uscc
    assert data["unit"]["licence"] == "licence.png"
    assert data["account"]["login_name"] == contact.username
    assert [a["recipient"] for a in data["addresses"]] == ["本收件人"]
    assert data["exported_at"] and data["time_zone"] == "Asia/Shanghai"

    visitors = json.loads(archive.read("visitors.json"))
    assert [v["reference"] for v in visitors] == [v.reference for v in mine]
    assert [v["id_number"] for v in visitors] == [v.id_number for v in mine]
    assert all(len(v["id_number"]) == 18 for v in visitors)  # full, not masked
    assert visitors[0]["photo"] == f"photos/{mine[0].reference}.jpg"
    assert visitors[1]["photo"] is None
    assert "id_number_encrypted" not in visitors[0] and "id_number_index" not in visitors[0]
    assert {"status", "label", "entry_period", "created_at"} <= set(visitors[0])

    everything = b"".join(archive.read(name) for name in names).decode("utf-8", "ignore")
    for stranger in theirs:
        assert stranger.reference not in everything
        assert stranger.id_number not in everything
        assert stranger.name not in everything
    assert other_unit.name not in everything and "他收件人" not in everything
    assert not AccessLogEntry.objects.exists()  # the unit's own data: not a staff access


def test_each_download_is_audited(client, contact, unit, two_units):
    client.force_login(contact)
    download(client)
    [entry] = AuditEntry.objects.filter(action="unit.data_exported")
    assert entry.actor == contact and entry.object_id == str(unit.pk)
    assert entry.data == {"visitors": 2, "photos": 1, "licence": True}


def test_the_fourth_download_within_an_hour_is_refused(client, in_english, contact, unit):
    client.force_login(contact)
    for _ in range(3):
        download(client)
    refused = client.post(URL)
    assert refused.status_code == 429
    assert "can be downloaded 3 times an hour" in refused.content.decode()
    assert int(refused["Retry-After"]) > 0
    assert AuditEntry.objects.filter(action="unit.data_exported").count() == 3


def test_the_limit_is_per_unit(client, contact, other_contact, unit, other_unit):
    client.force_login(contact)
    for _ in range(3):
        download(client)
    client.force_login(other_contact)
    download(client)


def test_only_a_signed_in_unit_contact_gets_it(client, organiser):
    response = client.post(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(organiser)  # staff without a unit of their own
    assert client.post(URL).status_code == 404
    assert client.get(URL).status_code == 404
    assert not AuditEntry.objects.filter(action="unit.data_exported").exists()
