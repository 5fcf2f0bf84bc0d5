import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _messages_in_english():
    """Service messages are asserted in English (the msgids), whatever language an earlier
    request left active in the thread; pages still follow the request's language."""
    with translation.override("en"):
        yield
