"""One-time verification codes (SMS or email): 6 digits, valid 5 minutes, stored hashed.

At most one code per 60 seconds and ten per day for one number (or address) — and, for codes
asked for an account by its login name, for one login name and channel — and ten per day from
one client address; each code allows five attempts.

Race-proof: a code request locks one ``VerificationLock`` row per number, login name and client
address (``SELECT … FOR UPDATE``, in one order) before it counts and records, so requests at the
same moment are counted one after the other; an attempt is taken with one conditional UPDATE
(``attempts = attempts + 1 WHERE attempts < 5``), so parallel guesses get five tries in all.

No account enumeration: a code asked for by login name (``code_send_for_account`` and
``code_verify_for_account``) does the same work and gives the same answer whether the name is an
account or not. For an unknown name (or an account without a mobile number / email address) a
stand-in row is recorded — with no target and a hash no code matches — so the limits per login
name and per address count it, and a later guess is answered exactly as for an account; only
the delivery is left out, and the delivery of a real code runs after the answer has gone out
(``deliver_after``), so the answer takes the same time.
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ciie_portal.notices.services import notice_send

from .models import VerificationCode, VerificationLock

logger = logging.getLogger(__name__)

#: A target no code row ever has: the per-target queries of an unknown name match nothing.
_NO_TARGET = "-"


class CodeRefused(Exception):
    """A code cannot be sent or accepted; the message says why and, if so, how long to wait."""

    def __init__(self, message: str, *, wait_seconds: int = 0):
        super().__init__(message)
        self.wait_seconds = wait_seconds


@dataclass(frozen=True)
class SentCode:
    code: VerificationCode
    # Only for the console outbox and tests: the plain code never touches the database.
    plain: str


def _hash(target: str, code: str) -> str:
    return salted_hmac("verification-code", f"{target}:{code}", algorithm="sha256").hexdigest()


def _start_of_today():
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


def _wait_message(seconds: int) -> str:
    if seconds >= 3600:
        hours = -(-seconds // 3600)
        return ngettext(
            "Too many codes today. Try again in %(n)d hour.",
            "Too many codes today. Try again in %(n)d hours.",
            hours,
        ) % {"n": hours}
    return ngettext(
        "A code was just sent. You can ask for another in %(n)d second.",
        "A code was just sent. You can ask for another in %(n)d seconds.",
        seconds,
    ) % {"n": seconds}


def _seconds_to_tomorrow() -> int:
    tomorrow = _start_of_today() + timedelta(days=1)
    return int((tomorrow - timezone.localtime()).total_seconds()) + 1


# --- Counting under a lock ------------------------------------------------------------------


def _lock_key(kind: str, value: str) -> str:
    # Keyed, so the table holds no mobile number, email address or client address.
    return salted_hmac("verification-lock", f"{kind}:{value}", algorithm="sha256").hexdigest()


def _lock(**values: str | None) -> None:
    """Lock one row per given value, in one order for every request (no deadlock)."""
    keys = sorted({_lock_key(kind, value) for kind, value in values.items() if value})
    # A row another request is creating at this moment is waited for (its INSERT holds the
    # key until that request commits), then locked here in turn.
    VerificationLock.objects.bulk_create(
        [VerificationLock(key=key) for key in keys], ignore_conflicts=True
    )
    list(VerificationLock.objects.select_for_update().filter(key__in=keys).order_by("key"))


def _refuse_if_too_soon_or_too_many(codes, now) -> None:
    """``codes``: today's codes of one number or login name."""
    last = codes.order_by("-created_at").values_list("created_at", flat=True).first()
    if last and now - last < settings.VERIFICATION_CODE_INTERVAL:
        wait = settings.VERIFICATION_CODE_INTERVAL - (now - last)
        seconds = max(int(wait.total_seconds()) + 1, 1)
        raise CodeRefused(_wait_message(seconds), wait_seconds=seconds)
    if codes.count() >= settings.VERIFICATION_CODES_PER_DAY:
        seconds = _seconds_to_tomorrow()
        raise CodeRefused(_wait_message(seconds), wait_seconds=seconds)


def _refuse_if_address_busy(ip_address: str | None) -> None:
    if not ip_address:
        return
    today = VerificationCode.objects.filter(
        ip_address=ip_address, created_at__gte=_start_of_today()
    )
    if today.count() >= settings.VERIFICATION_CODES_PER_DAY:
        seconds = _seconds_to_tomorrow()
        hours = -(-seconds // 3600)
        raise CodeRefused(
            ngettext(
                "Too many codes were asked for from your network address today. Try again in "
                "%(n)d hour.",
                "Too many codes were asked for from your network address today. Try again in "
                "%(n)d hours.",
                hours,
            )
            % {"n": hours},
            wait_seconds=seconds,
        )


def _target_codes(target: str):
    return VerificationCode.objects.filter(target=target, created_at__gte=_start_of_today())


def _deliver(*, code: VerificationCode, plain: str, language: str | None) -> None:
    notice_send(
        key=f"verification-code:{code.pk}",
        event="verification_code",
        channel=code.channel,
        recipient=code.target,
        template="verification_code",
        params={"code": plain},
        language=language,
    )


# --- Sending --------------------------------------------------------------------------------


def code_send(
    *, purpose: str, target: str, ip_address: str | None, channel: str = "sms"
) -> SentCode:
    """Send a new code to ``target`` (a mobile number or an email address the user typed)."""
    with transaction.atomic():
        _lock(target=target, address=ip_address)
        now = timezone.now()  # after the wait for the lock: what came before is counted
        _refuse_if_too_soon_or_too_many(_target_codes(target), now)
        _refuse_if_address_busy(ip_address)
        plain = f"{secrets.randbelow(10**6):06d}"
        code = VerificationCode.objects.create(
            purpose=purpose,
            channel=channel,
            target=target,
            code_hash=_hash(target, plain),
            ip_address=ip_address,
            expires_at=now + settings.VERIFICATION_CODE_TTL,
        )
        _deliver(code=code, plain=plain, language=translation.get_language())
    return SentCode(code=code, plain=plain)


class Delivery:
    """What is left to do for a code asked for by login name: nothing for an unknown name, the
    SMS or email for an account. Run it after the answer has gone out (``deliver_after``)."""

    def __init__(self, code: VerificationCode | None = None, plain: str = "", language=None):
        self._code, self._plain, self._language = code, plain, language

    def __call__(self) -> None:
        if self._code is not None:
            _deliver(code=self._code, plain=self._plain, language=self._language)
            self._code = None


def deliver_after(response, delivery: Delivery):
    """Run ``delivery`` once ``response`` has been sent (the server closes it then), so that the
    answer takes as long whether a code goes out or not. Returns ``response``."""
    close = response.close

    def deliver_then_close():
        try:
            delivery()
        except Exception:  # noqa: BLE001 - the answer is out; the user asks again
            logger.exception("A verification code could not be handed to the notices")
        finally:
            close()

    response.close = deliver_then_close
    return response


def code_send_for_account(
    *,
    purpose: str,
    account_name: str,
    target: str | None,
    ip_address: str | None,
    channel: str = "sms",
) -> Delivery:
    """A code asked for by login name: to ``target`` (the account's mobile number or email
    address), or — ``target`` None: no such account, or none with that channel — to nobody.

    Raises CodeRefused for the limits per login name and per client address, which count alike
    for every name. The limits per target still hold for an account (nobody gets more than ten
    codes a day on one phone), but silently: such a request is answered like any other and
    recorded as a stand-in, so the answer never tells whether a name shares its mobile number
    with another account that just had a code. Returns the delivery to run after the answer.
    """
    language = translation.get_language()
    with transaction.atomic():
        # Without a target the name stands in for it: the same statements either way.
        _lock(
            name=f"{channel}:{account_name}",
            address=ip_address,
            target=target or f"{_NO_TARGET}{channel}:{account_name}",
        )
        now = timezone.now()  # after the wait for the lock: what came before is counted
        by_name = VerificationCode.objects.filter(
            account_name=account_name, channel=channel, created_at__gte=_start_of_today()
        )
        _refuse_if_too_soon_or_too_many(by_name, now)
        _refuse_if_address_busy(ip_address)
        try:
            _refuse_if_too_soon_or_too_many(_target_codes(target or _NO_TARGET), now)
            real = bool(target)
        except CodeRefused:
            real = False
        plain = f"{secrets.randbelow(10**6):06d}"
        code_hash = _hash(target or "", plain)
        code = VerificationCode.objects.create(
            purpose=purpose,
            channel=channel,
            target=target if real else "",
            account_name=account_name,
            # A stand-in's hash is no hex digest: no code ever matches it.
            code_hash=code_hash if real else f"!{code_hash[1:]}",
            ip_address=ip_address,
            expires_at=now + settings.VERIFICATION_CODE_TTL,
        )
    if not real:
        return Delivery(language=language)
    return Delivery(code, plain, language)


# --- Checking -------------------------------------------------------------------------------


def _accept(latest: VerificationCode | None, code: str) -> VerificationCode:
    code = (code or "").strip()
    if latest is None:
        raise CodeRefused(_("Ask for a verification code first."))
    if latest.expires_at < timezone.now():
        raise CodeRefused(_("This verification code has expired. Ask for a new one."))
    # One attempt, taken only while fewer than five were: parallel guesses get five in all.
    taken = VerificationCode.objects.filter(
        pk=latest.pk, used_at__isnull=True, attempts__lt=settings.VERIFICATION_CODE_ATTEMPTS
    ).update(attempts=F("attempts") + 1)
    if not taken:
        if VerificationCode.objects.filter(pk=latest.pk, used_at__isnull=False).exists():
            raise CodeRefused(_("This verification code has already been used."))
        raise CodeRefused(_("Too many wrong attempts. Ask for a new verification code."))
    if not constant_time_compare(latest.code_hash, _hash(latest.target, code)):
        raise CodeRefused(_("The verification code is not correct."))
    used = VerificationCode.objects.filter(pk=latest.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if not used:
        # The same code was accepted a moment ago by another request.
        raise CodeRefused(_("This verification code has already been used."))
    return latest


def code_verify(*, purpose: str, target: str, code: str) -> None:
    """Accept ``code`` for ``target`` once, or raise CodeRefused saying what is wrong."""
    latest = (
        VerificationCode.objects.filter(purpose=purpose, target=target, used_at__isnull=True)
        .order_by("-created_at")
        .first()
    )
    _accept(latest, code)


def code_verify_for_account(
    *, purpose: str, account_name: str, code: str, channel: str = "sms"
) -> VerificationCode:
    """Accept ``code`` asked for by ``account_name`` once, or raise CodeRefused.

    Answers an unknown name exactly as an account (a stand-in is never matched). Returns the
    code row: its ``target`` is where the code went.
    """
    latest = (
        VerificationCode.objects.filter(
            purpose=purpose, account_name=account_name, channel=channel, used_at__isnull=True
        )
        .order_by("-created_at")
        .first()
    )
    return _accept(latest, code)
