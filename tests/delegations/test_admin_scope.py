"""Secretaries see only their own delegation's subtree in the admin; nobody else's."""

import pytest

from tests.registration.factories import UnitFactory, VisitorFactory


@pytest.fixture
def science_unit(edition):
    from delegations.models import Delegation

    return UnitFactory(
        edition=edition, delegation=Delegation.objects.get(code="gd-science-technology")
    )


def _changelist(client, user, model):
    client.force_login(user)
    return client.get(f"/admin/registration/{model}/")


def test_a_sub_delegation_secretary_sees_only_their_units(
    client, secretary, unit, other_unit, science_unit
):
    page = _changelist(client, secretary, "unit")
    assert page.status_code == 200
    content = page.content.decode()
    assert unit.name in content
    assert other_unit.name not in content
    assert science_unit.name not in content


def test_a_trade_delegation_secretary_sees_all_sub_delegations(
    client, group_secretary, unit, other_unit, science_unit
):
    content = _changelist(client, group_secretary, "unit").content.decode()
    assert unit.name in content
    assert science_unit.name in content
    assert other_unit.name not in content


def test_another_delegations_secretary_gets_nothing(client, other_secretary, unit, other_unit):
    content = _changelist(client, other_secretary, "unit").content.decode()
    assert other_unit.name in content
    assert unit.name not in content
    assert client.get(f"/admin/registration/unit/{unit.pk}/change/").status_code in (302, 404)
    visitor = VisitorFactory(unit=unit)
    response = client.get(f"/admin/registration/visitor/{visitor.pk}/change/")
    assert response.status_code in (302, 404)
    assert visitor.name not in response.content.decode()


def test_visitor_lists_show_masked_id_numbers_only(client, secretary, unit):
    visitor = VisitorFactory(unit=unit)
    content = _changelist(client, secretary, "visitor").content.decode()
    assert visitor.name in content
    assert visitor.id_number_masked in content
    assert visitor.id_number not in content
    detail = client.get(f"/admin/registration/visitor/{visitor.pk}/change/").content.decode()
    assert visitor.id_number not in detail


def test_the_visitor_list_costs_the_same_queries_for_one_or_many(
    client, secretary, unit, django_assert_max_num_queries
):
    VisitorFactory(unit=unit)
    client.force_login(secretary)
    # Eight filters with their counts: one GROUP BY query each, whatever the row count.
    with django_assert_max_num_queries(30) as one:
        client.get("/admin/registration/visitor/")
    VisitorFactory.create_batch(500, unit=unit)
    with django_assert_max_num_queries(len(one.captured_queries)):
        page = client.get("/admin/registration/visitor/")
    assert page.status_code == 200


def test_finance_and_unit_contacts_see_no_units(client, finance, contact, unit):
    assert _changelist(client, finance, "unit").status_code == 403
    response = _changelist(client, contact, "unit")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_organiser_sees_every_delegation(client, organiser, unit, other_unit):
    content = _changelist(client, organiser, "unit").content.decode()
    assert unit.name in content
    assert other_unit.name in content


def test_visitor_photos_reach_only_staff_of_that_delegation(
    client, secretary, other_secretary, unit
):
    from django.core.files.base import ContentFile

    from tests.registration.images import image_file

    visitor = VisitorFactory(unit=unit)
    visitor.photo.save("p.jpg", ContentFile(image_file(fmt="JPEG").read()))
    url = f"/staff/visitors/{visitor.pk}/photo/"
    client.force_login(secretary)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert url in client.get(f"/admin/registration/visitor/{visitor.pk}/change/").content.decode()
    client.force_login(other_secretary)
    assert client.get(url).status_code == 404


def test_the_export_holds_only_the_selection_in_scope_with_masked_ids(
    client, secretary, unit, other_unit
):
    mine = VisitorFactory(unit=unit)
    theirs = VisitorFactory(unit=other_unit)
    client.force_login(secretary)
    response = client.post(
        "/admin/registration/visitor/",
        {"action": "export_csv", "_selected_action": [mine.pk, theirs.pk]},
    )
    content = response.content.decode("utf-8-sig")
    assert mine.name in content and mine.id_number_masked in content
    assert mine.id_number not in content
    assert theirs.name not in content


def test_autocomplete_offers_only_the_subtree(client, secretary, roles, guangzhou):
    from django.contrib.auth.models import Permission

    secretary.user_permissions.add(Permission.objects.get(codename="view_delegationquota"))
    client.force_login(secretary)
    response = client.get(
        "/admin/autocomplete/",
        {"app_label": "delegations", "model_name": "delegationquota", "field_name": "delegation",
         "term": "广东"},
    )  # fmt: skip
    names = [item["text"] for item in response.json()["results"]]
    assert names == ["广东广州交易分团"]


def test_a_secretary_sees_only_their_delegations(client, group_secretary, other_delegation):
    client.force_login(group_secretary)
    content = client.get("/admin/delegations/delegation/").content.decode()
    assert "广东科技交易分团" in content
    assert other_delegation.name not in content
    assert client.get(
        f"/admin/delegations/delegation/{other_delegation.pk}/change/"
    ).status_code in (302, 404)


def test_an_organiser_moves_a_unit_to_another_delegation_through_the_service(
    client, organiser, unit, other_delegation
):
    from ciie_portal.models import AuditEntry
    from tests.credentials.factories import reusing_visitor

    reusing = reusing_visitor(unit)
    client.force_login(organiser)
    response = client.post(
        f"/admin/registration/unit/{unit.pk}/change/",
        {
            "delegation": other_delegation.pk,
            "addresses-TOTAL_FORMS": "0",
            "addresses-INITIAL_FORMS": "0",
            "addresses-MIN_NUM_FORMS": "0",
            "addresses-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    unit.refresh_from_db()
    assert unit.delegation == other_delegation
    entry = AuditEntry.objects.get(action="unit.delegation_change", object_id=str(unit.pk))
    assert entry.actor == organiser
    # The delegation is printed on the card: last edition's credential cannot be reused.
    reusing.refresh_from_db()
    assert not reusing.reuse_eligible
