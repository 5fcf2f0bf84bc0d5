"""Ceilings per client address and per account, kept in Django's cache.

The cache is Redis in real mode, shared by every web process, so the ceilings hold whichever
process answers and whatever session (or none) the client sends; in embedded mode it is the one
process's memory. Each ceiling is a counter per fixed window (``cache.add`` then
``cache.incr``: atomic on Redis and in the memory cache; on Redis both in one command,
``ciie_portal/redis_cache.py``), so a request at the same moment as another one can never slip
past it.

* Sign-in: failed passwords from one address, whatever the login names (django-axes locks one
  login name from one address after ``AXES_FAILURE_LIMIT``; this is the ceiling above it that
  stops one address trying a password on many accounts). Every sign-in attempt reserves a place
  first and gives it back when the password was right, so parallel attempts cannot pass it
  either. An attempt over the ceiling refuses the address for the whole window from then on,
  and while it is refused, no password is even checked.
* Licence OCR: readings per address and per signed-in account.

A cache that cannot be reached lets the request through (and logs it): sign-in is still
guarded by django-axes in the database, and code requests by their own limits in the database
(``registration.verification``).

Settings (read when used, with these defaults): ``LOGIN_FAILURES_PER_ADDRESS`` = 20 per
``LOGIN_FAILURES_PER_ADDRESS_MINUTES`` = 15; ``OCR_CALLS_PER_ADDRESS_PER_HOUR`` = 30;
``OCR_CALLS_PER_ACCOUNT_PER_DAY`` = 20.
"""

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

logger = logging.getLogger(__name__)

#: Prefix of every counter's cache key (tests give each test its own).
NAMESPACE = "limits"


def client_ip(request) -> str | None:
    """The visitor's address for rate limits: behind the proxies we trust, from X-Forwarded-For."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if proxies and len(forwarded) >= proxies and forwarded[-proxies]:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


class Limited(Exception):
    """A ceiling was reached: the message says which and when to try again."""

    def __init__(self, message: str, *, wait_seconds: int):
        super().__init__(message)
        self.wait_seconds = wait_seconds


def wait_text(seconds: int) -> str:
    """ "45 seconds", "12 minutes", "3 hours": how long until the next try, rounded up."""
    seconds = max(int(math.ceil(seconds)), 1)
    if seconds < 60:
        return ngettext("%(n)d second", "%(n)d seconds", seconds) % {"n": seconds}
    if seconds < 3600:
        minutes = -(-seconds // 60)
        return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
    hours = -(-seconds // 3600)
    return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class Counter:
    """One ceiling: at most ``limit`` per ``window`` seconds for one ``scope`` and identity."""

    scope: str
    limit: int
    window: int

    def _key(self, identity: str, now: float) -> tuple[str, float]:
        index = int(now // self.window)
        digest = hashlib.sha256(f"{self.scope}:{identity}".encode()).hexdigest()[:32]
        return f"{NAMESPACE}:{self.scope}:{digest}:{index}", (index + 1) * self.window - now

    def hit(self, identity: str) -> tuple[int, str | None, float]:
        """Count one; returns the count now, the key counted under and the seconds left."""
        key, left = self._key(identity, _now())
        try:
            if (add_and_incr := getattr(cache, "add_and_incr", None)) is not None:
                # Redis (ciie_portal/redis_cache.py): the same two steps in one command.
                return add_and_incr(key, timeout=self.window + 60), key, left
            # The key outlives its window, so ``incr`` never meets it expired inside it.
            cache.add(key, 0, timeout=self.window + 60)
            try:
                return cache.incr(key), key, left
            except ValueError:  # evicted between add and incr
                cache.add(key, 1, timeout=self.window + 60)
                return 1, key, left
        except Exception:  # noqa: BLE001 - the cache is down: see the module's docstring
            logger.exception("Rate limit %s not counted: the cache cannot be reached", self.scope)
            return 0, None, left

    def count(self, identity: str) -> tuple[int, float]:
        key, left = self._key(identity, _now())
        try:
            return int(cache.get(key, 0) or 0), left
        except Exception:  # noqa: BLE001
            logger.exception("Rate limit %s not read: the cache cannot be reached", self.scope)
            return 0, left

    @staticmethod
    def give_back(key: str | None) -> None:
        if key is None:
            return
        try:
            if (decr_if_present := getattr(cache, "decr_if_present", None)) is not None:
                decr_if_present(key)  # Redis: one command; nothing when its window is over
            else:
                cache.decr(key)
        except ValueError:
            pass  # its window is over
        except Exception:  # noqa: BLE001
            logger.exception("Rate limit place not given back: the cache cannot be reached")


# --- Sign-in --------------------------------------------------------------------------------


def _login_counter() -> Counter:
    return Counter(
        scope="login-failures",
        limit=getattr(settings, "LOGIN_FAILURES_PER_ADDRESS", 20),
        window=60 * getattr(settings, "LOGIN_FAILURES_PER_ADDRESS_MINUTES", 15),
    )


def _blocked_key(address: str) -> str:
    digest = hashlib.sha256(f"login-blocked:{address}".encode()).hexdigest()[:32]
    return f"{NAMESPACE}:login-blocked:{digest}"


def _blocked_for(address: str) -> float:
    """Seconds the address is still refused (0: not refused)."""
    try:
        until = cache.get(_blocked_key(address))
    except Exception:  # noqa: BLE001
        logger.exception("Sign-in ceiling not read: the cache cannot be reached")
        return 0
    return max(float(until) - _now(), 0) if until else 0


def _block(address: str, seconds: int) -> float:
    """Refuse the address for ``seconds`` from now (the first block stands); seconds left."""
    try:
        cache.add(_blocked_key(address), _now() + seconds, timeout=seconds)
    except Exception:  # noqa: BLE001
        logger.exception("Sign-in ceiling not set: the cache cannot be reached")
        return seconds
    return _blocked_for(address) or seconds


def _login_refusal(seconds_left: float) -> Limited:
    return Limited(
        _(
            "Too many failed sign-ins from your network address. No password can be checked "
            "from it for now: try again in %(wait)s."
        )
        % {"wait": wait_text(seconds_left)},
        wait_seconds=max(int(math.ceil(seconds_left)), 1),
    )


class LoginAttempt:
    """A place reserved under the per-address sign-in ceiling while a password is checked."""

    def __init__(self, key: str | None):
        self._key = key

    def succeeded(self) -> None:
        """The password was right: the attempt does not count as a failure."""
        Counter.give_back(self._key)
        self._key = None


def login_attempt(request) -> LoginAttempt:
    """Reserve a place for one password check from this request's address, or raise Limited.

    Call ``succeeded()`` on the result when the password was right; a failure keeps its place.
    """
    address = client_ip(request) if request is not None else None
    if not address:
        return LoginAttempt(None)
    if left := _blocked_for(address):
        raise _login_refusal(left)
    counter = _login_counter()
    count, key, _left = counter.hit(address)
    if count > counter.limit:
        Counter.give_back(key)  # a refused attempt checked no password: it is not a failure
        # From the moment the ceiling is reached, the address waits the whole window.
        raise _login_refusal(_block(address, counter.window))
    return LoginAttempt(key)


# --- Licence OCR ----------------------------------------------------------------------------


def ocr_call(request) -> None:
    """Count one licence reading for the address and (signed in) the account, or raise Limited."""
    per_address = Counter(
        scope="ocr-address",
        limit=getattr(settings, "OCR_CALLS_PER_ADDRESS_PER_HOUR", 30),
        window=3600,
    )
    address = client_ip(request)
    if address:
        count, _key, left = per_address.hit(address)
        if count > per_address.limit:
            raise Limited(
                _(
                    "Too many licences were read from your network address. Try again in "
                    "%(wait)s, or type the unit name and code by hand."
                )
                % {"wait": wait_text(left)},
                wait_seconds=max(int(math.ceil(left)), 1),
            )
    if request.user.is_authenticated:
        per_account = Counter(
            scope="ocr-account",
            limit=getattr(settings, "OCR_CALLS_PER_ACCOUNT_PER_DAY", 20),
            window=24 * 3600,
        )
        count, _key, left = per_account.hit(str(request.user.pk))
        if count > per_account.limit:
            raise Limited(
                _(
                    "This account has had too many licences read today. Try again in %(wait)s, "
                    "or type the unit name and code by hand."
                )
                % {"wait": wait_text(left)},
                wait_seconds=max(int(math.ceil(left)), 1),
            )
