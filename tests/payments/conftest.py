"""Fixtures shared by the payments tests."""

import pytest

from tests.registration.factories import ApprovedUnitFactory


# Labels, lock, orders, payments, the visitor review and production need a unit its delegation
# approved (delegations.gates): the shared ``unit`` fixtures are approved units here.
@pytest.fixture
def unit(edition, guangzhou):
    return ApprovedUnitFactory(edition=edition, delegation=guangzhou)


@pytest.fixture
def other_unit(edition, other_delegation):
    return ApprovedUnitFactory(edition=edition, delegation=other_delegation)
