"""Browser tests: pytest-playwright driving Debian's Chromium against the live server."""

import os
import shutil

import pytest

from delegations.models import Delegation
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


# Chromium logs every Content-Security-Policy violation to the console ("Executing inline script
# violates the following Content Security Policy directive …", "Refused to load …"), enforced and
# report-only alike; the listener below adds one line per violation with the directive, the
# blocked URI and the place, in case a message ever goes unlogged.
CSP_MARKERS = ("Content Security Policy", "CSP violation")
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.effectiveDirective + " blocked " +
                (event.blockedURI || "inline") + " at " + event.sourceFile + ":" +
                event.lineNumber + " on " + event.documentURI);
});
"""


@pytest.fixture(autouse=True)
def csp_violations(browser, monkeypatch):
    """Fails the test if any page of any browser context it opened violated the policy.

    Every context — the ``page`` fixture's and those a test opens itself with
    ``browser.new_context()`` — reports its pages' console messages and uncaught errors here.
    """
    messages: list[str] = []
    new_context = browser.new_context

    def watched_context(*args, **kwargs):
        context = new_context(*args, **kwargs)
        context.add_init_script(CSP_LISTENER)
        context.on("console", lambda message: messages.append(_console_line(message)))
        context.on("weberror", lambda error: messages.append(f"page error: {error.error}"))
        return context

    monkeypatch.setattr(browser, "new_context", watched_context)
    yield messages
    violations = list(dict.fromkeys(m for m in messages if any(k in m for k in CSP_MARKERS)))
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations), pytrace=False)


def _console_line(message) -> str:
    try:
        url = message.page.url if message.page else ""
    except Exception:  # noqa: BLE001 - a closed page has no URL any more
        url = ""
    return f"console {message.type} on {url}: {message.text}"


@pytest.fixture
def guangzhou(db):
    # The browser journeys are transactional: their tables are emptied afterwards, reference
    # data included, so the delegation is made when missing.
    guangdong, _ = Delegation.objects.get_or_create(
        code="gd", defaults={"name": "广东交易团", "province_code": "440000"}
    )
    return Delegation.objects.get_or_create(
        code="gd-guangzhou", defaults={"name": "广东广州交易分团", "parent": guangdong}
    )[0]
