"""The landing page's delegation directory and entry periods, kept in the shared cache: read
from the database once, read anew as soon as a delegation, a contact or a period changes, and
kept apart per language."""

import re

from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from delegations.models import Delegation, DelegationContact
from tests.delegations.factories import DelegationFactory


def _landing(client, language="zh-hans") -> str:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    # The page as the visitor reads it: each answer has its own CSRF token and CSP nonce.
    return re.sub(
        r'(name="csrfmiddlewaretoken" value|nonce)="[^"]*"',
        r'\1=""',
        client.get("/").content.decode(),
    )


def test_it_reads_the_directory_once_and_then_serves_it_kept(
    client, edition, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as read:
        first = _landing(client)
    with CaptureQueriesContext(connection) as kept:
        again = _landing(client)
    assert again == first
    sqls = " ".join(q["sql"] for q in kept.captured_queries)
    assert "delegations_delegation" not in sqls
    assert "ciie_portal_entryperiod" not in sqls
    # Thirty more delegations: read anew once, with no more queries than before.
    parent = DelegationFactory()
    for _ in range(30):
        DelegationFactory(parent=parent)
    with django_assert_max_num_queries(len(read.captured_queries)):
        assert parent.name in _landing(client)
    with django_assert_max_num_queries(len(kept.captured_queries)):
        _landing(client)


def test_a_changed_contact_shows_at_once(client, edition):
    assert "郭映琦、杨保志" in _landing(client)
    contact = DelegationContact.objects.get(persons="郭映琦、杨保志")
    contact.persons = "王新联"
    contact.save()
    content = _landing(client)
    assert "王新联" in content
    assert "郭映琦、杨保志" not in content


def test_a_deleted_or_new_delegation_shows_at_once(client, edition):
    assert "上海交易团" not in _landing(client)
    shanghai = DelegationFactory(name="上海交易团", name_en="Shanghai Trading Delegation")
    assert "上海交易团" in _landing(client)
    assert "Shanghai Trading Delegation" in _landing(client, "en")
    shanghai.delete()
    assert "上海交易团" not in _landing(client)
    assert "Shanghai Trading Delegation" not in _landing(client, "en")


def test_a_renamed_entry_period_shows_at_once(client, edition):
    assert "全程" in _landing(client)
    period = edition.entry_periods.get()
    period.name = "全部六天"
    period.save()
    assert "全部六天" in _landing(client)


def test_each_language_gets_its_own_directory(client, edition):
    chinese = _landing(client)
    english = _landing(client, "en")
    # Kept now in both languages: each still gets its own.
    assert _landing(client) == chinese
    assert _landing(client, "en") == english
    assert "广东广州交易分团" in chinese and "Guangzhou Sub-delegation" not in chinese
    assert "Guangzhou Sub-delegation" in english and "广东广州交易分团" not in english
    assert "交易团联系方式" in chinese and "Delegation contacts" in english


def test_a_search_is_never_served_from_the_kept_directory(client, edition):
    _landing(client)
    content = client.get("/?q=gz").content.decode()
    assert "广东广州交易分团" in content
    assert "广东科技交易分团" not in content
    inactive = Delegation.objects.get(code="gd-guangzhou")
    inactive.is_active = False
    inactive.save()
    assert "广东广州交易分团" not in _landing(client)
