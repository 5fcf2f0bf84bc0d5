from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import translation

from ciie_portal.choices import UnitCategory
from ciie_portal.models import AuditEntry, Edition, NoCurrentEdition
from ciie_portal.services import edition_make_current
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory


def test_there_is_exactly_one_current_edition(db, organiser):
    ninth = EditionFactory(number=9, is_current=True)
    tenth = EditionFactory(number=10)
    edition_make_current(edition=tenth, actor=organiser)
    assert Edition.objects.current() == tenth
    ninth.refresh_from_db()
    assert not ninth.is_current
    entry = AuditEntry.objects.get(action="edition.make_current")
    assert (entry.from_state, entry.to_state, entry.actor) == ("9", "10", organiser)


def test_the_database_refuses_two_current_editions(db):
    EditionFactory(number=9, is_current=True)
    with pytest.raises(IntegrityError):
        EditionFactory(number=10, is_current=True)


def test_without_a_current_edition_the_error_says_what_to_do(db):
    EditionFactory(number=9)
    with pytest.raises(NoCurrentEdition, match="demo_load"):
        Edition.objects.current()


@pytest.mark.parametrize(
    ("fee", "percent", "expected"),
    [
        ("200.00", "50.00", "100.00"),
        ("100.00", "33.33", "33.33"),
        ("0.05", "50.00", "0.03"),  # half a fen rounds up
        ("200.00", "0", "0.00"),
    ],
)
def test_the_reuse_fee_is_an_exact_percentage(db, fee, percent, expected):
    edition = EditionFactory(reuse_fee_percent=Decimal(percent))
    result = edition.reuse_fee(Decimal(fee))
    assert result == Decimal(expected)
    assert isinstance(result, Decimal)


def test_rules_by_category_and_payment_method(db):
    edition = EditionFactory(
        auto_approve_categories=[UnitCategory.ENTERPRISE],
        invitation_code_categories=[UnitCategory.GOVERNMENT],
    )
    assert edition.is_auto_approved(UnitCategory.ENTERPRISE)
    assert not edition.is_auto_approved(UnitCategory.GOVERNMENT)
    assert edition.needs_invitation_code(UnitCategory.GOVERNMENT)
    assert not edition.needs_invitation_code(UnitCategory.ENTERPRISE)
    assert edition.payment_deadline("transfer") == edition.transfer_deadline
    assert edition.payment_deadline("qr") == edition.online_payment_deadline
    assert edition.transfer_deadline < edition.online_payment_deadline


def test_clean_refuses_inconsistent_settings(db):
    edition = EditionFactory.build(
        number=30,
        auto_approve_categories=["enterprise", "bank"],
    )
    edition.ends_on = edition.starts_on.replace(day=1)
    with pytest.raises(ValidationError) as error:
        edition.full_clean()
    assert set(error.value.message_dict) >= {"ends_on", "auto_approve_categories"}


def test_entry_periods_must_lie_within_the_expo(db):
    edition = EditionFactory()
    period = EntryPeriodFactory.build(
        edition=edition, first_day=edition.starts_on.replace(day=1), last_day=edition.ends_on
    )
    with translation.override("zh-hans"), pytest.raises(ValidationError, match="入场日期须在"):
        period.full_clean()


def test_the_organiser_edits_an_edition_in_the_admin(client, organiser, edition):
    client.force_login(organiser)
    page = client.get(f"/admin/ciie_portal/edition/{edition.pk}/change/")
    assert page.status_code == 200
    content = page.content.decode()
    assert edition.name in content
    assert 'name="auto_approve_categories"' in content
    assert 'name="entry_periods-0-fee"' in content


def test_the_make_current_action_switches_editions(client, organiser, edition):
    other = EditionFactory(number=11)
    client.force_login(organiser)
    response = client.post(
        "/admin/ciie_portal/edition/",
        {"action": "make_current", "_selected_action": [other.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert Edition.objects.current() == other


def test_a_secretary_cannot_change_editions(client, secretary, edition):
    client.force_login(secretary)
    assert client.get(f"/admin/ciie_portal/edition/{edition.pk}/change/").status_code == 403
