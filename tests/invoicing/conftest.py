import pytest
from django.utils import translation

from tests.conftest import approved_unit_fixtures


@pytest.fixture(autouse=True)
def _messages_in_english():
    """Service messages are asserted in English (the msgids), whatever language an earlier
    request left active in the thread; pages still follow the request's language."""
    with translation.override("en"):
        yield


# The tests here start after the delegation's review: ``unit`` and ``other_unit`` are approved.
unit, other_unit = approved_unit_fixtures()
