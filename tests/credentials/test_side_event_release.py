"""A visitor who can no longer attend — cancelled (注销) or failed in the visitor review —
gives back their side-event place, which goes to the first one waiting, in the same
transaction; the sign-ups of events already started stay as they were."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ciie_portal.models import AuditEntry
from credentials.review.cancellation import visitors_cancel
from credentials.review.services import review_results_import
from registration.models import Visitor
from registration.side_events.models import SideEventSignup
from registration.side_events.services import side_event_signup
from tests.credentials.test_review import (  # noqa: F401 (fixtures)
    _in_english,
    awaiting,
    exported,
    line,
    result_file,
    reviewer,
    upload,
)
from tests.registration.side_event_factories import side_event, submitted_visitor

pytestmark = pytest.mark.django_db

S = SideEventSignup.Status


def statuses(event):
    return dict(SideEventSignup.objects.filter(event=event).values_list("visitor__name", "status"))


def test_a_cancelled_visitors_place_goes_to_the_first_waiting(unit, edition):
    event = side_event(edition, capacity=1)
    first, second = submitted_visitor(unit, name="甲"), submitted_visitor(unit, name="乙")
    side_event_signup(event=event, unit=unit, visitor_ids=[first.pk, second.pk], actor=None)
    assert statuses(event) == {"甲": S.CONFIRMED, "乙": S.WAITING}

    visitors_cancel(visitors=Visitor.objects.filter(pk=first.pk), actor=unit.account)

    assert statuses(event) == {"甲": S.CANCELLED, "乙": S.CONFIRMED}
    cancelled = AuditEntry.objects.get(action="side_event_signup.cancelled")
    assert cancelled.object_id == str(SideEventSignup.objects.get(visitor=first).pk)


def test_an_event_already_started_keeps_its_list(unit, edition):
    event = side_event(edition, capacity=1)
    visitor = submitted_visitor(unit, name="甲")
    side_event_signup(event=event, unit=unit, visitor_ids=[visitor.pk], actor=None)
    event.starts_at = timezone.now() - timedelta(minutes=1)
    event.save(update_fields=["starts_at"])
    visitors_cancel(visitors=Visitor.objects.filter(pk=visitor.pk), actor=unit.account)
    assert statuses(event) == {"甲": S.CONFIRMED}


def test_a_visitor_who_failed_the_review_gives_back_the_place(reviewer, unit, edition):  # noqa: F811
    event = side_event(edition, capacity=1)
    failing, waiting = awaiting(unit, name="丙"), awaiting(unit, name="丁")
    side_event_signup(event=event, unit=unit, visitor_ids=[failing.pk, waiting.pk], actor=None)
    assert statuses(event) == {"丙": S.CONFIRMED, "丁": S.WAITING}
    exported(reviewer, edition)
    content = result_file([line(failing, "不通过", "证件信息不符"), line(waiting, "通过")])
    review_results_import(rows_file=upload(content), edition=edition, actor=reviewer)
    assert statuses(event) == {"丙": S.CANCELLED, "丁": S.CONFIRMED}
