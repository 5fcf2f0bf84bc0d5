"""Returning visitors (我是往届进博会观众) and one-click registration (一键注册).

A unit of an earlier edition verifies its old account (password, SMS code or email code); its
unit and visitors are then brought forward into the current edition as drafts to review and
complete. The organiser can also mail every previous unit contact a personal link that opens the
same pre-filled registration after the contact has chosen a new password.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ciie_portal.audit import audit_record, audit_record_bulk
from ciie_portal.choices import Region
from ciie_portal.models import Edition, Notice
from ciie_portal.notices.services import notice_send
from ciie_portal.windows import registration_window_check

from .auth import normalize_login_name
from .limits import Counter, Limited, login_attempt, wait_text
from .models import Unit, User, VerificationCode, Visitor
from .services import UNIT_INFO_FIELDS
from .verification import CodeRefused, code_verify_for_account
from .watchlist import watchlist_match

PURPOSE = VerificationCode.Purpose.RETURNING
VISITOR_FORWARD_FIELDS = [
    "sex", "birth_date", "nationality", "surname_en", "given_name_en", "permit_name",
    "job_category", "position", "mobile", "email", "photo", "pickup",
]  # fmt: skip

METHOD_PASSWORD = "password"
METHOD_SMS = "sms"
METHOD_EMAIL = "email"
METHODS = (METHOD_PASSWORD, METHOD_SMS, METHOD_EMAIL)

#: Session key: the verification methods that failed in this browser session.
FAILED_METHODS_SESSION_KEY = "returning_failed_methods"

ONE_CLICK_SALT = "one-click-registration"

# What the new edition's unit takes over besides the unit information form.
BROUGHT_FORWARD_FIELDS = [
    *UNIT_INFO_FIELDS,
    "region", "category", "kind", "delegation_id", "uscc", "account_number",
    "recommendation_code",
]  # fmt: skip


def mask_email(address: str) -> str:
    """``zhang.san@example.com`` → ``z***@example.com``."""
    local, at, domain = (address or "").partition("@")
    if not at:
        return address
    return f"{local[:1]}***@{domain}"


def mask_mobile(mobile: str) -> str:
    return f"{mobile[:3]}****{mobile[-4:]}" if len(mobile) > 7 else mobile


# --- Finding the previous registration ------------------------------------------------------


def code_target(*, user: User, previous_unit: Unit, channel: str) -> str:
    """Where a code goes: the account's mobile (SMS) or the address on file (email)."""
    if channel == METHOD_SMS:
        return user.mobile
    return previous_unit.contact_email or user.email


def failed_methods(session) -> set[str]:
    return set(session.get(FAILED_METHODS_SESSION_KEY, []))


def failed_method_record(session, method: str) -> set[str]:
    failed = failed_methods(session) | {method}
    session[FAILED_METHODS_SESSION_KEY] = sorted(failed)
    return failed


# --- Bringing a unit forward ----------------------------------------------------------------


def unit_bring_forward(
    *, previous_unit: Unit, edition: Edition, actor, reuse_choices: dict | None = None
) -> tuple[Unit, int, int]:
    """Copy ``previous_unit`` and its visitors into ``edition`` for the same account.

    The new unit is a draft whose information must be reviewed and saved again
    (``info_saved_at`` stays empty). Visitors that were not cancelled come along as saved
    drafts. Each one who held last edition's credential and passed its review chooses between
    证件复用 (reuse, the edition's reuse percentage of the fee) and 重新申办 (a new card, full
    fee): ``reuse_choices`` maps earlier visitors' ids to True (reuse) or False (apply anew);
    the default is reuse. The choice is stored in ``Visitor.reuse_eligible`` and can change
    while the visitor is saved (``services.visitors_reuse_choose``). A visitor whose ID number
    is already registered in ``edition`` (by anyone) is skipped. Returns the unit and how many
    visitors were copied and skipped. Running it again returns the existing unit, copying
    nothing. Bringing forward is registering: only inside the registration window.
    """
    reuse_choices = reuse_choices or {}
    if previous_unit.account_id is None:
        raise ValidationError(_("This earlier registration has no account."))
    previous_edition = Edition.objects.only("number").get(pk=previous_unit.edition_id)
    if previous_edition.number >= edition.number:
        raise ValidationError(_("Only a registration of an earlier expo can be brought forward."))
    with transaction.atomic():
        # One at a time per account: a second run waits and then finds the first one's unit.
        User.objects.select_for_update().filter(pk=previous_unit.account_id).first()
        existing = Unit.objects.filter(edition=edition, account_id=previous_unit.account_id)
        existing = existing.order_by("created_at").first()
        if existing is not None:
            return existing, 0, 0
        registration_window_check(edition=edition, actor=actor)
        taken = Unit.objects.filter(edition=edition)
        if previous_unit.uscc and taken.filter(uscc=previous_unit.uscc).exists():
            raise ValidationError(
                _(
                    "This unit has already registered anew for this expo, so its earlier "
                    "registration can no longer be brought forward."
                )
            )
        if (
            previous_unit.account_number
            and taken.filter(account_number=previous_unit.account_number).exists()
        ):
            raise ValidationError(
                _(
                    "This unit has already registered anew for this expo, so its earlier "
                    "registration can no longer be brought forward."
                )
            )
        unit = Unit(
            edition=edition,
            account_id=previous_unit.account_id,
            status=Unit.Status.DRAFT,
            previous=previous_unit,
            info_saved_at=None,
            licence=previous_unit.licence.name if previous_unit.licence else "",
        )
        for field in BROUGHT_FORWARD_FIELDS:
            setattr(unit, field, getattr(previous_unit, field))
        unit.save()

        candidates = list(
            Visitor.objects.filter(unit=previous_unit)
            .exclude(status=Visitor.Status.CANCELLED)
            .order_by("created_at", "pk")
        )
        used = set(
            Visitor.objects.filter(
                edition=edition, id_number_index__in=[v.id_number_index for v in candidates]
            ).values_list("id_number_index", flat=True)
        )
        copies = []
        for old in candidates:
            if old.id_number_index in used:
                continue
            used.add(old.id_number_index)
            copies.append(
                Visitor(
                    edition=edition,
                    unit=unit,
                    person_type=old.person_type,
                    name=old.name,
                    id_type=old.id_type,
                    # Sealed values are copied as they are: same keys, same blind index.
                    id_number_encrypted=old.id_number_encrypted,
                    id_number_index=old.id_number_index,
                    id_number_masked=old.id_number_masked,
                    label="",
                    status=Visitor.Status.SAVED,
                    previous=old,
                    # True only where reuse can be offered and was chosen (the default).
                    reuse_eligible=(
                        old.status == Visitor.Status.REVIEW_PASSED
                        and bool(old.label)
                        and reuse_choices.get(old.pk, True)
                    ),
                    original_label=old.label,
                    # The card data and contact details, so that nothing is typed twice.
                    **{field: getattr(old, field) for field in VISITOR_FORWARD_FIELDS},
                )
            )
        # Another unit may register one of these ID numbers at this very moment: the
        # constraint decides, and whoever lost is counted as skipped.
        Visitor.objects.bulk_create(copies, ignore_conflicts=True)
        copied_visitors = list(Visitor.objects.filter(unit=unit).order_by("created_at", "pk"))
        watchlist_match(Visitor.objects.filter(unit=unit))  # the watchlist, across editions
        copied = len(copied_visitors)
        skipped = len(candidates) - copied
        audit_record(
            actor=actor,
            obj=unit,
            action="unit.bring_forward",
            to_state=unit.status,
            data={
                "previous_unit": previous_unit.pk,
                "previous_edition": previous_edition.number,
                "visitors_copied": copied,
                "visitors_skipped": skipped,
            },
        )
        audit_record_bulk(
            actor=actor,
            objects=copied_visitors,
            action="visitor.bring_forward",
            to_state=Visitor.Status.SAVED,
            data={"previous_unit": previous_unit.pk},
        )
    return unit, copied, skipped


# --- One-click registration (一键注册) -------------------------------------------------------
#
# The link carries the unit and a nonce, signed with a timestamp. Only the SHA-256 of the nonce
# is stored (``Unit.one_click_nonce``); issuing a link replaces it, so only the latest link of a
# unit is good. Using the link empties it with one conditional UPDATE in the transaction that
# sets the password and brings the unit forward: of two uses at the same moment one wins, the
# other finds it gone. Verifying the earlier account another way (returning page) empties it
# too. A link is good for ``ONE_CLICK_LINK_DAYS`` (default 14); an expired one offers to email
# a new link to the address on file.

ONE_CLICK_RENEWALS_PER_DAY = 3


def one_click_max_age() -> timedelta:
    return timedelta(days=getattr(settings, "ONE_CLICK_LINK_DAYS", 14))


class OneClickRefused(Exception):
    """The link cannot be used; the message says why, ``reason`` what the page offers:
    ``invalid`` (not a link of ours), ``used`` (used, replaced or no longer needed: sign in)
    or ``expired`` (a new link can be emailed)."""

    def __init__(self, message: str, *, reason: str = "invalid", unit: Unit | None = None):
        super().__init__(message)
        self.reason, self.unit = reason, unit


@dataclass(frozen=True)
class OneClickLink:
    unit: Unit
    nonce_digest: str


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=ONE_CLICK_SALT)


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def one_click_token(unit: Unit) -> str:
    """Issue the unit's one-click link (its token): any earlier link of the unit stops working."""
    nonce = secrets.token_urlsafe(18)
    unit.one_click_nonce = _digest(nonce)
    Unit.objects.filter(pk=unit.pk).update(one_click_nonce=unit.one_click_nonce)
    return _signer().sign(f"{unit.pk}:{nonce}")


def _invalid() -> OneClickRefused:
    return OneClickRefused(
        _("This registration link is not valid. Copy the whole link from the email.")
    )


def _used(unit: Unit) -> OneClickRefused:
    return OneClickRefused(
        _(
            "This registration link has already been used, or a newer one was sent, or your "
            "earlier registration was already verified another way. Sign in with your login "
            "name and password; if you do not know the password, reset it by SMS, or verify "
            "your earlier account on the returning visitor page."
        ),
        reason="used",
        unit=unit,
    )


def one_click_unit(token: str, *, edition: Edition) -> OneClickLink:
    """The earlier-edition unit a link was made for, if the link is still good; OneClickRefused
    otherwise."""
    try:
        value = _signer().unsign(token)
    except signing.BadSignature:
        raise _invalid() from None
    pk, _sep, nonce = value.partition(":")
    if not pk.isdigit():
        raise _invalid()
    unit = (
        Unit.objects.filter(pk=int(pk), edition__number__lt=edition.number, account__is_active=True)
        .select_related("account", "edition")
        .first()
    )
    if unit is None:
        raise _invalid()
    expired = OneClickRefused(
        _(
            "This registration link has expired. We can email you a new one to the address "
            "on file, or verify your earlier account on the returning visitor page instead."
        ),
        reason="expired",
        unit=unit,
    )
    if not nonce:
        # A link from before links worked once: never accepted; a new one can be sent.
        raise expired
    digest = _digest(nonce)
    if not (unit.one_click_nonce and constant_time_compare(unit.one_click_nonce, digest)):
        raise _used(unit)
    try:
        _signer().unsign(token, max_age=one_click_max_age())
    except signing.SignatureExpired:
        raise expired from None
    return OneClickLink(unit=unit, nonce_digest=digest)


def one_click_claim(link: OneClickLink) -> None:
    """Use the link up (inside the caller's transaction), or OneClickRefused if it already was."""
    claimed = Unit.objects.filter(pk=link.unit.pk, one_click_nonce=link.nonce_digest).update(
        one_click_nonce=""
    )
    if not claimed:
        raise _used(link.unit)


def one_click_void(unit: Unit) -> None:
    """The earlier account was verified another way: its one-click link is no longer needed."""
    Unit.objects.filter(pk=unit.pk).exclude(one_click_nonce="").update(one_click_nonce="")


def _one_click_email(unit: Unit) -> str:
    return unit.contact_email or unit.account.email


def _one_click_notice(*, unit: Unit, edition: Edition, key: str, base_url: str) -> None:
    link = base_url.rstrip("/") + reverse(
        "registration:returning_link", args=[one_click_token(unit)]
    )
    valid_until = timezone.localtime(timezone.now() + one_click_max_age())
    notice_send(
        key=key,
        event="one_click_invite",
        channel=Notice.Channel.EMAIL,
        recipient=_one_click_email(unit),
        template="one_click_invite",
        params={
            "unit": unit.name,
            "login_name": unit.login_name,
            "edition": edition.name,
            "previous_edition": unit.edition.name,
            "link": link,
            "valid_until": valid_until.strftime("%Y-%m-%d %H:%M"),
        },
        language="en" if unit.region == Region.OTHER else "zh-hans",
    )


def one_click_renew(*, refusal: OneClickRefused, edition: Edition, base_url: str) -> str:
    """Email a new link for the unit of an expired one, to the address on file (never to the
    one asking); at most ``ONE_CLICK_RENEWALS_PER_DAY`` a day per unit. Returns the address,
    masked; raises OneClickRefused or limits.Limited."""
    unit = refusal.unit
    if refusal.reason != "expired" or unit is None:
        raise refusal
    if Unit.objects.filter(account_id=unit.account_id, edition=edition).exists():
        raise _used(unit)
    if not _one_click_email(unit):
        raise OneClickRefused(
            _(
                "No email address is on file for this registration. Verify your earlier "
                "account on the returning visitor page by password or SMS code instead."
            ),
            reason="invalid",
        )
    counter = Counter(scope="one-click-renewal", limit=ONE_CLICK_RENEWALS_PER_DAY, window=86400)
    count, _key, left = counter.hit(str(unit.pk))
    if count > counter.limit:
        raise Limited(
            _("A new link was already sent several times today. Try again in %(wait)s.")
            % {"wait": wait_text(left)},
            wait_seconds=int(left) + 1,
        )
    with transaction.atomic():
        key = f"one-click:{unit.pk}:{edition.number}:renewal:{secrets.token_hex(8)}"
        _one_click_notice(unit=unit, edition=edition, key=key, base_url=base_url)
        audit_record(
            actor=None, obj=unit, action="unit.one_click_renew", data={"edition": edition.number}
        )
    return mask_email(_one_click_email(unit))


def one_click_invite_send(*, units, actor, base_url: str) -> int:
    """Email each earlier-edition unit in ``units`` its personal registration link, once.

    Units whose account (or code) is already registered for the current expo, and units without
    an email address, are left out; so is every unit but the latest of one account. Returns how
    many new invitations were recorded (sent after commit).
    """
    edition = Edition.objects.current()
    if hasattr(units, "values_list"):
        pks = list(units.values_list("pk", flat=True))
    else:
        pks = [unit.pk for unit in units]
    candidates = (
        Unit.objects.filter(pk__in=pks, edition__number__lt=edition.number)
        .exclude(account__isnull=True)
        .exclude(account__units__edition=edition)
        .select_related("account", "edition")
        .order_by("-edition__number", "-created_at")
    )
    registered_codes = set(
        Unit.objects.filter(edition=edition).exclude(uscc="").values_list("uscc", flat=True)
    ) | set(
        Unit.objects.filter(edition=edition)
        .exclude(account_number="")
        .values_list("account_number", flat=True)
    )
    invited = []
    seen_accounts = set()
    with transaction.atomic():
        for unit in candidates:
            if unit.account_id in seen_accounts or unit.login_name in registered_codes:
                continue
            seen_accounts.add(unit.account_id)
            if not _one_click_email(unit):
                continue
            key = f"one-click:{unit.pk}:{edition.number}"
            if Notice.objects.filter(key=key).exists():
                continue
            _one_click_notice(unit=unit, edition=edition, key=key, base_url=base_url)
            invited.append(unit)
        audit_record_bulk(
            actor=actor,
            objects=invited,
            action="unit.one_click_invite",
            data={"edition": edition.number},
        )
    return len(invited)


# --- Forms ----------------------------------------------------------------------------------


def _new_password_fields() -> tuple[forms.CharField, forms.CharField]:
    return (
        forms.CharField(
            label=gettext_lazy("New password"),
            strip=False,
            required=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
            help_text=password_validation.password_validators_help_text_html(),
        ),
        forms.CharField(
            label=gettext_lazy("Confirm new password"),
            strip=False,
            required=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        ),
    )


def _check_new_password(form: forms.Form, user: User | None) -> None:
    data = form.cleaned_data
    password1, password2 = data.get("password1"), data.get("password2")
    if not (password1 and password2):
        return  # the fields' own "required" errors say so
    if password1 != password2:
        form.add_error("password2", _("The two passwords do not match."))
    else:
        try:
            password_validation.validate_password(password1, user)
        except ValidationError as error:
            form.add_error("password1", error)


class ReturningForm(forms.Form):
    """往届账号验证: the earlier account and one of three proofs of holding it.

    No account enumeration: before the account is proven, the form never says whether the login
    name is an account, has an earlier registration or a mobile number / email address on file.
    A wrong password and an unknown name get one answer after the same password check (through
    django-axes and the per-address sign-in ceiling); a code request is answered alike for
    every name (``verification.code_send_for_account``) and so is a code
    (``verification.code_verify_for_account``).
    """

    username = forms.CharField(
        label=gettext_lazy("Account of the earlier expo"),
        max_length=30,
        help_text=gettext_lazy(
            "The Unified Social Credit Code (18 characters) or the account number (10 "
            "characters) you registered with."
        ),
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "username"}),
    )
    password = forms.CharField(
        label=gettext_lazy("Password"),
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(label=gettext_lazy("Verification code"), max_length=6, required=False)
    password1, password2 = _new_password_fields()

    def __init__(self, *args, method: str, edition: Edition, request, sending_code=False, **kw):
        super().__init__(*args, **kw)
        self.method, self.edition, self.request = method, edition, request
        self.sending_code = sending_code
        self.login_name = ""
        self.user: User | None = None
        self.previous_unit: Unit | None = None
        #: True when the account, the password or the code was refused (not a typo elsewhere).
        self.verification_failed = False
        #: The per-address sign-in ceiling's refusal, when the address is at it.
        self.address_limited: Limited | None = None
        if method == METHOD_PASSWORD:
            for name in ("code", "password1", "password2"):
                del self.fields[name]
            self.fields["password"].required = not sending_code
        else:
            del self.fields["password"]
            for name in ("code", "password1", "password2"):
                self.fields[name].required = not sending_code
            self.fields["code"].label = (
                gettext_lazy("SMS verification code")
                if method == METHOD_SMS
                else gettext_lazy("Email verification code")
            )

    @property
    def target(self) -> str:
        """Where a code for this name goes; "" when nowhere (never shown before verifying)."""
        if self.previous_unit is None or self.method == METHOD_PASSWORD:
            return ""
        return code_target(
            user=self.previous_unit.account, previous_unit=self.previous_unit, channel=self.method
        )

    @property
    def masked_target(self) -> str:
        target = self.target
        return mask_mobile(target) if self.method == METHOD_SMS else mask_email(target)

    def clean_username(self):
        name = normalize_login_name(self.cleaned_data["username"])
        self.login_name = name
        # One query whatever the name: the active account's unit of the latest earlier expo.
        self.previous_unit = (
            Unit.objects.filter(
                account__username=name,
                account__is_active=True,
                edition__number__lt=self.edition.number,
            )
            .select_related("edition", "account")
            .order_by("-edition__number", "-created_at")
            .first()
        )
        return name

    def clean(self):
        data = super().clean()
        if not self.login_name or self.sending_code:
            return data
        if self.method == METHOD_PASSWORD:
            return self._clean_password(data)
        # Checked against the name alone, as for any name (the account is not proven yet).
        _check_new_password(self, User(username=self.login_name))
        if data.get("code") and not self.errors:
            try:
                sent = code_verify_for_account(
                    purpose=PURPOSE,
                    account_name=self.login_name,
                    code=data["code"],
                    channel=self.method,
                )
            except CodeRefused as refusal:
                self.verification_failed = True
                self.add_error("code", str(refusal))
            else:
                if not self.target or sent.target != self.target:
                    # The account changed since the code went out (closed, new number).
                    self.verification_failed = True
                    self.add_error("code", _("The verification code is not correct."))
                else:
                    self.user = self.previous_unit.account
        return data

    def _clean_password(self, data):
        if not data.get("password"):
            return data  # the field's "required" error says so
        try:
            attempt = login_attempt(self.request)
        except Limited as refusal:
            self.address_limited = refusal
            self.add_error(None, str(refusal))
            return data
        # Through django-axes: failures are counted and a locked account stays locked. An
        # unknown name is checked the same way (Django hashes the password all the same).
        user = authenticate(self.request, username=self.login_name, password=data["password"])
        if user is None:
            self.verification_failed = True
            self.add_error(
                "password",
                _(
                    "The account or the password is not correct. An earlier account that never "
                    "had a password verifies by SMS or email code instead."
                ),
            )
            return data
        attempt.succeeded()
        if self.previous_unit is None or self.previous_unit.account_id != user.pk:
            # Said only now that the password proved the account.
            self.verification_failed = True
            self.add_error(
                "username",
                _("This account has no registration from an earlier expo. Sign in instead."),
            )
            return data
        self.user = user
        return data


class NewPasswordForm(forms.Form):
    """One-click registration: the contact chooses a new password before anything happens."""

    password1, password2 = _new_password_fields()

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        for field in self.fields.values():
            field.required = True

    def clean(self):
        data = super().clean()
        _check_new_password(self, self.user)
        return data
