"""证件发放: printed credentials go by courier in parcels of at most ten (one unit, address and
recipient each) with a tracking number and an SMS, or on a delegation's pick-up list that its
secretary confirms collected; the unit follows it all on its issuance page."""

import io
import itertools
import json
from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from ciie_portal.models import AuditEntry, Notice
from credentials.issuance.selectors import issuance_counts
from credentials.issuance.services import (
    parcel_ship,
    parcels_pack,
    pickup_list_hand_over,
    pickup_lists_make,
)
from credentials.models import Credential, Parcel, ParcelItem, PickupList, PrintBatch, ProductionJob
from registration.models import Label, Pickup, Visitor
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.conftest import on_postgres
from tests.races import run_at_once
from tests.registration.factories import (
    ApprovedUnitFactory,
    DeliveryAddressFactory,
    UserFactory,
    VisitorFactory,
)

PARCELS = "/admin/credentials/parcel/"
LISTS = "/admin/credentials/pickuplist/"
PAGE = "/accounts/credentials/"

# What ciie_portal/roles.py is to give: the credential office (制证) and organisers all of it,
# secretaries their delegation's pick-up lists (and parcels, read-only).
OFFICE_PERMISSIONS = [
    "view_parcel",
    "view_parcelitem",
    "view_pickuplist",
    "view_pickupitem",
    "issue_credentials",
    "hand_over_pickuplist",
]
SECRETARY_PERMISSIONS = [
    "view_parcel",
    "view_parcelitem",
    "view_pickuplist",
    "view_pickupitem",
    "hand_over_pickuplist",
]

_serial = itertools.count(1)


@pytest.fixture
def client():
    """Pages in English: the assertions read the English texts."""
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def _grant(user, codenames):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="credentials", codename__in=codenames)
    )
    return user


@pytest.fixture
def office(db):
    return _grant(UserFactory(is_staff=True), OFFICE_PERMISSIONS)


@pytest.fixture
def gz_secretary(secretary):
    return _grant(secretary, SECRETARY_PERMISSIONS)


@pytest.fixture
def gd_secretary(group_secretary):
    return _grant(group_secretary, SECRETARY_PERMISSIONS)


@pytest.fixture
def zj_secretary(other_secretary):
    return _grant(other_secretary, SECRETARY_PERMISSIONS)


def _batch(edition, status=PrintBatch.Status.PRINTED) -> PrintBatch:
    n = next(_serial)
    return PrintBatch.objects.create(
        number=f"TB{n:06d}",
        edition=edition,
        job=ProductionJob.objects.create(edition=edition),
        status=status,
        sheet_sha256="0" * 64,
        manifest_sha256="0" * 64,
        cards=1,
        sheets=1,
        first_number="-",
        last_number="-",
        printed_at=timezone.now() if status == PrintBatch.Status.PRINTED else None,
    )


@pytest.fixture
def printed(edition):
    return _batch(edition)


def _credential(visitor, batch) -> Credential:
    n = next(_serial)
    return Credential.objects.create(
        edition=visitor.edition,
        visitor=visitor,
        sequence=n,
        number=f"T{n:09d}",
        label=visitor.label or Label.VISITOR,
        first_day=date(2027, 11, 5),
        last_day=date(2027, 11, 10),
        name=visitor.name,
        unit_name=visitor.unit.name,
        card_data_hash="0" * 64,
        qr_payload=f"qr-{n}",
        job=batch.job,
        print_batch=batch,
    )


def _holder(unit, *, address=None, pickup=Pickup.COURIER, **values) -> Visitor:
    return VisitorFactory(
        unit=unit,
        status=Visitor.Status.REVIEW_PASSED,
        label=Label.VISITOR,
        pickup=pickup,
        address=address,
        **values,
    )


def _couriered(unit, address, batch, count=1) -> list[Credential]:
    return [_credential(_holder(unit, address=address), batch) for _ in range(count)]


def _picked_up(unit, batch, count=1) -> list[Credential]:
    return [_credential(_holder(unit, pickup=Pickup.DELEGATION), batch) for _ in range(count)]


def _revoke(credential):
    Credential.objects.filter(pk=credential.pk).update(
        status=Credential.Status.REVOKED, revoked_at=timezone.now()
    )


def _sizes(parcels):
    return sorted((p.items.count() for p in parcels), reverse=True)


# --- Packing ------------------------------------------------------------------------------------


def test_thirteen_credentials_for_one_address_make_a_parcel_of_ten_and_one_of_three(
    edition, unit, printed, office
):
    address = DeliveryAddressFactory(unit=unit, recipient="王收件", mobile="13900001111")
    credentials = _couriered(unit, address, printed, 13)

    result = parcels_pack(edition=edition, actor=office)

    assert (result.parcels, result.credentials) == (2, 13)
    parcels = list(Parcel.objects.order_by("number"))
    assert _sizes(parcels) == [10, 3]
    first, second = parcels
    assert [item.position for item in first.items.order_by("position")] == list(range(1, 11))
    assert {item.credential_id for p in parcels for item in p.items.all()} == {
        c.pk for c in credentials
    }
    assert {(p.unit_id, p.recipient, p.mobile, p.status) for p in parcels} == {
        (unit.pk, "王收件", "13900001111", Parcel.Status.PACKED)
    }
    assert first.address_text.endswith("上海市青浦区崧泽大道333号")
    assert first.number != second.number and first.number.startswith("P10")
    assert AuditEntry.objects.filter(action="parcel.packed", actor=office).count() == 2


def test_the_database_refuses_an_eleventh_credential_and_a_credential_in_two_parcels(
    edition, unit, printed, office
):
    address = DeliveryAddressFactory(unit=unit)
    _couriered(unit, address, printed, 10)
    parcels_pack(edition=edition, actor=office)
    full = Parcel.objects.get()
    spare = _couriered(unit, address, printed)[0]
    packed = full.items.first().credential

    for position in (11, 0, 3):  # past ten, before one, a place already taken
        with pytest.raises(IntegrityError), transaction.atomic():
            ParcelItem.objects.create(parcel=full, credential=spare, position=position)
    other = Parcel.objects.create(
        number="P99000001", edition=edition, unit=unit, recipient="x", mobile="1", address_text="x"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ParcelItem.objects.create(parcel=other, credential=packed, position=1)
    assert full.items.count() == 10


def test_credentials_are_grouped_by_unit_address_and_recipient(edition, unit, printed, office):
    home = DeliveryAddressFactory(unit=unit, recipient="王收件", address="崧泽大道333号")
    # The same address saved twice (spacing aside) is one destination.
    copy = DeliveryAddressFactory(unit=unit, recipient="王 收件", address="崧泽大道 333号")
    colleague = DeliveryAddressFactory(unit=unit, recipient="李收件", address="崧泽大道333号")
    elsewhere = DeliveryAddressFactory(unit=unit, recipient="王收件", address="虹桥路1号")
    neighbour = ApprovedUnitFactory(edition=edition, delegation=unit.delegation)
    same_text = DeliveryAddressFactory(unit=neighbour, recipient="王收件", address="崧泽大道333号")
    together = _couriered(unit, home, printed, 2) + _couriered(unit, copy, printed)
    _couriered(unit, colleague, printed)
    _couriered(unit, elsewhere, printed)
    _couriered(neighbour, same_text, printed)

    parcels_pack(edition=edition, actor=office)

    assert Parcel.objects.count() == 4
    shared = Parcel.objects.get(items__credential=together[0])
    assert {item.credential_id for item in shared.items.all()} == {c.pk for c in together}
    assert shared.address_id == home.pk  # the first address saved
    assert Parcel.objects.filter(unit=neighbour).count() == 1


def test_only_active_printed_courier_credentials_are_packed_and_never_twice(
    edition, unit, printed, office
):
    address = DeliveryAddressFactory(unit=unit)
    ready = _couriered(unit, address, printed, 2)
    waiting = _couriered(unit, address, _batch(edition, PrintBatch.Status.MADE))[0]
    revoked = _couriered(unit, address, printed)[0]
    _revoke(revoked)
    _picked_up(unit, printed)
    homeless = _credential(_holder(unit, address=None), printed)
    cancelled = _couriered(unit, address, printed)[0]
    Visitor.objects.filter(pk=cancelled.visitor_id).update(status=Visitor.Status.CANCELLED)

    first = parcels_pack(edition=edition, actor=office)
    again = parcels_pack(edition=edition, actor=office)

    assert (first.parcels, first.credentials, first.without_address) == (1, 2, 1)
    assert (again.parcels, again.credentials) == (0, 0)
    packed = set(ParcelItem.objects.values_list("credential_id", flat=True))
    assert packed == {c.pk for c in ready}
    assert homeless.pk not in packed
    # Its print batch confirmed printed, the waiting credential goes in a new parcel.
    PrintBatch.objects.filter(pk=waiting.print_batch_id).update(
        status=PrintBatch.Status.PRINTED, printed_at=timezone.now()
    )
    later = parcels_pack(edition=edition, actor=office)
    assert (later.parcels, later.credentials) == (1, 1)
    assert Parcel.objects.get(items__credential=waiting).pk not in {
        p.pk for p in Parcel.objects.filter(items__credential__in=ready)
    }


def test_packing_for_one_delegation_leaves_the_others(
    edition, unit, other_unit, printed, office, guangdong
):
    _couriered(unit, DeliveryAddressFactory(unit=unit), printed)
    _couriered(other_unit, DeliveryAddressFactory(unit=other_unit), printed)

    result = parcels_pack(edition=edition, actor=office, delegation=guangdong)

    assert result.parcels == 1
    assert list(Parcel.objects.values_list("unit_id", flat=True)) == [unit.pk]


def test_a_revoked_credential_stays_in_its_parcel_shown_revoked_and_its_replacement_is_packed_anew(
    client, edition, unit, printed, office
):
    address = DeliveryAddressFactory(unit=unit)
    old, kept = _couriered(unit, address, printed, 2)
    parcels_pack(edition=edition, actor=office)
    parcel = Parcel.objects.get()
    _revoke(old)
    new = _credential(old.visitor, printed)

    result = parcels_pack(edition=edition, actor=office)

    assert result.credentials == 1
    assert Parcel.objects.get(items__credential=new).pk != parcel.pk
    assert set(parcel.items.values_list("credential_id", flat=True)) == {old.pk, kept.pk}
    client.force_login(office)
    html = client.get(f"{PARCELS}{parcel.pk}/change/").content.decode()
    assert old.number in html and 'class="revoked"' in html
    listing = client.get(PARCELS).content.decode()
    assert parcel.number in listing


# --- Shipping -----------------------------------------------------------------------------------


def _packed(edition, unit, printed, office, count=1, **address):
    parcels_pack(edition=edition, actor=office)
    _couriered(unit, DeliveryAddressFactory(unit=unit, **address), printed, count)
    result = parcels_pack(edition=edition, actor=office)
    return Parcel.objects.get(pk=result.parcel_ids[0])


def test_a_tracking_number_entered_in_the_admin_ships_the_parcel_and_texts_the_recipient_once(
    client, edition, unit, printed, office, django_capture_on_commit_callbacks, _outbox
):
    parcel = _packed(edition, unit, printed, office, count=2, mobile="13900002222")
    other = _packed(edition, unit, printed, office)
    client.force_login(office)

    page = client.post(
        PARCELS,
        {"action": "enter_tracking", "_selected_action": [parcel.pk, other.pk]},
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert parcel.number in html and f'name="tracking_{parcel.pk}"' in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            PARCELS,
            {
                "action": "enter_tracking",
                "_selected_action": [parcel.pk, other.pk],
                "apply_tracking": "1",
                "courier_all": "顺丰速运",
                f"tracking_{parcel.pk}": " sf 1234 5678 ",
                f"tracking_{other.pk}": "",  # not handed to the courier yet
            },
            follow=True,
        )

    assert "1 parcel shipped; its recipient is told by SMS." in response.content.decode()
    parcel.refresh_from_db()
    other.refresh_from_db()
    assert (parcel.status, parcel.courier, parcel.tracking_number) == (
        Parcel.Status.SHIPPED,
        "顺丰速运",
        "SF12345678",
    )
    assert parcel.shipped_by == office and parcel.shipped_at is not None
    assert other.status == Parcel.Status.PACKED
    notice = Notice.objects.get(event="parcel_shipped")
    assert (notice.recipient, notice.status) == ("13900002222", Notice.Status.SENT)
    [sms] = [json.loads(p.read_text()) for p in (_outbox / "sms").glob("*.json")]
    assert sms["to"] == "13900002222"
    assert "顺丰速运" in sms["text"] and "SF12345678" in sms["text"]
    assert AuditEntry.objects.filter(action="parcel.shipped", object_id=str(parcel.pk)).exists()

    # The same number again changes nothing and sends nothing; another number is refused.
    assert (
        parcel_ship(
            parcel_id=parcel.pk, courier="顺丰速运", tracking_number="SF12345678", actor=office
        )
        is False
    )
    refused = client.post(
        PARCELS,
        {
            "action": "enter_tracking",
            "_selected_action": [parcel.pk],
            "apply_tracking": "1",
            f"courier_{parcel.pk}": "顺丰速运",
            f"tracking_{parcel.pk}": "SF999",
        },
        follow=True,
    )
    assert "None of the selected parcels is waiting to be shipped." in refused.content.decode()
    parcel.refresh_from_db()
    assert parcel.tracking_number == "SF12345678"
    with pytest.raises(ValidationError) as refusal:
        parcel_ship(parcel_id=parcel.pk, courier="顺丰速运", tracking_number="SF999", actor=office)
    assert refusal.value.code == "shipped" and "SF12345678" in str(refusal.value)
    assert Notice.objects.filter(event="parcel_shipped").count() == 1


def test_a_tracking_number_of_another_parcel_is_refused_on_the_intermediate_page(
    client, edition, unit, printed, office
):
    first = _packed(edition, unit, printed, office)
    second = _packed(edition, unit, printed, office)
    parcel_ship(parcel_id=first.pk, courier="EMS", tracking_number="E1", actor=office)
    client.force_login(office)

    page = client.post(
        PARCELS,
        {
            "action": "enter_tracking",
            "_selected_action": [second.pk],
            "apply_tracking": "1",
            f"courier_{second.pk}": "EMS",
            f"tracking_{second.pk}": "E1",
        },
    )

    assert page.status_code == 200  # the page again, with the reason and what was typed
    html = page.content.decode()
    assert first.number in html and 'value="E1"' in html
    second.refresh_from_db()
    assert second.status == Parcel.Status.PACKED


def test_a_parcel_of_revoked_credentials_only_is_not_shipped(edition, unit, printed, office):
    parcel = _packed(edition, unit, printed, office)
    _revoke(parcel.items.get().credential)
    with pytest.raises(ValidationError) as refusal:
        parcel_ship(parcel_id=parcel.pk, courier="EMS", tracking_number="E2", actor=office)
    assert refusal.value.code == "all_revoked"
    assert Parcel.objects.get(pk=parcel.pk).status == Parcel.Status.PACKED
    assert not Notice.objects.exists()


def _xlsx(rows) -> SimpleUploadedFile:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile("tracking.xlsx", buffer.getvalue())


def test_the_exported_parcel_list_filled_in_and_imported_ships_the_parcels(
    client, edition, unit, printed, office
):
    a = _packed(edition, unit, printed, office, count=3, recipient="王收件")
    b = _packed(edition, unit, printed, office)
    client.force_login(office)

    export = client.post(PARCELS, {"action": "export_xlsx", "_selected_action": [a.pk, b.pk]})
    sheet = load_workbook(io.BytesIO(export.content)).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0][:3] == ["包裹号", "快递公司", "快递单号"]
    assert [row[0] for row in rows[1:]] == [a.number, b.number]
    assert rows[1][3] == "王收件" and rows[1][-1] == 3
    for row in rows[1:]:
        row[1], row[2] = "京东物流", f"JD{row[0]}"
    response = client.post(f"{PARCELS}import-tracking/", {"file": _xlsx(rows)}, follow=True)

    html = response.content.decode()
    assert 'id="tracking-report"' in html and 'id="refused-rows"' not in html
    assert set(Parcel.objects.values_list("status", flat=True)) == {Parcel.Status.SHIPPED}
    assert Parcel.objects.get(pk=a.pk).tracking_number == f"JD{a.number}"
    assert Notice.objects.filter(event="parcel_shipped").count() == 2


def test_the_tracking_import_reports_each_refused_row_and_changes_nothing_for_it(
    client, edition, unit, printed, office
):
    good, twice, shipped, same, missing = (
        _packed(edition, unit, printed, office) for _ in range(5)
    )
    parcel_ship(parcel_id=shipped.pk, courier="EMS", tracking_number="E100", actor=office)
    parcel_ship(parcel_id=same.pk, courier="EMS", tracking_number="E200", actor=office)
    client.force_login(office)
    upload = _xlsx(
        [
            ["包裹号", "快递公司", "快递单号"],
            [good.number, "EMS", "E300"],  # row 2: shipped
            ["P10999999", "EMS", "E301"],  # row 3: unknown parcel
            [twice.number, "EMS", "E302"],  # rows 4 and 5: the same parcel twice
            [twice.number, "EMS", "E303"],
            [shipped.number, "EMS", "E304"],  # row 6: already shipped with E100
            [same.number, "EMS", "E200"],  # row 7: already shipped with this number
            [missing.number, "EMS", None],  # row 8: no tracking number
        ]
    )

    response = client.post(f"{PARCELS}import-tracking/", {"file": upload})

    html = response.content.decode()
    assert response.status_code == 200
    assert "7 rows read: 1 shipped, 1 already shipped with this number, 5 refused." in html
    for row in (3, 4, 5, 6, 8):
        assert f'data-row="{row}"' in html
    assert 'data-row="2"' not in html and 'data-row="7"' not in html
    assert "P10999999" in html and "E100" in html
    statuses = dict(Parcel.objects.values_list("pk", "status"))
    assert statuses[good.pk] == statuses[shipped.pk] == Parcel.Status.SHIPPED
    assert statuses[twice.pk] == statuses[missing.pk] == Parcel.Status.PACKED
    assert Parcel.objects.get(pk=shipped.pk).tracking_number == "E100"
    assert Notice.objects.filter(event="parcel_shipped").count() == 3  # good, shipped, same


def test_a_file_that_is_not_a_workbook_is_refused_as_a_whole(client, office, edition):
    client.force_login(office)
    response = client.post(
        f"{PARCELS}import-tracking/", {"file": SimpleUploadedFile("x.xlsx", b"not a workbook")}
    )
    assert "not an Excel workbook" in response.content.decode()


def test_packing_from_the_admin_and_who_may(
    client, edition, unit, printed, office, gz_secretary, other_delegation
):
    _couriered(unit, DeliveryAddressFactory(unit=unit), printed, 3)
    client.force_login(office)
    page = client.get(f"{PARCELS}pack/")
    assert 'id="waiting"' in page.content.decode()
    assert "3" in page.content.decode()
    assert 'id="pack-parcels"' in client.get(PARCELS).content.decode()

    elsewhere = client.post(
        f"{PARCELS}pack/", {"delegation": str(other_delegation.pk)}, follow=True
    )
    assert "0 parcels packed with 0 credentials." in elsewhere.content.decode()
    response = client.post(f"{PARCELS}pack/", {"delegation": ""}, follow=True)

    assert "1 parcel packed with 3 credentials." in response.content.decode()
    assert Parcel.objects.count() == 1
    client.force_login(gz_secretary)
    assert client.get(f"{PARCELS}pack/").status_code == 403
    assert client.post(f"{PARCELS}pack/").status_code == 403
    assert client.get(f"{PARCELS}import-tracking/").status_code == 403
    assert 'id="pack-parcels"' not in client.get(PARCELS).content.decode()


def test_a_secretary_sees_only_the_parcels_of_their_delegation(
    client, edition, unit, other_unit, printed, office, gz_secretary, zj_secretary
):
    ours = _packed(edition, unit, printed, office)
    theirs = _packed(edition, other_unit, printed, office)
    client.force_login(gz_secretary)
    listing = client.get(PARCELS).content.decode()
    assert ours.number in listing and theirs.number not in listing
    assert client.get(f"{PARCELS}{theirs.pk}/change/").status_code in (302, 404)
    client.force_login(zj_secretary)
    assert ours.number not in client.get(PARCELS).content.decode()


def test_the_parcel_list_costs_the_same_queries_for_one_parcel_or_many(
    client, edition, unit, printed, office
):
    _packed(edition, unit, printed, office)
    client.force_login(office)
    client.get(PARCELS)  # the current edition read into the shared cache first
    with CaptureQueriesContext(connection) as one:
        client.get(PARCELS)
    for _ in range(4):
        _packed(edition, unit, printed, office, count=2)
    with CaptureQueriesContext(connection) as many:
        client.get(PARCELS)
    assert len(many) == len(one)


# --- Delegation pick-up lists -------------------------------------------------------------------


def test_one_pick_up_list_per_delegation_per_run(
    edition, unit, other_unit, printed, office, guangzhou, other_delegation
):
    ours = _picked_up(unit, printed, 2)
    sister = ApprovedUnitFactory(edition=edition, delegation=guangzhou)
    ours += _picked_up(sister, printed)
    theirs = _picked_up(other_unit, printed)
    _couriered(unit, DeliveryAddressFactory(unit=unit), printed)  # not for a list

    result = pickup_lists_make(edition=edition, actor=office)
    again = pickup_lists_make(edition=edition, actor=office)

    assert (result.lists, result.credentials) == (2, 4)
    assert (again.lists, again.credentials) == (0, 0)
    gz = PickupList.objects.get(delegation=guangzhou)
    assert {i.credential_id for i in gz.items.all()} == {c.pk for c in ours}
    zj = PickupList.objects.get(delegation=other_delegation)
    assert [i.credential_id for i in zj.items.all()] == [theirs[0].pk]
    assert gz.status == PickupList.Status.PREPARED and gz.prepared_by == office
    # A credential made later goes on a new list of the same delegation.
    late = _picked_up(unit, printed)[0]
    pickup_lists_make(edition=edition, actor=office)
    assert PickupList.objects.filter(delegation=guangzhou).count() == 2
    assert PickupList.objects.get(items__credential=late).pk != gz.pk


def test_the_secretary_prints_the_list_and_confirms_the_hand_over(
    client, edition, unit, printed, office, gz_secretary
):
    credentials = _picked_up(unit, printed, 2)
    pickup_lists_make(edition=edition, actor=office)
    _revoke(credentials[1])  # after the list was made: shown revoked, not to hand over
    pickup_list = PickupList.objects.get()
    client.force_login(gz_secretary)

    listing = client.get(LISTS).content.decode()
    assert pickup_list.number in listing and "Confirm hand-over" in listing
    printed_page = client.get(f"{LISTS}{pickup_list.pk}/print/").content.decode()
    for credential in credentials:
        visitor = credential.visitor
        assert credential.number in printed_page and visitor.name in printed_page
        assert visitor.id_number_masked in printed_page and visitor.id_number not in printed_page
    assert unit.name in printed_page and "js/print-button.js" in printed_page
    assert printed_page.count('class="item revoked"') == 1

    form = client.get(f"{LISTS}{pickup_list.pk}/hand-over/")
    assert form.status_code == 200
    empty = client.post(f"{LISTS}{pickup_list.pk}/hand-over/", {"received_by_name": " "})
    assert empty.status_code == 200
    pickup_list.refresh_from_db()
    assert pickup_list.status == PickupList.Status.PREPARED
    done = client.post(
        f"{LISTS}{pickup_list.pk}/hand-over/",
        {"received_by_name": "陈领取", "received_by_phone": "020-38819873"},
        follow=True,
    )

    assert "陈领取" in done.content.decode()
    pickup_list.refresh_from_db()
    assert pickup_list.status == PickupList.Status.HANDED_OVER
    assert (pickup_list.received_by_name, pickup_list.received_by_phone) == (
        "陈领取",
        "020-38819873",
    )
    assert pickup_list.handed_over_by == gz_secretary
    assert AuditEntry.objects.filter(action="pickup_list.handed_over").count() == 1
    # Twice changes nothing.
    assert not pickup_list_hand_over(
        pickup_list_id=pickup_list.pk, received_by_name="别人", actor=office
    )
    again = client.post(
        f"{LISTS}{pickup_list.pk}/hand-over/", {"received_by_name": "别人"}, follow=True
    )
    assert "already handed over" in again.content.decode()
    pickup_list.refresh_from_db()
    assert pickup_list.received_by_name == "陈领取"


def test_another_delegations_secretary_can_neither_see_nor_confirm_the_list(
    client, edition, unit, printed, office, zj_secretary, gd_secretary
):
    _picked_up(unit, printed)
    pickup_lists_make(edition=edition, actor=office)
    pickup_list = PickupList.objects.get()
    client.force_login(zj_secretary)

    assert pickup_list.number not in client.get(LISTS).content.decode()
    assert client.get(f"{LISTS}{pickup_list.pk}/print/").status_code == 404
    assert client.get(f"{LISTS}{pickup_list.pk}/hand-over/").status_code == 404
    posted = client.post(f"{LISTS}{pickup_list.pk}/hand-over/", {"received_by_name": "冒领"})
    assert posted.status_code == 404
    assert client.get(f"{LISTS}{pickup_list.pk}/change/").status_code in (302, 404)
    pickup_list.refresh_from_db()
    assert pickup_list.status == PickupList.Status.PREPARED
    # The trade delegation's secretary sees its sub-delegation's list.
    client.force_login(gd_secretary)
    assert pickup_list.number in client.get(LISTS).content.decode()
    assert client.get(f"{LISTS}{pickup_list.pk}/print/").status_code == 200


def test_preparing_lists_is_for_the_credential_office(client, edition, unit, printed, office):
    _picked_up(unit, printed, 2)
    client.force_login(office)
    response = client.post(f"{LISTS}make/", {"delegation": ""}, follow=True)
    assert "1 pick-up list prepared with 2 credentials." in response.content.decode()
    assert PickupList.objects.count() == 1


# --- The unit's page and the dashboard counts ---------------------------------------------------


def test_the_unit_sees_how_each_of_its_credentials_is_issued_and_nothing_of_other_units(
    client, edition, unit, other_unit, contact, other_contact, printed, office
):
    shipped = _couriered(unit, DeliveryAddressFactory(unit=unit), printed)[0]
    collected = _picked_up(unit, printed)[0]
    waiting = _couriered(unit, DeliveryAddressFactory(unit=unit), _batch(edition, "made"))[0]
    foreign = _couriered(other_unit, DeliveryAddressFactory(unit=other_unit), printed)[0]
    parcels_pack(edition=edition, actor=office)
    pickup_lists_make(edition=edition, actor=office)
    parcel = Parcel.objects.get(items__credential=shipped)
    parcel_ship(parcel_id=parcel.pk, courier="顺丰速运", tracking_number="SF777", actor=office)
    parcel_ship(
        parcel_id=Parcel.objects.get(items__credential=foreign).pk,
        courier="EMS",
        tracking_number="E888",
        actor=office,
    )
    client.force_login(contact)

    html = client.get(PAGE).content.decode()

    for credential in (shipped, collected, waiting):
        assert credential.number in html
    assert "顺丰速运" in html and "SF777" in html and "View shipping" in html
    assert "Collected by the delegation" in html and "awaiting collection" in html
    assert foreign.number not in html and "E888" not in html
    assert shipped.visitor.id_number not in html
    pickup_list_hand_over(
        pickup_list_id=PickupList.objects.get().pk, received_by_name="陈领取", actor=office
    )
    assert "handed over to the delegation" in client.get(PAGE).content.decode()

    client.force_login(other_contact)
    theirs = client.get(PAGE).content.decode()
    assert foreign.number in theirs and "E888" in theirs
    assert shipped.number not in theirs and "SF777" not in theirs


def test_the_unit_page_costs_the_same_queries_for_one_credential_or_many(
    client, edition, unit, contact, printed, office
):
    address = DeliveryAddressFactory(unit=unit)
    _couriered(unit, address, printed)
    parcels_pack(edition=edition, actor=office)
    client.force_login(contact)
    client.get(PAGE)  # the current edition read into the shared cache first
    with CaptureQueriesContext(connection) as one:
        assert client.get(PAGE).status_code == 200
    _couriered(unit, address, printed, 12)
    _picked_up(unit, printed, 3)
    parcels_pack(edition=edition, actor=office)
    pickup_lists_make(edition=edition, actor=office)
    with CaptureQueriesContext(connection) as many:
        client.get(PAGE)
    assert len(many) == len(one)


def test_a_staff_account_without_a_unit_gets_no_issuance_page(client, office, edition):
    client.force_login(office)
    assert client.get(PAGE).status_code == 404


def test_issuance_counts_count_active_credentials_and_those_issued(
    edition, unit, other_unit, printed, office, django_assert_num_queries
):
    address = DeliveryAddressFactory(unit=unit)
    shipped = _couriered(unit, address, printed, 2)
    _couriered(other_unit, DeliveryAddressFactory(unit=other_unit), printed, 3)
    parcels_pack(edition=edition, actor=office)
    parcel_ship(
        parcel_id=Parcel.objects.get(items__credential=shipped[0]).pk,
        courier="EMS",
        tracking_number="E1",
        actor=office,
    )
    packed_only = _couriered(unit, DeliveryAddressFactory(unit=unit, recipient="李"), printed)
    parcels_pack(edition=edition, actor=office)
    handed, prepared = _picked_up(unit, printed), _picked_up(unit, printed)
    pickup_lists_make(edition=edition, actor=office)
    pickup_list_hand_over(
        pickup_list_id=PickupList.objects.get().pk, received_by_name="陈", actor=office
    )
    _revoke(shipped[1])  # no longer counted at all
    assert handed and prepared and packed_only

    with django_assert_num_queries(1):
        counts = issuance_counts(unit)

    # Active: 1 shipped + 1 packed + 2 on the handed-over list; issued: 1 + 2.
    assert counts == {"produced": 4, "issued": 3}


# --- Two packing runs at once (PostgreSQL) ------------------------------------------------------


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_two_packing_runs_at_once_pack_each_credential_once():
    edition = EditionFactory(number=11)
    EntryPeriodFactory(edition=edition)
    office = UserFactory(is_staff=True)
    batch = _batch(edition)
    credentials = []
    for _ in range(3):
        unit = ApprovedUnitFactory(edition=edition)
        credentials += _couriered(unit, DeliveryAddressFactory(unit=unit), batch, 12)
    races = run_at_once(*[lambda: parcels_pack(edition=edition, actor=office)] * 2)
    results = [race.value for race in races if race.ok]
    errors = [race.error for race in races if not race.ok]

    assert errors == []
    assert sum(r.credentials for r in results) == len(credentials) == 36
    assert ParcelItem.objects.count() == 36
    assert set(ParcelItem.objects.values_list("credential_id", flat=True)) == {
        c.pk for c in credentials
    }
    assert _sizes(Parcel.objects.all()) == [10, 10, 10, 2, 2, 2]
    assert Parcel.objects.values("number").distinct().count() == 6


def test_dashboard_and_overview_count_production_and_issuance(
    client, edition, unit, printed, office, organiser
):
    """Steps 7 and 8 of the unit's dashboard (n/m) and the delegation overview's counts."""
    from delegations.views_overview import _credential_progress
    from registration.selectors import unit_progress

    address = DeliveryAddressFactory(unit=unit)
    shipped = _couriered(unit, address, printed, count=2)
    _picked_up(unit, printed, count=1)
    revoked = _couriered(unit, address, printed, count=1)[0]
    _revoke(revoked)
    _holder(unit)  # passed, no credential yet
    parcels_pack(edition=edition, actor=office)
    parcel = Parcel.objects.get(items__credential=shipped[0])
    parcel_ship(parcel_id=parcel.pk, courier="顺丰", tracking_number="SF100200300", actor=office)

    steps = {step["key"]: step for step in unit_progress(unit)["steps"]}
    # 5 passed visitors: 3 with an active credential, 2 of them in the shipped parcel.
    assert (steps["production"]["n"], steps["production"]["m"]) == (3, 5)
    assert (steps["issuance"]["n"], steps["issuance"]["m"]) == (2, 5)
    assert not steps["production"]["done"]

    counts = _credential_progress(Visitor.objects.filter(unit=unit))
    assert (counts["produced"], counts["issued"], counts["passed"]) == (3, 2, 5)
    client.force_login(unit.account)
    html = client.get("/accounts/").content.decode()
    assert 'data-step="production"' in html and "3/5" in html and "2/5" in html
