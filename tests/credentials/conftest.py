"""Fixtures shared by the credentials tests."""

import pytest
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
