"""Fixtures shared by the delegations tests."""

from tests.conftest import approved_unit_fixtures

# The tests here start after the delegation's review: ``unit`` and ``other_unit`` are approved.
unit, other_unit = approved_unit_fixtures()
