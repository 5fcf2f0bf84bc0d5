"""One-time verification codes (SMS or email): 6 digits, valid 5 minutes, stored hashed.

At most one code per 60 seconds and ten per day for one number (or address), and ten per day
from one IP address; each code allows five attempts.
"""

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

from .models import VerificationCode


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


def code_send(
    *, purpose: str, target: str, ip_address: str | None, channel: str = "sms"
) -> SentCode:
    """Send a new code to ``target`` (a mobile number or an email address)."""
    now = timezone.now()
    with transaction.atomic():
        recent = VerificationCode.objects.filter(target=target, created_at__gte=_start_of_today())
        last = recent.order_by("-created_at").first()
        if last and now - last.created_at < settings.VERIFICATION_CODE_INTERVAL:
            wait = settings.VERIFICATION_CODE_INTERVAL - (now - last.created_at)
            seconds = max(int(wait.total_seconds()) + 1, 1)
            raise CodeRefused(_wait_message(seconds), wait_seconds=seconds)
        per_ip = (
            VerificationCode.objects.filter(
                ip_address=ip_address, created_at__gte=_start_of_today()
            ).count()
            if ip_address
            else 0
        )
        if recent.count() >= settings.VERIFICATION_CODES_PER_DAY or (
            per_ip >= settings.VERIFICATION_CODES_PER_DAY
        ):
            tomorrow = _start_of_today() + timedelta(days=1)
            seconds = int((tomorrow - timezone.localtime()).total_seconds()) + 1
            raise CodeRefused(_wait_message(seconds), wait_seconds=seconds)
        plain = f"{secrets.randbelow(10**6):06d}"
        code = VerificationCode.objects.create(
            purpose=purpose,
            channel=channel,
            target=target,
            code_hash=_hash(target, plain),
            ip_address=ip_address,
            expires_at=now + settings.VERIFICATION_CODE_TTL,
        )
        notice_send(
            key=f"verification-code:{code.pk}",
            event="verification_code",
            channel=channel,
            recipient=target,
            template="verification_code",
            params={"code": plain},
            language=translation.get_language(),
        )
    return SentCode(code=code, plain=plain)


def code_verify(*, purpose: str, target: str, code: str) -> None:
    """Accept ``code`` for ``target`` once, or raise CodeRefused saying what is wrong."""
    code = (code or "").strip()
    latest = (
        VerificationCode.objects.filter(purpose=purpose, target=target, used_at__isnull=True)
        .order_by("-created_at")
        .first()
    )
    if latest is None:
        raise CodeRefused(_("Ask for a verification code first."))
    if latest.expires_at < timezone.now():
        raise CodeRefused(_("This verification code has expired. Ask for a new one."))
    if latest.attempts >= settings.VERIFICATION_CODE_ATTEMPTS:
        raise CodeRefused(_("Too many wrong attempts. Ask for a new verification code."))
    VerificationCode.objects.filter(pk=latest.pk).update(attempts=F("attempts") + 1)
    if not constant_time_compare(latest.code_hash, _hash(target, code)):
        raise CodeRefused(_("The verification code is not correct."))
    used = VerificationCode.objects.filter(pk=latest.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if not used:
        # The same code was accepted a moment ago by another request.
        raise CodeRefused(_("This verification code has already been used."))
