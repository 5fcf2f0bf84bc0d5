"""Browser tests: pytest-playwright driving Debian's Chromium against the live server."""

import os
import shutil

import pytest

from tests.conftest import approved_unit_fixtures

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

# Playwright's sync API runs an event loop in this thread; the tests still only touch the
# database between browser steps, never concurrently with it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.skipif(
    not shutil.which(CHROMIUM), reason="needs Chromium (apt-get install chromium)"
)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def browser_context_args(browser_context_args, request):
    """``@pytest.mark.parametrize("browser_language", ["zh-CN", "en-US"])`` and
    ``@pytest.mark.phone`` choose the language and the screen."""
    callspec = getattr(request.node, "callspec", None)
    language = callspec.params.get("browser_language", "zh-CN") if callspec else "zh-CN"
    args = {**browser_context_args, "locale": language}
    if request.node.get_closest_marker("phone"):
        args.update(PHONE)
    return args


# The tests here start after the delegation's review: ``unit`` and ``other_unit`` are approved.
unit, other_unit = approved_unit_fixtures()
