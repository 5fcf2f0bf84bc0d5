"""A database restored, or a server started, with the wrong ID_ENCRYPTION_KEY: the pages that
read ID numbers say so with a 503 for the organiser to act on, instead of a 500."""

import gc
import logging

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import Group

from ciie_portal import crypto
from ciie_portal.middleware import KeysMismatchMiddleware
from ciie_portal.roles import SECURITY_REVIEWER
from credentials.models import ReviewBatch
from registration.models import Label, Visitor
from tests.registration.factories import ApprovedUnitFactory, UserFactory, VisitorFactory

MESSAGE = "The stored personal data cannot be read with this server's keys."
ORGANISER_MESSAGE = (
    "The organiser must start the server with the keys that belong to this database "
    "(ID_ENCRYPTION_KEY, ID_INDEX_KEY)."
)


@pytest.fixture
def other_keys(settings):
    """Call it to give this server keys that are not the data's, as after a restore under
    the wrong ``ID_ENCRYPTION_KEY``."""

    def switch():
        settings.ID_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
        crypto._fernet.cache_clear()

    yield switch
    crypto._fernet.cache_clear()


def _errors(caplog):
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_the_decryption_error_is_still_a_value_error(unit, other_keys):
    visitor = VisitorFactory(unit=unit)
    other_keys()
    with pytest.raises(crypto.KeysMismatch) as error:
        Visitor.objects.get(pk=visitor.pk).id_number  # noqa: B018
    assert isinstance(error.value, ValueError)


def test_the_visitor_page_says_the_keys_do_not_match(client, contact, unit, other_keys, caplog):
    visitor = VisitorFactory(unit=unit)
    client.force_login(contact)
    assert client.get(f"/accounts/visitors/{visitor.pk}/").status_code == 200
    other_keys()

    with caplog.at_level(logging.INFO):
        response = client.get(f"/accounts/visitors/{visitor.pk}/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 503
    page = response.content.decode()
    assert MESSAGE in page and ORGANISER_MESSAGE in page
    assert 'data-error="keys-mismatch"' in page
    assert "no-store" in response["Cache-Control"]
    # One error, from the middleware, with the traceback: not another from django.request.
    [error] = _errors(caplog)
    assert error.name == "ciie_portal.middleware"
    assert "ID_ENCRYPTION_KEY" in error.getMessage()
    assert error.exc_info and isinstance(error.exc_info[1], crypto.KeysMismatch)
    # The ID number is in neither the page nor the log.
    assert visitor.id_number_masked not in error.getMessage()

    # The next one is one line again, without repeating the traceback.
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert client.get(f"/accounts/visitors/{visitor.pk}/").status_code == 503
    [again] = _errors(caplog)
    assert again.name == "ciie_portal.middleware" and not again.exc_info


def test_the_page_is_in_chinese_by_default(client, contact, unit, other_keys):
    visitor = VisitorFactory(unit=unit)
    client.force_login(contact)
    other_keys()
    response = client.get(f"/accounts/visitors/{visitor.pk}/")
    assert response.status_code == 503
    page = response.content.decode()
    assert '<html lang="zh-hans">' in page
    assert "ID_ENCRYPTION_KEY" in page


def test_with_the_right_keys_again_the_page_is_back(client, contact, unit, settings, other_keys):
    visitor = VisitorFactory(unit=unit)
    right = settings.ID_ENCRYPTION_KEYS
    client.force_login(contact)
    other_keys()
    assert client.get(f"/accounts/visitors/{visitor.pk}/").status_code == 503
    settings.ID_ENCRYPTION_KEYS = right
    crypto._fernet.cache_clear()
    assert client.get(f"/accounts/visitors/{visitor.pk}/").status_code == 200


# The export's spreadsheet writer, abandoned mid-row by the error, complains when collected.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_admin_export_of_id_numbers_says_it_too(
    client, roles, edition, guangzhou, other_keys, caplog
):
    """The security review's export is the admin page that shows whole ID numbers."""
    unit = ApprovedUnitFactory(edition=edition, delegation=guangzhou)
    VisitorFactory(unit=unit, status=Visitor.Status.PENDING_REVIEW, label=Label.VISITOR)
    reviewer = UserFactory(is_staff=True)
    reviewer.groups.add(Group.objects.get(name=SECURITY_REVIEWER))
    client.force_login(reviewer)
    other_keys()

    with caplog.at_level(logging.INFO):
        response = client.post(
            "/admin/credentials/reviewbatch/export/", {"limit": 100}, HTTP_ACCEPT_LANGUAGE="en"
        )

    assert response.status_code == 503
    assert ORGANISER_MESSAGE in response.content.decode()
    assert [error.name for error in _errors(caplog)] == ["ciie_portal.middleware"]
    # Nothing was half-exported: the batch was rolled back with the error.
    assert not ReviewBatch.objects.exists()
    gc.collect()


def test_the_secretarys_visitor_page_needs_no_key(client, secretary, unit, other_keys):
    """The admin's visitor pages show the masked copy, stored apart, so that a secretary can
    still work through the queue while the organiser fixes the keys."""
    visitor = VisitorFactory(unit=unit)
    client.force_login(secretary)
    other_keys()
    response = client.get(f"/admin/registration/visitor/{visitor.pk}/change/")
    assert response.status_code == 200
    assert visitor.id_number_masked in response.content.decode()


def test_other_errors_are_left_alone(rf):
    middleware = KeysMismatchMiddleware(lambda request: None)
    assert middleware.process_exception(rf.get("/"), ValueError("not about keys")) is None
