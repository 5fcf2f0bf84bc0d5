import re

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import fields_for_model
from django.utils.translation import gettext_lazy as _

from ciie_portal.crypto import normalize_id
from registration.validators import validate_uscc

from .models import Invoice, InvoiceKind, InvoiceProfile, TitleKind
from .services import LockedTitle

# Taxpayer numbers before the USCC (税务登记号): 15 or 20 letters and digits.
LEGACY_TAX_NUMBER = re.compile(r"^[0-9A-Z]{15}$|^[0-9A-Z]{20}$")
PHONE = re.compile(r"^[0-9+()][0-9 +()-]{4,28}[0-9]$")
BUYER_FIELDS = [
    "title_kind",
    "title",
    "tax_number",
    "phone",
    "email",
    "address",
    "address_phone",
    "bank_name",
    "bank_account",
]
# What a special (专用) invoice must carry about the buyer.
SPECIAL_REQUIRED = ["tax_number", "address", "address_phone", "bank_name", "bank_account"]


def clean_tax_number(value: str) -> str:
    """A USCC (18 characters) is checked with the registration validator; the older 15- and
    20-character taxpayer numbers are accepted as they are."""
    value = normalize_id(value or "")
    if not value:
        return ""
    if len(value) == 18:
        validate_uscc(value)
        return value
    if not LEGACY_TAX_NUMBER.match(value):
        raise ValidationError(
            _("Enter the Unified Social Credit Code (18 characters) or the taxpayer number."),
            code="tax_number",
        )
    return value


class BuyerFieldsMixin:
    """Checks shared by the request form and the saved invoice details."""

    def clean_tax_number(self):
        return clean_tax_number(self.cleaned_data.get("tax_number", ""))

    def _clean_phone(self, name):
        value = (self.cleaned_data.get(name) or "").strip()
        if value and not PHONE.match(value):
            raise ValidationError(_("Enter a valid telephone number."))
        return value

    def clean_phone(self):
        return self._clean_phone("phone")

    def clean_address_phone(self):
        return self._clean_phone("address_phone")

    def _check_unit_title(self, cleaned):
        if cleaned.get("title_kind") == TitleKind.UNIT and not cleaned.get("tax_number"):
            self.add_error("tax_number", _("A unit title needs the unit's tax number (USCC)."))


class InvoiceRequestForm(BuyerFieldsMixin, forms.Form):
    """开票: the invoice type and the buyer's details. With a payer-imposed title (B2B, bank
    transfer) the title fields are disabled: whatever is posted for them is ignored."""

    kind = forms.ChoiceField(
        label=_("Invoice type"),
        choices=InvoiceKind.choices,
        initial=InvoiceKind.ELECTRONIC,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, locked: LockedTitle | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.locked = locked
        self.fields.update(
            fields_for_model(
                Invoice,
                fields=[*BUYER_FIELDS, "remark"],
                widgets={
                    "title_kind": forms.RadioSelect,
                    "remark": forms.Textarea(attrs={"rows": 2}),
                },
            )
        )
        self.fields["title_kind"].choices = TitleKind.choices  # no empty choice
        self.fields["title"].help_text = _("Enter the exact name for the invoice title.")
        self.fields["email"].help_text = _("The electronic invoice is also sent to this address.")
        self.fields["save_profile"] = forms.BooleanField(
            label=_("Save these details to my saved invoice details"), required=False
        )
        if locked is not None:
            for name in ("title_kind", "title"):
                self.fields[name].disabled = True
            self.initial.update({"title_kind": locked.title_kind, "title": locked.title})
            if locked.tax_number:
                self.initial.setdefault("tax_number", locked.tax_number)
            self.fields["title"].help_text = _(
                "Paid by B2B online banking or bank transfer: the title is the paying unit and "
                "cannot be changed."
            )

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        self._check_unit_title(cleaned)
        if kind == InvoiceKind.SPECIAL:
            if cleaned.get("title_kind") != TitleKind.UNIT:
                self.add_error(
                    "title_kind", _("A VAT special invoice can only be made out to a unit.")
                )
            for name in SPECIAL_REQUIRED:
                if not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, _("A VAT special invoice needs this."))
        elif kind == InvoiceKind.ELECTRONIC and not cleaned.get("email"):
            self.add_error("email", _("Enter the email address to send the electronic invoice to."))
        return cleaned

    def buyer(self) -> dict:
        return {name: self.cleaned_data.get(name, "") for name in BUYER_FIELDS}


class InvoiceProfileForm(BuyerFieldsMixin, forms.ModelForm):
    """新增发票信息: saved details to pick when asking for an invoice."""

    class Meta:
        model = InvoiceProfile
        fields = BUYER_FIELDS
        widgets = {"title_kind": forms.RadioSelect}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["title_kind"].choices = TitleKind.choices

    def clean(self):
        cleaned = super().clean()
        self._check_unit_title(cleaned)
        return cleaned


class PaperReturnForm(forms.Form):
    """退票 of a paper invoice: the unit posts it back and says how."""

    return_courier = forms.CharField(label=_("Courier"), max_length=50)
    return_tracking_number = forms.CharField(label=_("Tracking number"), max_length=50)
    reason = forms.CharField(label=_("Reason for the reversal"), max_length=200, required=False)


class ReversalForm(forms.Form):
    """退票 of an electronic invoice: a red-letter credit note will be issued."""

    reason = forms.CharField(label=_("Reason for the reversal"), max_length=200, required=False)
