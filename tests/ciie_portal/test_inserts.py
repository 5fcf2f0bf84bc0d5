"""``insert_new`` and ``insert_all``: one INSERT for any number of rows, whose text does not grow
with them, the rows written as given and their keys set on the right objects."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ciie_portal.inserts import insert_all, insert_new
from ciie_portal.models import Notice, OutboxMessage
from tests.ciie_portal.factories import EditionFactory
from tests.conftest import on_postgres

pytestmark = pytest.mark.django_db


def _notices(keys, **values):
    now = timezone.now()
    return [
        Notice(
            key=key,
            event="pay_now",
            channel=Notice.Channel.SMS if n % 2 else Notice.Channel.EMAIL,
            recipient=f"unit{n}@example.com",
            template="pay_now",
            params={"unit": f"上海测试贸易有限公司 {n}", "count": n, "nested": [n, None]},
            next_attempt_at=now + timedelta(minutes=n),
            **values,
        )
        for n, key in enumerate(keys)
    ]


def test_insert_all_writes_every_row_and_gives_each_object_its_own_key():
    messages = [
        OutboxMessage(task=f"task.{n}", args=[n], kwargs={"n": n}, publish_after=timezone.now())
        for n in range(250)
    ]
    assert insert_all(messages) == messages
    stored = OutboxMessage.objects.in_bulk([message.pk for message in messages])
    assert len(stored) == 250
    for message in messages:
        row = stored[message.pk]
        assert (row.task, row.args, row.kwargs) == (message.task, message.args, message.kwargs)
        assert not message._state.adding


def test_insert_new_skips_the_taken_keys_and_returns_the_others():
    [taken] = insert_new(_notices(["k-1"]), key=["key"])
    rows = _notices(["k-0", "k-1", "k-2"])
    inserted = insert_new(rows, key=["key"])
    assert [notice.key for notice in inserted] == ["k-0", "k-2"]
    assert rows[1].pk is None
    stored = {notice.key: notice for notice in Notice.objects.all()}
    assert stored["k-1"].pk == taken.pk
    for notice in inserted:
        row = stored[notice.key]
        assert row.pk == notice.pk
        assert (row.channel, row.recipient, row.params) == (
            notice.channel,
            notice.recipient,
            notice.params,
        )
        assert row.next_attempt_at == notice.next_attempt_at
        assert row.edition_id is None and row.sent_at is None


@on_postgres
def test_the_statement_is_the_same_for_one_row_or_five_hundred():
    with CaptureQueriesContext(connection) as one:
        insert_new(_notices(["one"]), key=["key"])
    with CaptureQueriesContext(connection) as many:
        insert_new(_notices([f"many-{n}" for n in range(500)]), key=["key"])
    [single], [batch] = one.captured_queries, many.captured_queries

    def without_rows(sql):
        # The logged SQL has the rows' document in it: the statement around it.
        before, rest = sql.split("json_to_recordset(")
        return before, rest.rsplit("::json)")[1]

    assert without_rows(single["sql"]) == without_rows(batch["sql"])
    assert Notice.objects.count() == 501


@on_postgres
def test_a_column_may_be_filled_by_the_database_in_the_same_statement():
    edition = EditionFactory()
    rows = _notices(["a", "b"])
    with CaptureQueriesContext(connection) as queries:
        inserted = insert_new(rows, key=["key"], database={"edition_id": f"(SELECT {edition.pk})"})
    assert len(queries) == 1
    assert [notice.edition_id for notice in inserted] == [edition.pk, edition.pk]
    assert set(Notice.objects.values_list("edition_id", flat=True)) == {edition.pk}


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the other databases' path")
def test_elsewhere_the_database_cannot_fill_a_column():
    with pytest.raises(ValueError, match="PostgreSQL"):
        insert_new(_notices(["a"]), key=["key"], database={"edition_id": "(SELECT 1)"})
