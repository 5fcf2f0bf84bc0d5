import pytest
from django.utils import translation

from tests.registration.factories import ApprovedUnitFactory


@pytest.fixture(autouse=True)
def _messages_in_english():
    """Service messages are asserted in English (the msgids), whatever language an earlier
    request left active in the thread; pages still follow the request's language."""
    with translation.override("en"):
        yield


# Labels, lock, orders, payments, the visitor review and production need a unit its delegation
# approved (delegations.gates): the shared ``unit`` fixtures are approved units here.
@pytest.fixture
def unit(edition, guangzhou):
    return ApprovedUnitFactory(edition=edition, delegation=guangzhou)


@pytest.fixture
def other_unit(edition, other_delegation):
    return ApprovedUnitFactory(edition=edition, delegation=other_delegation)
