"""The directory's admin: the list with its import link, hand edits rebuilding what search
reads (audited), listing and unlisting in bulk."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from ciie_portal import read_cache
from ciie_portal.models import AuditEntry
from registration.exhibitors.directory import (
    edition_has_exhibitors,
    exhibitor_refresh,
    exhibitors_set_listed,
)
from registration.exhibitors.models import Exhibitor

from .factories import ExhibitorFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(organiser):
    organiser.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="registration",
            codename__in=["view_exhibitor", "add_exhibitor", "change_exhibitor"],
        )
    )
    return organiser


def test_the_list_offers_the_import_to_who_may_import(client, edition, editor):
    ExhibitorFactory(edition=edition, name="列表展商")
    client.force_login(editor)
    page = client.get(reverse("admin:registration_exhibitor_changelist")).content.decode()
    assert "列表展商" in page and reverse("admin:registration_exhibitor_import") in page


def test_a_hand_edit_rebuilds_the_search_text_and_is_audited(edition, editor):
    exhibitor = ExhibitorFactory(edition=edition, name="旧名字")
    product = ProductFactory(exhibitor=exhibitor, name="轮椅", industry="35", search_text="")
    exhibitor.name = "新名字"
    exhibitor.save()
    exhibitor_refresh(exhibitor, actor=editor, changed={"name"})
    exhibitor.refresh_from_db()
    product.refresh_from_db()
    assert "xinmingzi" in exhibitor.search_text and "lunyi" in exhibitor.search_text
    assert product.search_text.startswith("轮椅 ")
    assert exhibitor.industries == ["35"]
    assert AuditEntry.objects.filter(action="exhibitor.change", object_id=str(exhibitor.pk))


def test_unlisting_hides_and_is_audited(edition, editor):
    read_cache.forget_all()
    first, second = ExhibitorFactory.create_batch(2, edition=edition)
    assert edition_has_exhibitors(edition.pk)
    changed = exhibitors_set_listed(Exhibitor.objects.all(), listed=False, actor=editor)
    assert changed == 2
    assert not edition_has_exhibitors(edition.pk)
    assert AuditEntry.objects.filter(action="exhibitor.unlisted").count() == 2
    assert exhibitors_set_listed(Exhibitor.objects.all(), listed=False, actor=editor) == 0
