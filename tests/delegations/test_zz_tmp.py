import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.registration.factories import VisitorFactory

pytestmark = pytest.mark.urls("tests.delegations.overview_urls")


def test_q(client, secretary, organiser, unit, guangdong):
    VisitorFactory(unit=unit)
    for user, url in [
        (secretary, "/staff/overview/"),
        (organiser, f"/staff/overview/?delegation={guangdong.pk}"),
        (secretary, "/filters-admin/registration/visitor/"),
        (secretary, "/staff/mail/"),
    ]:
        client.force_login(user)
        with CaptureQueriesContext(connection) as c:
            r = client.get(url)
        print(url, r.status_code, len(c.captured_queries))
        for q in c.captured_queries:
            print("   ", q["sql"][:160])
