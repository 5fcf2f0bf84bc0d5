"""账户管理: a signed-in unit contact changes the account's password, mobile number and email
address, the unit's contact person, and signs out of every other session.

* Password: the current one is asked first. Wrong current passwords are counted per account
  (``ACCOUNT_PASSWORD_FAILURES`` in ``ACCOUNT_PASSWORD_FAILURES_MINUTES``, default 5 in 15) in
  the shared cache (``registration.limits``): a stolen session cannot try passwords one after
  the other. Django's password validators apply. The new password changes the session auth
  hash, so every other session is signed out; the view keeps its own (``update_session_auth_hash``).
* Mobile number and email address: a code goes to the NEW number or address
  (``registration.verification``: 60 s between codes and ten a day per number, ten a day per
  client address) and the change is made only when that code comes back. On top, one account
  asks for at most ``ACCOUNT_CODES_PER_DAY`` (default 10) such codes a day, whatever the numbers.
  The account's mobile number (password reset, codes) and the contact's mobile number of this
  edition's unit (notices) move together, and so do the two email addresses. Neither is unique
  in the model: two units may share one contact person.
* Contact person: name, title, department, position, telephone of this edition's unit, in any
  state of the unit (the contact is no card data and is not reviewed).
* Other sessions: ``User.session_generation`` is part of the session auth hash; raising it signs
  out every session signed in before, whatever the session engine.

Everything is audited (the values masked or only the fields' names: never a password or a
code), and every change is told by SMS and email to the channels as they were BEFORE it, so the
owner hears of a change made by someone else.
"""

import logging
import math
import time
import uuid

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record
from ciie_portal.choices import Region
from ciie_portal.notices.services import notice_send_both
from ciie_portal.timefmt import local_text

from . import limits
from .forms import mobile_is_valid
from .limits import Counter, wait_text
from .models import Unit, User, VerificationCode
from .verification import CodeRefused, SentCode, code_send, code_verify

logger = logging.getLogger(__name__)

#: The contact person's fields this page changes (the mobile and email have their own flow).
CONTACT_FIELDS = [
    "contact_name",
    "contact_title",
    "contact_department",
    "contact_position",
    "contact_phone",
]


# --- Ceilings -------------------------------------------------------------------------------


def _password_counter() -> Counter:
    return Counter(
        scope="account-password-failures",
        limit=getattr(settings, "ACCOUNT_PASSWORD_FAILURES", 5),
        window=60 * getattr(settings, "ACCOUNT_PASSWORD_FAILURES_MINUTES", 15),
    )


def _codes_counter() -> Counter:
    return Counter(
        scope="account-codes",
        limit=getattr(settings, "ACCOUNT_CODES_PER_DAY", 10),
        window=24 * 3600,
    )


def _password_block_key(user: User) -> str:
    return f"{limits.NAMESPACE}:account-password-blocked:{user.pk}"


def _password_blocked_for(user: User) -> float:
    """Seconds this account may not try its current password (0: it may)."""
    try:
        until = cache.get(_password_block_key(user))
    except Exception:  # noqa: BLE001 - the cache is down: as registration.limits, let it through
        logger.exception("Password ceiling not read: the cache cannot be reached")
        return 0
    return max(float(until) - time.time(), 0) if until else 0


def _password_block(user: User, seconds: int) -> float:
    try:
        cache.add(_password_block_key(user), time.time() + seconds, timeout=seconds)
    except Exception:  # noqa: BLE001
        logger.exception("Password ceiling not set: the cache cannot be reached")
        return seconds
    return _password_blocked_for(user) or seconds


def _wait_error(field: str, message: str, left: float) -> ValidationError:
    return ValidationError({field: message % {"wait": wait_text(max(math.ceil(left), 1))}})


# --- Shared pieces --------------------------------------------------------------------------


def mask_mobile(mobile: str) -> str:
    return f"{mobile[:3]}****{mobile[-4:]}" if len(mobile) > 7 else mobile


def mask_email(email: str) -> str:
    name, _at, domain = email.partition("@")
    return f"{name[:1]}***@{domain}" if domain else email


def account_channels(*, user: User, unit: Unit | None) -> tuple[str, str]:
    """Where the account is told of changes: its mobile number and email address, or the
    contact's of this edition's unit where the account has none."""
    mobile = user.mobile or (unit.contact_mobile if unit else "")
    email = user.email or (unit.contact_email if unit else "")
    return mobile, email


def _refuse_other_account(user: User, unit: Unit | None) -> None:
    if unit is not None and unit.account_id != user.pk:
        raise PermissionDenied


def _tell(*, event: str, user: User, mobile: str, email: str, params: dict | None = None) -> None:
    """Tell the account of a change, by SMS to ``mobile`` and email to ``email``."""
    notice_send_both(
        key=f"account:{user.pk}:{event}:{uuid.uuid4().hex}",
        event=f"account_{event}",
        template=f"account_{event}",
        params={"account": user.get_username(), "at": local_text(timezone.now()), **(params or {})},
        mobile=mobile,
        email=email,
    )


def _lock_user(user: User) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


# --- Password -------------------------------------------------------------------------------


def account_password_change(*, user: User, current_password: str, new_password: str) -> User:
    """Change the password once the current one is proven; returns the user as stored (the
    caller keeps its own session with ``update_session_auth_hash``).

    Raises ValidationError keyed ``current_password`` (wrong, or too many wrong ones: the
    message says how long to wait) or ``new_password1`` (the validators' messages)."""
    counter = _password_counter()
    if left := _password_blocked_for(user):
        raise _wait_error(
            "current_password", _("Too many wrong passwords. Try again in %(wait)s."), left
        )
    if not user.check_password(current_password):
        count, _key, _left = counter.hit(str(user.pk))
        if count >= counter.limit:
            # From the moment the ceiling is reached, the account waits the whole window.
            left = _password_block(user, counter.window)
            raise _wait_error(
                "current_password",
                _("The current password is not correct. Too many wrong passwords: try again in "
                  "%(wait)s."),
                left,
            )  # fmt: skip
        raise ValidationError({"current_password": _("The current password is not correct.")})
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as error:
        raise ValidationError({"new_password1": error.messages}) from None
    with transaction.atomic():
        locked = _lock_user(user)
        unit = _current_unit_of(locked)
        mobile, email = account_channels(user=locked, unit=unit)
        locked.set_password(new_password)
        locked.save(update_fields=["password"])
        audit_record(actor=locked, obj=locked, action="account.password_changed")
        _tell(event="password_changed", user=locked, mobile=mobile, email=email)
    password_validation.password_changed(new_password, locked)
    return locked


def _current_unit_of(user: User) -> Unit | None:
    return Unit.objects.filter(account=user, edition__is_current=True).first()


# --- Mobile number and email address --------------------------------------------------------


def clean_mobile(value: str, *, region: str) -> str:
    """The mobile number without spaces, or ValidationError keyed ``mobile``: a mainland unit
    gives a mainland mobile (11 digits from 13…–19…), an overseas unit an international one."""
    mobile = "".join((value or "").split())
    if not mobile_is_valid(mobile, region=region):
        if region == Region.MAINLAND:
            message = _("Enter a valid mainland mobile number (11 digits, starting with 1).")
        else:
            message = _("Enter a valid mobile number.")
        raise ValidationError({"mobile": message})
    return mobile


def clean_email(value: str) -> str:
    email = (value or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid email address.")}) from None
    return email


def _count_account_code(user: User) -> None:
    counter = _codes_counter()
    count, left = counter.count(str(user.pk))
    if count >= counter.limit:
        raise _wait_error(
            "code",
            _("This account has asked for too many codes today. Try again in %(wait)s."),
            left,
        )


def _send(*, user: User, purpose: str, channel: str, target: str, ip_address) -> SentCode:
    _count_account_code(user)
    try:
        sent = code_send(purpose=purpose, target=target, ip_address=ip_address, channel=channel)
    except CodeRefused as refusal:
        raise ValidationError({"code": str(refusal)}) from None
    _codes_counter().hit(str(user.pk))
    return sent


def _verify(*, purpose: str, target: str, code: str) -> None:
    if not (code or "").strip():
        raise ValidationError({"code": _("Enter the code that was sent.")})
    try:
        code_verify(purpose=purpose, target=target, code=code)
    except CodeRefused as refusal:
        raise ValidationError({"code": str(refusal)}) from None


def _region(unit: Unit | None) -> str:
    return unit.region if unit is not None else Region.MAINLAND


def account_mobile_change_request(
    *, user: User, unit: Unit | None, mobile: str, ip_address: str | None
) -> SentCode:
    """Send a code to the NEW mobile number. Raises ValidationError keyed ``mobile`` or
    ``code`` (a limit: which one and how long to wait)."""
    _refuse_other_account(user, unit)
    mobile = clean_mobile(mobile, region=_region(unit))
    if mobile == user.mobile:
        raise ValidationError({"mobile": _("This is already the account's mobile number.")})
    sent = _send(
        user=user,
        purpose=VerificationCode.Purpose.ACCOUNT_MOBILE,
        channel="sms",
        target=mobile,
        ip_address=ip_address,
    )
    audit_record(
        actor=user, obj=user, action="account.mobile_code_sent", data={"to": mask_mobile(mobile)}
    )
    return sent


def _channel_change_confirm(*, user: User, value: str, code: str, channel: str) -> User:
    """The confirmed change of the mobile number (``channel`` "mobile") or email address
    ("email"): the account's and this edition's contact's, audited masked, the old channel told
    and the other one too."""
    purpose, contact_field, mask = {
        "mobile": (VerificationCode.Purpose.ACCOUNT_MOBILE, "contact_mobile", mask_mobile),
        "email": (VerificationCode.Purpose.ACCOUNT_EMAIL, "contact_email", mask_email),
    }[channel]
    _verify(purpose=purpose, target=value, code=code)
    with transaction.atomic():
        locked = _lock_user(user)
        unit = _current_unit_of(locked)
        mobile, email = account_channels(user=locked, unit=unit)
        old = mobile if channel == "mobile" else email
        User.objects.filter(pk=locked.pk).update(**{channel: value})
        if unit is not None:
            Unit.objects.filter(pk=unit.pk).update(**{contact_field: value})
        audit_record(
            actor=locked,
            obj=locked,
            action=f"account.{channel}_changed",
            from_state=mask(old),
            to_state=mask(value),
        )
        _tell(
            event=f"{channel}_changed",
            user=locked,
            mobile=mobile,
            email=email,
            params={"new": mask(value)},
        )
    setattr(locked, channel, value)
    return locked


def account_mobile_change_confirm(*, user: User, unit: Unit | None, mobile: str, code: str) -> User:
    """Make the NEW mobile number the account's (and this edition's contact's) once its code is
    right; the old number is told by SMS, the email address by email."""
    _refuse_other_account(user, unit)
    mobile = clean_mobile(mobile, region=_region(unit))
    return _channel_change_confirm(user=user, value=mobile, code=code, channel="mobile")


def account_email_change_request(
    *, user: User, unit: Unit | None, email: str, ip_address: str | None
) -> SentCode:
    """Send a code to the NEW email address. Raises ValidationError keyed ``email`` or ``code``."""
    _refuse_other_account(user, unit)
    email = clean_email(email)
    _mobile, current = account_channels(user=user, unit=unit)
    if email.lower() == current.lower():
        raise ValidationError({"email": _("This is already the account's email address.")})
    sent = _send(
        user=user,
        purpose=VerificationCode.Purpose.ACCOUNT_EMAIL,
        channel="email",
        target=email,
        ip_address=ip_address,
    )
    audit_record(
        actor=user, obj=user, action="account.email_code_sent", data={"to": mask_email(email)}
    )
    return sent


def account_email_change_confirm(*, user: User, unit: Unit | None, email: str, code: str) -> User:
    """Make the NEW email address the account's (and this edition's contact's) once its code is
    right; the old address is told by email, the mobile number by SMS."""
    _refuse_other_account(user, unit)
    email = clean_email(email)
    return _channel_change_confirm(user=user, value=email, code=code, channel="email")


# --- Contact person -------------------------------------------------------------------------


def account_contact_change(*, user: User, unit: Unit, values: dict) -> list[str]:
    """Change the contact person of ``unit`` (the fields of ``CONTACT_FIELDS`` in ``values``).
    Returns the names of the fields that changed (none: nothing is written or told)."""
    _refuse_other_account(user, unit)
    if not (values.get("contact_name") or "").strip():
        raise ValidationError({"contact_name": _("Enter the contact person's name.")})
    with transaction.atomic():
        locked = Unit.objects.select_for_update().get(pk=unit.pk)
        _refuse_other_account(user, locked)
        changed = [
            field
            for field in CONTACT_FIELDS
            if field in values and getattr(locked, field) != (values[field] or "")
        ]
        if not changed:
            return []
        for field in changed:
            setattr(locked, field, values[field] or "")
        locked.save(update_fields=[*changed, "updated_at"])
        # Only the names of the changed fields: the values are personal data.
        audit_record(
            actor=user, obj=locked, action="account.contact_changed", data={"fields": changed}
        )
        mobile, email = account_channels(user=user, unit=locked)
        _tell(event="contact_changed", user=user, mobile=mobile, email=email)
    return changed


# --- Other sessions -------------------------------------------------------------------------


def account_sessions_end(*, user: User) -> User:
    """Sign out every session of the account signed in before now; returns the user as stored,
    whose new session auth hash the caller's own session takes (``update_session_auth_hash``)."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
        user = User.objects.get(pk=user.pk)
        audit_record(
            actor=user,
            obj=user,
            action="account.sessions_ended",
            to_state=str(user.session_generation),
        )
    return user
