"""Fixtures shared by the credentials tests."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.utils import translation

from tests.conftest import approved_unit_fixtures

# The tests here start after the delegation's review: ``unit`` and ``other_unit`` are approved.
unit, other_unit = approved_unit_fixtures()


# The production tests use these three: ``pytestmark = pytest.mark.usefixtures(*PRODUCTION)``.
PRODUCTION = ("private_storage", "empty_cache", "in_english")


@pytest.fixture
def private_storage(private_media):
    return private_media


@pytest.fixture
def empty_cache():
    """The revocation list is cached: no test sees another's."""
    cache.clear()


@pytest.fixture
def in_english():
    """Services called directly write their texts (revocation reasons) in English."""
    with translation.override("en"):
        yield


def production_permissions():
    codenames = [
        "view_credential",
        "revoke_credential",
        "view_productionjob",
        "add_productionjob",
        "change_productionjob",
        "view_printbatch",
        "confirm_printbatch",
    ]
    return Permission.objects.filter(content_type__app_label="credentials", codename__in=codenames)


@pytest.fixture
def credential_office(roles):
    """制证: a member of the credential office with the production permissions."""
    from ciie_portal.roles import CREDENTIAL_OFFICE
    from tests.registration.factories import UserFactory

    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=CREDENTIAL_OFFICE))
    user.user_permissions.add(*production_permissions())
    return user


# --- The gate ------------------------------------------------------------------------------


@pytest.fixture
def gate_staff(db):
    """入场核验: staff with the gate permission only."""
    from tests.registration.factories import UserFactory

    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="check_credential"))
    return user


@pytest.fixture
def credentials(edition, unit, private_media):
    """Credentials of the current edition, made by a production run: one valid today (王小明,
    VIP), one for later days, one revoked."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from credentials.entry.rules import today_in_shanghai
    from credentials.models import Credential
    from credentials.production.services import (
        credentials_revoke,
        production_job_run,
        production_job_start,
    )
    from registration.models import Label, Pickup, Visitor
    from tests.ciie_portal.factories import EntryPeriodFactory
    from tests.credentials.test_production import jpeg
    from tests.registration.factories import VisitorFactory

    cache.clear()
    today = today_in_shanghai()
    around_today = EntryPeriodFactory(
        edition=edition, name="今天", first_day=today - timedelta(days=1), last_day=today
    )
    later = EntryPeriodFactory(
        edition=edition,
        name="以后",
        first_day=today + timedelta(days=3),
        last_day=today + timedelta(days=5),
    )
    photo = default_storage.save("visitor-photos/photo.jpg", ContentFile(jpeg()))
    made = {}
    for key, name, period, label in (
        ("today", "王小明", around_today, Label.VIP),
        ("later", "Anna Schmidt", later, Label.VISITOR),
        ("revoked", "李雷", around_today, Label.STAFF),
    ):
        made[key] = VisitorFactory(
            unit=unit,
            name=name,
            status=Visitor.Status.REVIEW_PASSED,
            label=label,
            entry_period=period,
            pickup=Pickup.COURIER,
            photo=photo,
        )
    job = production_job_start(edition=edition, actor=None)
    assert production_job_run(job_id=job.pk) == "done"
    result = {key: visitor.credentials.get() for key, visitor in made.items()}
    credentials_revoke(
        credentials=Credential.objects.filter(pk=result["revoked"].pk), reason="lost", actor=None
    )
    return result
