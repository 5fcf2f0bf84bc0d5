"""Returning visitors (我是往届进博会观众) and one-click registration (一键注册).

A unit of an earlier edition verifies its old account (password, SMS code or email code); its
unit and visitors are then brought forward into the current edition as drafts to review and
complete. The organiser can also mail every previous unit contact a personal link that opens the
same pre-filled registration after the contact has chosen a new password.
"""

from datetime import timedelta

from django import forms
from django.contrib.auth import authenticate, password_validation
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ciie_portal.audit import audit_record, audit_record_bulk
from ciie_portal.choices import Region
from ciie_portal.models import Edition, Notice
from ciie_portal.notices.services import notice_send
from ciie_portal.windows import registration_window_check

from .auth import normalize_login_name
from .models import Unit, User, VerificationCode, Visitor
from .services import UNIT_INFO_FIELDS
from .verification import CodeRefused, code_verify

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
ONE_CLICK_MAX_AGE = timedelta(days=30)

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


def previous_unit_of(*, user: User, edition: Edition) -> Unit | None:
    """The account's unit of the latest edition before ``edition``, or None."""
    return (
        Unit.objects.filter(account=user, edition__number__lt=edition.number)
        .select_related("edition", "account")
        .order_by("-edition__number", "-created_at")
        .first()
    )


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


class OneClickRefused(Exception):
    """The link cannot be used; the message says why."""


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=ONE_CLICK_SALT)


def one_click_token(unit: Unit) -> str:
    return _signer().sign(str(unit.pk))


def one_click_unit(token: str, *, edition: Edition) -> Unit:
    """The earlier-edition unit a link was made for, or OneClickRefused."""
    try:
        pk = _signer().unsign(token, max_age=ONE_CLICK_MAX_AGE)
    except signing.SignatureExpired:
        raise OneClickRefused(
            _(
                "This registration link has expired. Verify your earlier account on the "
                "returning visitor page instead."
            )
        ) from None
    except signing.BadSignature:
        raise OneClickRefused(
            _("This registration link is not valid. Copy the whole link from the email.")
        ) from None
    unit = (
        Unit.objects.filter(pk=pk, edition__number__lt=edition.number, account__is_active=True)
        .select_related("account", "edition")
        .first()
    )
    if unit is None:
        raise OneClickRefused(
            _("This registration link is not valid. Copy the whole link from the email.")
        )
    return unit


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
    valid_until = timezone.localtime(timezone.now() + ONE_CLICK_MAX_AGE)
    invited = []
    seen_accounts = set()
    with transaction.atomic():
        for unit in candidates:
            if unit.account_id in seen_accounts or unit.login_name in registered_codes:
                continue
            seen_accounts.add(unit.account_id)
            email = unit.contact_email or unit.account.email
            if not email:
                continue
            key = f"one-click:{unit.pk}:{edition.number}"
            if Notice.objects.filter(key=key).exists():
                continue
            link = base_url.rstrip("/") + reverse(
                "registration:returning_link", args=[one_click_token(unit)]
            )
            notice_send(
                key=key,
                event="one_click_invite",
                channel=Notice.Channel.EMAIL,
                recipient=email,
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
    """往届账号验证: the earlier account and one of three proofs of holding it."""

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
        self.user: User | None = None
        self.previous_unit: Unit | None = None
        #: True when the account, the password or the code was refused (not a typo elsewhere).
        self.verification_failed = False
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
        if self.user is None or self.method == METHOD_PASSWORD:
            return ""
        return code_target(user=self.user, previous_unit=self.previous_unit, channel=self.method)

    @property
    def masked_target(self) -> str:
        target = self.target
        return mask_mobile(target) if self.method == METHOD_SMS else mask_email(target)

    def clean_username(self):
        name = normalize_login_name(self.cleaned_data["username"])
        user = User.objects.filter(username=name, is_active=True).first()
        if user is None:
            self.verification_failed = not self.sending_code
            raise ValidationError(
                _("No account has this login name. Check the code or account number."),
                code="unknown_account",
            )
        previous = previous_unit_of(user=user, edition=self.edition)
        if previous is None:
            self.verification_failed = not self.sending_code
            raise ValidationError(
                _("This account has no registration from an earlier expo. Sign in instead."),
                code="no_previous_unit",
            )
        self.user, self.previous_unit = user, previous
        if self.method == METHOD_SMS and not self.target:
            raise ValidationError(
                _("This account has no mobile number on file. Choose another way to verify."),
                code="no_mobile",
            )
        if self.method == METHOD_EMAIL and not self.target:
            raise ValidationError(
                _("This account has no email address on file. Choose another way to verify."),
                code="no_email",
            )
        return name

    def clean(self):
        data = super().clean()
        if self.user is None or self.sending_code:
            return data
        if self.method == METHOD_PASSWORD:
            return self._clean_password(data)
        _check_new_password(self, self.user)
        if data.get("code") and not self.errors:
            try:
                code_verify(purpose=PURPOSE, target=self.target, code=data["code"])
            except CodeRefused as refusal:
                self.verification_failed = True
                self.add_error("code", str(refusal))
        return data

    def _clean_password(self, data):
        if not data.get("password"):
            return data  # the field's "required" error says so
        # Through django-axes: failures are counted and a locked account stays locked.
        user = authenticate(self.request, username=self.user.username, password=data["password"])
        if user is None:
            self.verification_failed = True
            if self.user.has_usable_password():
                message = _("The password is not correct.")
            else:
                message = _(
                    "This account has no password yet. Verify by SMS or email code instead."
                )
            self.add_error("password", message)
        else:
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
