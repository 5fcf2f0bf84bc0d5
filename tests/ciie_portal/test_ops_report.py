"""manage.py ops_report: the operational figures for a terminal, as a table or JSON, for the whole
portal or one delegation."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ciie_portal.models import Notice
from tests.registration.factories import VisitorFactory


def _report(*args) -> str:
    out = StringIO()
    call_command("ops_report", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def queued(edition):
    return Notice.objects.create(
        key="report:1",
        event="test",
        channel="sms",
        recipient="13912345678",
        template="verification_code",
        edition=edition,
    )


def test_the_table_lists_every_figure_with_its_values(queued, unit):
    VisitorFactory.create_batch(2, unit=unit)
    table = _report("--language", "en")
    lines = table.splitlines()
    assert lines[0].split() == ["Figure", "Labels", "Value"]
    assert set(lines[1]) <= {"-", " "}
    [queued_line] = [line for line in lines if "channel=sms, state=queued" in line]
    assert queued_line.startswith("Notices waiting, sending or failed")
    assert queued_line.rstrip().endswith(" 1")
    [rate] = [line for line in lines if line.startswith("Visitors registered per minute")]
    assert "window=1m" in rate and rate.rstrip().endswith("2/min")
    assert any(line.rstrip().endswith(" s") for line in lines)  # the oldest notice's age
    assert "Payments flagged for finance" in table
    # No mobile number of the notice ever reaches the report.
    assert "13912345678" not in table


def test_json_carries_the_values_and_the_admin_links(queued):
    report = json.loads(_report("--json", "--language", "en"))
    by_name = {figure["name"]: figure for figure in report["figures"]}
    assert report["edition_id"] == queued.edition_id
    assert report["delegation_id"] is None
    notices = by_name["notices"]
    assert {"labels": {"channel": "sms", "state": "queued"}, "value": 1} in notices["samples"]
    assert notices["admin_url"] == "/admin/ciie_portal/notice/?status__exact=failed"
    assert notices["label"] == "Notices waiting, sending or failed"
    assert by_name["notice_oldest_waiting_seconds"]["unit"] == "seconds"


def test_a_delegation_sees_its_own_scoped_figures(queued, unit, other_unit, guangzhou):
    VisitorFactory.create_batch(3, unit=unit)
    VisitorFactory(unit=other_unit)
    report = json.loads(_report("--json", "--delegation", guangzhou.code))
    by_name = {figure["name"]: figure for figure in report["figures"]}
    assert report["delegation_id"] == guangzhou.pk
    assert "notices" not in by_name  # the whole portal's
    samples = by_name["visitor_registrations_per_minute"]["samples"]
    assert {"labels": {"window": "1m"}, "value": 3} in samples


def test_an_unknown_delegation_or_edition_is_an_error(db):
    with pytest.raises(CommandError, match="No delegation"):
        _report("--delegation", "nowhere")
    with pytest.raises(CommandError, match="No edition"):
        _report("--edition", "99")


def test_another_edition_by_number(edition, queued):
    from tests.ciie_portal.factories import EditionFactory

    other = EditionFactory(number=9)
    report = json.loads(_report("--json", "--edition", "9"))
    assert report["edition_id"] == other.pk
    notices = {figure["name"]: figure for figure in report["figures"]}["notices"]
    assert all(sample["value"] == 0 for sample in notices["samples"])
