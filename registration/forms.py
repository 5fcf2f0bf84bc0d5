import io
import re

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Fieldset, Layout
from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

from ciie_portal.choices import Region, UnitCategory
from ciie_portal.crypto import normalize_id
from ciie_portal.names import SearchableSelect
from ciie_portal.windows import registration_window_check

from . import reference
from .auth import normalize_login_name, password_reset_account
from .limits import Limited, login_attempt
from .models import InvitationCode, RecommendationCode, Unit, User
from .validators import validate_uscc
from .verification import CodeRefused, code_verify, code_verify_for_account

MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$")
INTERNATIONAL_MOBILE = re.compile(r"^\+?\d{6,15}$")
LICENCE_MAX_BYTES = 2 * 1024 * 1024

Delegation = Unit._meta.get_field("delegation").related_model


def categories_for(region: str) -> list[str]:
    return UnitCategory.domestic() if region == Region.MAINLAND else UnitCategory.overseas()


class EntryForm(forms.Form):
    """参观预登记: where the unit is, what it is, and the privacy terms."""

    region = forms.ChoiceField(
        label=_("Where the unit is"), choices=Region.choices, widget=forms.RadioSelect
    )
    category = forms.ChoiceField(
        label=_("Unit category"), choices=UnitCategory.choices, widget=forms.RadioSelect
    )
    kind = forms.ChoiceField(
        label=_("Register as"), choices=Unit.Kind.choices, widget=forms.RadioSelect,
        initial=Unit.Kind.UNIT,
    )  # fmt: skip
    privacy = forms.BooleanField(
        label=_("I have read and agree to the privacy policy."),
        error_messages={"required": _("Please read and accept the privacy policy.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["privacy"].help_text = format_html(
            '<a href="{}" target="_blank" rel="noopener" id="entry-privacy-link">{}</a>',
            reverse("privacy"),
            _("Read the privacy policy"),
        )

    def clean(self):
        data = super().clean()
        region, category = data.get("region"), data.get("category")
        if region and category and category not in categories_for(region):
            self.add_error(
                "category",
                _("Choose one of the categories for units in this region."),
            )
        return data


def mobile_is_valid(value: str, *, region: str) -> bool:
    pattern = MAINLAND_MOBILE if region == Region.MAINLAND else INTERNATIONAL_MOBILE
    return bool(pattern.match(value))


def delegation_label(delegation) -> str:
    """The delegation's name in the active language, after its trade delegation's."""
    name = delegation.display_name
    return f"{delegation.parent.display_name} · {name}" if delegation.parent_id else name


class DelegationChoiceField(forms.ModelChoiceField):
    widget = SearchableSelect

    def label_from_instance(self, obj):
        return delegation_label(obj)


class AccountForm(forms.Form):
    """新用户注册: delegation, unit name, USCC, codes, verified mobile, password."""

    delegation = DelegationChoiceField(
        label=_("Trade delegation / sub-delegation"),
        queryset=Delegation.objects.none(),
        required=False,
        help_text=_(
            "Choose by your unit's locality or affiliation. Units of central state-owned "
            "enterprises and of the National Health Commission choose their own delegation."
        ),
    )
    name = forms.CharField(label=_("Unit name"), max_length=200)
    uscc = forms.CharField(
        label=_("Unified Social Credit Code"),
        max_length=24,
        required=False,
        help_text=_("18 characters. It is your login name: one unit, one account."),
    )
    recommendation_code = forms.CharField(
        label=_("Recommendation code"),
        max_length=20,
        required=False,
        help_text=_("Given by a partner organisation, if you have one."),
    )
    invitation_code = forms.CharField(
        label=_("Invitation code"),
        max_length=20,
        required=False,
        help_text=_("Given by your trade delegation."),
    )
    province = forms.ChoiceField(
        label=_("Province of registration"),
        required=False,
        help_text=_(
            "Enterprises without an invitation code that do not choose a delegation join the "
            "trade delegation of the province where they are registered."
        ),
    )
    mobile = forms.CharField(
        label=_("Mobile number"),
        max_length=20,
        help_text=_("Receives the verification code, important notices and password resets."),
    )
    sms_code = forms.CharField(label=_("SMS verification code"), max_length=6, required=False)
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Confirm password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, edition, region, category, sending_code=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.edition, self.region, self.category = edition, region, category
        self.sending_code = sending_code
        self.fields["delegation"].queryset = (
            Delegation.objects.filter(is_active=True)
            .select_related("parent")
            .order_by("parent__position", "parent_id", "position")
        )
        self.fields["province"].choices = [("", "—"), *reference.provinces()]
        if region != Region.MAINLAND or category != UnitCategory.ENTERPRISE:
            del self.fields["province"]
        if region == Region.MAINLAND:
            self.fields["uscc"].required = True
        else:
            self.fields["uscc"].help_text = _(
                "Overseas units without one leave it empty and get an account number."
            )
        if edition.needs_invitation_code(category):
            self.fields["invitation_code"].required = True
            self.fields["invitation_code"].help_text = _(
                "Units of this category register with their trade delegation's invitation code."
            )

    def clean_uscc(self):
        value = normalize_id(self.cleaned_data.get("uscc", ""))
        if not value:
            return ""
        validate_uscc(value)
        # Whether the code is taken is said only once the SMS code proved the mobile number
        # (``clean``): the form does not tell anyone which codes have an account.
        return value

    def clean_mobile(self):
        value = "".join(self.cleaned_data["mobile"].split())
        if not mobile_is_valid(value, region=self.region):
            raise ValidationError(_("Enter a valid mobile number."))
        return value

    def clean_recommendation_code(self):
        value = normalize_id(self.cleaned_data.get("recommendation_code", ""))
        if (
            value
            and not RecommendationCode.objects.filter(
                edition=self.edition, code=value, is_active=True
            ).exists()
        ):
            raise ValidationError(_("This recommendation code is not valid for this expo."))
        return value

    def clean_invitation_code(self):
        value = normalize_id(self.cleaned_data.get("invitation_code", ""))
        if not value:
            return ""
        invitation = (
            InvitationCode.objects.filter(edition=self.edition, code=value, is_active=True)
            .select_related("delegation")
            .first()
        )
        if invitation is None:
            raise ValidationError(_("This invitation code is not valid for this expo."))
        self.invitation = invitation
        return value

    def clean(self):
        data = super().clean()
        invitation = getattr(self, "invitation", None)
        chosen = data.get("delegation")
        if invitation:
            if chosen and chosen != invitation.delegation:
                self.add_error(
                    "delegation",
                    _("The invitation code belongs to %(delegation)s.")
                    % {"delegation": invitation.delegation.name},
                )
            data["delegation"] = invitation.delegation
        elif not chosen and data.get("province"):
            # 2nd-edition rule: an enterprise without a code joins the delegation of the
            # province where it is registered.
            home = Delegation.objects.filter(
                parent__isnull=True, is_active=True, province_code=data["province"]
            ).first()
            if home is None:
                self.add_error(
                    "province",
                    _("No trade delegation is set up for this province: choose one above."),
                )
            data["delegation"] = home
        elif not chosen and self.region == Region.MAINLAND:
            self.add_error("delegation", _("Domestic units join a trade delegation: choose one."))
        password1, password2 = data.get("password1"), data.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords do not match."))
        elif password1:
            try:
                password_validation.validate_password(
                    password1, User(username=data.get("uscc") or "", mobile=data.get("mobile", ""))
                )
            except ValidationError as error:
                self.add_error("password1", error)
        if self.sending_code:
            return data
        try:
            # Before the code is used up: a refusal here must not cost the user a new code.
            registration_window_check(edition=self.edition, actor=None)
        except ValidationError as error:
            self.add_error(None, error)
        mobile = data.get("mobile")
        if not data.get("sms_code"):
            self.add_error("sms_code", _("Enter the code sent to your mobile."))
        elif mobile and not self.errors:
            try:
                code_verify(purpose="signup", target=mobile, code=data["sms_code"])
            except CodeRefused as refusal:
                self.add_error("sms_code", str(refusal))
            else:
                uscc = data.get("uscc")
                if uscc and Unit.objects.filter(edition=self.edition, uscc=uscc).exists():
                    self.add_error(
                        "uscc",
                        ValidationError(
                            _("This code is already registered for this expo. Sign in instead."),
                            code="duplicate",
                        ),
                    )
        return data


class AddressCeilingMixin:
    """Above django-axes (five failures for one login name from one address), one address may
    fail a limited number of times whatever the login names (``limits``): then no password is
    checked from it for a while, and the form says so (and for how long) at the top. For the
    units' sign-in and the staff's (the admin's)."""

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        #: The per-address refusal, when the address is at its ceiling.
        self.address_limited: Limited | None = None

    def clean(self):
        if not (self.cleaned_data.get("username") and self.cleaned_data.get("password")):
            return super().clean()
        try:
            attempt = login_attempt(self.request)
        except Limited as refusal:
            self.address_limited = refusal
            raise ValidationError(str(refusal), code="address_limited") from None
        data = super().clean()  # a wrong password raises here and keeps its place counted
        attempt.succeeded()
        return data


class LoginForm(AddressCeilingMixin, AuthenticationForm):
    """Sign-in of a unit's contact, by USCC or account number."""

    username = forms.CharField(
        label=_("USCC or account number"),
        widget=forms.TextInput(attrs={"autofocus": True, "autocapitalize": "characters"}),
    )

    def clean_username(self):
        return normalize_login_name(self.cleaned_data.get("username", ""))


class StaffLoginForm(AddressCeilingMixin, AdminAuthenticationForm):
    """The admin's sign-in (staff), under the same per-address ceiling."""


def stand_in_user(login_name: str) -> User:
    """Whom a new password is checked against (similarity) before the code proves the account:
    built from the login name alone, so the answer is the same whether it is an account."""
    return User(username=login_name)


class PasswordResetForm(forms.Form):
    """Forgotten password. The answers are the same whether the login name is an account (with
    a mobile number) or not: no "no such account", a code request answered alike
    (``verification.code_send_for_account``), a code checked alike
    (``verification.code_verify_for_account``)."""

    username = forms.CharField(label=_("USCC or account number"), max_length=30)
    sms_code = forms.CharField(label=_("SMS verification code"), max_length=6, required=False)
    password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Confirm new password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, sending_code=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.sending_code = sending_code
        self.user = None
        if sending_code:
            # "Send code" without JavaScript submits the whole form: only the name counts.
            self.fields["password1"].required = self.fields["password2"].required = False

    def clean_username(self):
        name = normalize_login_name(self.cleaned_data["username"])
        self.user = password_reset_account(name)
        return name

    def clean(self):
        data = super().clean()
        name = data.get("username")
        if self.sending_code or not name:
            return data
        if data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords do not match."))
        elif data.get("password1"):
            try:
                password_validation.validate_password(data["password1"], stand_in_user(name))
            except ValidationError as error:
                self.add_error("password1", error)
        if not data.get("sms_code"):
            self.add_error("sms_code", _("Enter the code sent to your mobile."))
        elif not self.errors:
            try:
                code = code_verify_for_account(
                    purpose="password_reset", account_name=name, code=data["sms_code"]
                )
            except CodeRefused as refusal:
                self.add_error("sms_code", str(refusal))
            else:
                if self.user is None or code.target != self.user.mobile:
                    # The account changed since the code was sent (mobile number, closed).
                    self.add_error("sms_code", _("The verification code is not correct."))
        return data


# --- Unit information -----------------------------------------------------------------------

LICENCE_LABELS = {
    UnitCategory.ENTERPRISE: _("Business licence (营业执照)"),
    UnitCategory.SOCIAL_ORGANISATION: _("Social organisation legal person certificate"),
    UnitCategory.PUBLIC_INSTITUTION: _("Public institution legal person certificate"),
}


def clean_document_image(upload) -> InMemoryUploadedFile:
    """A real JPG or PNG of at most 2 MB, re-encoded so that no metadata is kept."""
    if upload.size > LICENCE_MAX_BYTES:
        raise ValidationError(_("The file is larger than 2 MB."), code="too_large")
    try:
        upload.seek(0)
        with Image.open(upload) as probe:
            image_format = probe.format
            probe.verify()
        upload.seek(0)
        with Image.open(upload) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValidationError(_("This is not a JPG or PNG image."), code="not_an_image") from exc
    if image_format not in ("JPEG", "PNG"):
        raise ValidationError(_("This is not a JPG or PNG image."), code="not_an_image")
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.convert("RGB").save(buffer, format="JPEG", quality=90)
        extension, content_type = "jpg", "image/jpeg"
    else:
        image.save(buffer, format="PNG", optimize=True)
        extension, content_type = "png", "image/png"
    size = buffer.tell()
    buffer.seek(0)
    return InMemoryUploadedFile(buffer, "licence", f"licence.{extension}", content_type, size, None)


class MultipleChoiceJSONField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple


class UnitInfoForm(forms.ModelForm):
    capital_band = forms.ChoiceField(
        label=_("Registered capital"), choices=reference.CAPITAL_BANDS, widget=forms.RadioSelect,
        required=False,
    )  # fmt: skip
    nature = forms.ChoiceField(label=_("Unit nature"), choices=reference.UNIT_NATURES)
    industry = forms.CharField(
        label=_("Industry (GB/T 4754-2017)"),
        help_text=_("Type a word or the 4-digit code and pick from the list."),
        widget=forms.TextInput(attrs={"list": "industry-list", "autocomplete": "off"}),
    )
    import_methods = MultipleChoiceJSONField(
        label=_("Import methods"), choices=reference.IMPORT_METHODS, required=False
    )
    is_listed = forms.TypedChoiceField(
        label=_("Listed company"),
        choices=[("false", _("Not listed")), ("true", _("Listed"))],
        coerce=lambda value: value == "true",
        widget=forms.RadioSelect,
        initial="false",
    )
    contact_title = forms.ChoiceField(
        label=_("Title"),
        choices=[("mr", _("Mr")), ("ms", _("Ms"))],
        widget=forms.RadioSelect,
    )
    interest_areas = MultipleChoiceJSONField(label=_("Exhibition areas of interest"), choices=[])
    interest_zones = MultipleChoiceJSONField(
        label=_("Special zones of interest"), choices=[], required=False
    )
    purchase_1y = forms.ChoiceField(
        label=_("Intended import purchases within 1 year"), choices=reference.PURCHASE_BANDS
    )
    purchase_5y = forms.ChoiceField(
        label=_("Intended import purchases within 5 years"), choices=reference.PURCHASE_BANDS
    )

    class Meta:
        model = Unit
        fields = [
            "name", "short_name", "country", "province", "city", "district", "street",
            "capital_band", "nature", "industry", "revenue", "import_amount", "export_amount",
            "import_methods", "is_listed", "contact_name", "contact_title", "contact_mobile",
            "contact_department", "contact_position", "contact_phone", "contact_email",
            "licence", "interest_areas", "interest_zones", "purchase_1y", "purchase_5y",
        ]  # fmt: skip
        widgets = {
            "province": forms.Select(attrs={"data-division": "province"}),
            "city": forms.Select(attrs={"data-division": "city"}),
            "district": forms.Select(attrs={"data-division": "district"}),
            "licence": forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
        }

    def __init__(self, *args, pending_licence=None, **kwargs):
        super().__init__(*args, **kwargs)
        unit = self.instance
        self.pending_licence = pending_licence
        self.domestic = unit.region == Region.MAINLAND
        for name in ("name", "street", "contact_name", "contact_mobile", "contact_email"):
            self.fields[name].required = True
        self.fields["interest_areas"].choices = [
            (slug, reference.area_label(slug)) for slug, _zh, _en in reference.EXHIBITION_AREAS
        ]
        self.fields["interest_zones"].choices = [
            (slug, reference.area_label(slug)) for slug, _zh, _en in reference.SPECIAL_ZONES
        ]
        province = self.data.get("province") if self.is_bound else unit.province
        city = self.data.get("city") if self.is_bound else unit.city
        blank = [("", "—")]
        self.fields["province"].widget.choices = blank + reference.provinces()
        self.fields["city"].widget.choices = blank + (
            reference.children(province) if province else []
        )
        self.fields["district"].widget.choices = blank + (reference.children(city) if city else [])
        if self.domestic:
            self.fields["province"].required = True
            self.fields["capital_band"].required = True
            del self.fields["country"]
        else:
            self.fields["country"].required = True
            for name in ("province", "city", "district"):
                del self.fields[name]
        label = LICENCE_LABELS.get(unit.category)
        if label is None:
            del self.fields["licence"]  # government agencies and overseas units upload none
        else:
            licence = self.fields["licence"]
            licence.label = label
            licence.help_text = _("JPG or PNG, at most 2 MB.")
            licence.required = not (unit.licence or pending_licence)
        self.helper = self._layout()
        if not isinstance(self.initial.get("is_listed"), str):
            # The radio values are the strings "true"/"false"; the model holds a boolean.
            self.initial["is_listed"] = "true" if unit.is_listed else "false"
        if not self.is_bound and unit.industry:
            self.initial["industry"] = dict(reference.industry_choices()).get(
                unit.industry, unit.industry
            )

    # The form's sections, in order: (anchor, title, fields). The page lists them beside the
    # form (templates/registration/unit_info.html) to move between them.
    SECTIONS = [
        ("unit-basics", _("Unit and licence"), [
            "name", "short_name", "licence",
        ]),
        ("unit-address", _("Registered address"), [
            "country", "province", "city", "district", "street",
        ]),
        ("unit-business", _("Business"), [
            "capital_band", "nature", "industry", "revenue", "import_amount", "export_amount",
            "import_methods", "is_listed",
        ]),
        ("unit-contact", _("Contact person"), [
            "contact_name", "contact_title", "contact_mobile", "contact_department",
            "contact_position", "contact_phone", "contact_email",
        ]),
        ("unit-purchases", _("Purchase intentions"), [
            "interest_areas", "interest_zones", "purchase_1y", "purchase_5y",
        ]),
    ]  # fmt: skip

    def sections(self) -> list[tuple[str, str]]:
        """(anchor, title) of each section this unit's form has."""
        return [
            (anchor, title)
            for anchor, title, names in self.SECTIONS
            if any(name in self.fields for name in names)
        ]

    def _layout(self) -> FormHelper:
        helper = FormHelper()
        helper.form_tag = False
        parts = []
        for anchor, title, names in self.SECTIONS:
            fields = []
            for name in names:
                if name not in self.fields:
                    continue
                fields.append(name)
                if name == "licence":
                    # What the licence recognition found, and the file kept, beside the field.
                    fields.append(HTML('{% include "registration/_licence_status.html" %}'))
            if fields:
                parts.append(Fieldset(title, *fields, css_id=anchor, css_class="form-section"))
        helper.layout = Layout(*parts)
        return helper

    def clean_industry(self):
        raw = self.cleaned_data["industry"].strip()
        code = raw[:4]
        if not (code.isdigit() and reference.industry_name(code)):
            raise ValidationError(_("Choose a 4-digit industry class from the list."))
        return code

    def clean_licence(self):
        upload = self.cleaned_data.get("licence")
        if upload and hasattr(upload, "content_type"):
            return clean_document_image(upload)
        return upload

    def clean(self):
        data = super().clean()
        if self.domestic and data.get("province"):
            try:
                reference.validate_division(
                    data.get("province", ""), data.get("city", ""), data.get("district", "")
                )
            except ValidationError as error:
                self.add_error("district" if data.get("city") else "city", error)
        return data
