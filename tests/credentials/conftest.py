"""Fixtures shared by the credentials tests."""

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
