import time

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from ciie_portal import crypto
from ciie_portal.models import AuditEntry
from registration.models import IdType, PersonType, Visitor
from registration.services import visitor_create
from tests.ciie_portal.factories import EditionFactory
from tests.conftest import on_postgres
from tests.races import run_at_once
from tests.registration.factories import UnitFactory, VisitorFactory, make_resident_id

NUMBER = make_resident_id(7, birth="19880723", region="440106")


def _raw_row(visitor):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id_number_encrypted, id_number_index, id_number_masked "
            "FROM registration_visitor WHERE id = %s",
            [visitor.pk],
        )
        return cursor.fetchone()


def test_it_stores_the_id_number_encrypted_with_a_masked_copy(unit, contact):
    visitor = visitor_create(
        unit=unit,
        actor=contact,
        person_type=PersonType.MAINLAND,
        name="李明",
        id_type=IdType.RESIDENT_ID,
        id_number=NUMBER,
    )
    encrypted, index, masked = _raw_row(visitor)
    assert NUMBER not in encrypted
    assert NUMBER not in index
    assert masked == f"{NUMBER[:3]}****{NUMBER[-3:]}"
    assert Visitor.objects.get(pk=visitor.pk).id_number == NUMBER
    assert AuditEntry.objects.filter(action="visitor.create", actor=contact).count() == 1


def test_it_finds_a_visitor_by_exact_id_number_whatever_the_spacing(unit):
    visitor = VisitorFactory(unit=unit, id_number=NUMBER)
    spaced = f" {NUMBER[:6]} {NUMBER[6:14]} {NUMBER[14:].lower()} "
    assert list(Visitor.objects.with_id_number(spaced)) == [visitor]
    assert not Visitor.objects.with_id_number(make_resident_id(8)).exists()


def _add_li_ming(unit, contact, number):
    return visitor_create(
        unit=unit,
        actor=contact,
        person_type=PersonType.MAINLAND,
        name="李明",
        id_type=IdType.RESIDENT_ID,
        id_number=number,
    )


def test_one_id_number_is_one_visitor_per_edition_across_units(unit, other_unit, contact):
    VisitorFactory(unit=other_unit, id_number=NUMBER)
    with pytest.raises(ValidationError) as error:
        _add_li_ming(unit, contact, NUMBER.lower())
    message = " ".join(error.value.message_dict["id_number"])
    assert "already registered" in message or "已" in message
    assert other_unit.name not in message
    assert Visitor.objects.filter(unit=unit).count() == 0


def test_the_database_refuses_a_duplicate_even_without_the_service(unit, other_unit):
    VisitorFactory(unit=other_unit, id_number=NUMBER)
    with pytest.raises(IntegrityError):
        VisitorFactory(unit=unit, id_number=NUMBER)


def test_the_same_id_number_may_register_again_in_another_edition(unit):
    VisitorFactory(unit=unit, id_number=NUMBER)
    later = UnitFactory(edition=EditionFactory(number=unit.edition.number + 1))
    assert VisitorFactory(unit=later, id_number=NUMBER).id_number == NUMBER


def test_it_refuses_an_invalid_number_before_storing(unit, contact):
    with pytest.raises(ValidationError):
        visitor_create(
            unit=unit,
            actor=contact,
            person_type=PersonType.MAINLAND,
            name="李明",
            id_type=IdType.RESIDENT_ID,
            id_number=NUMBER[:-1] + ("0" if NUMBER[-1] != "0" else "1"),
        )
    assert not Visitor.objects.exists()


def test_old_keys_still_decrypt_after_rotation(unit, settings):
    visitor = VisitorFactory(unit=unit, id_number=NUMBER)
    settings.ID_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.ID_ENCRYPTION_KEYS]
    crypto._fernet.cache_clear()
    try:
        assert Visitor.objects.get(pk=visitor.pk).id_number == NUMBER
        settings.ID_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
        crypto._fernet.cache_clear()
        with pytest.raises(ValueError):
            Visitor.objects.get(pk=visitor.pk).id_number  # noqa: B018
    finally:
        crypto._fernet.cache_clear()


def test_the_blind_index_depends_on_the_key(settings):
    first = crypto.blind_index(NUMBER)
    settings.ID_INDEX_KEY = "another-key-" + "x" * 40
    assert crypto.blind_index(NUMBER) != first


def test_each_visitor_gets_a_short_unique_reference(unit):
    visitors = VisitorFactory.create_batch(20, unit=unit)
    references = {v.reference for v in visitors}
    assert len(references) == 20
    assert all(len(r) == 9 and r.startswith("V") for r in references)


def test_adding_a_visitor_checks_the_number_in_its_insert(
    unit, contact, django_assert_max_num_queries
):
    with django_assert_max_num_queries(20) as adding:
        _add_li_ming(unit, contact, NUMBER)
    on_visitors = [q["sql"] for q in adding.captured_queries if "registration_visitor" in q["sql"]]
    assert [sql.split(" ", 1)[0] for sql in on_visitors] == ["INSERT"]


@on_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_units_entering_one_number_at_the_same_moment_get_the_clear_message():
    """The other unit's insert is not committed yet when this one's arrives: the database makes
    this one wait, then skips it once the other commits. The contact reads the same message,
    nothing of this save stays and the connection goes on serving."""

    edition = EditionFactory(number=10, is_current=True)
    unit, other_unit = UnitFactory(edition=edition), UnitFactory(edition=edition)
    contact, other_contact = unit.account, other_unit.account

    def the_other_unit_first():
        with transaction.atomic():
            _add_li_ming(other_unit, other_contact, NUMBER)
            time.sleep(0.6)  # still uncommitted while this unit's insert arrives

    def this_unit_a_moment_later():
        time.sleep(0.2)
        started = time.monotonic()
        try:
            _add_li_ming(unit, contact, NUMBER)
        finally:
            waited.append(time.monotonic() - started)

    waited = []
    first, later = run_at_once(the_other_unit_first, this_unit_a_moment_later)
    assert first.ok, first.error
    assert isinstance(later.error, ValidationError), later
    assert "already registered" in " ".join(later.error.message_dict["id_number"])
    assert waited[0] > 0.2  # it waited for the other transaction
    assert list(Visitor.objects.values_list("unit", flat=True)) == [other_unit.pk]
    assert not AuditEntry.objects.filter(action="visitor.create", actor=contact).exists()
    assert VisitorFactory(unit=unit).unit == unit  # the connection still serves
