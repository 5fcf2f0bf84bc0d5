from django import forms
from django.forms.models import fields_for_model
from django.utils.translation import gettext_lazy as _

from .models import ELECTRONIC_KINDS, SPECIAL_KINDS, Invoice, InvoiceKind, InvoiceProfile, TitleKind
from .services import LockedTitle
from .tax_details import (
    clean_address,
    clean_bank_account,
    clean_bank_name,
    clean_phone,
    clean_tax_number,
    special_requirements,
)

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
# One sentence each on what sets the invoice types apart, shown above the request form.
KIND_NOTES = {
    InvoiceKind.ELECTRONIC: _(
        "Electronic general invoice: issued by the system as soon as you submit, to "
        "download and print yourself; for a unit or an individual, with no input VAT deduction."
    ),
    InvoiceKind.ELECTRONIC_SPECIAL: _(
        "Electronic special invoice: also issued by the system for download, but only "
        "to a unit with its full tax details (tax number, address and telephone, bank and "
        "account), and the unit may deduct its input VAT."
    ),
    InvoiceKind.SPECIAL: _(
        "Paper special invoice: the same tax details, but reviewed and issued by "
        "finance and posted to you; to reverse it you post it back."
    ),
}


def kind_notes(kinds) -> list[tuple[str, str, str]]:
    """(value, label, note) of each offered kind, for the list the kind field refers to."""
    return [(kind, InvoiceKind(kind).label, KIND_NOTES[kind]) for kind in kinds]


class BuyerFieldsMixin:
    """Checks shared by the request form and the saved invoice details."""

    def clean_tax_number(self):
        return clean_tax_number(self.cleaned_data.get("tax_number", ""))

    def clean_phone(self):
        return clean_phone(self.cleaned_data.get("phone", ""))

    def clean_address_phone(self):
        return clean_phone(self.cleaned_data.get("address_phone", ""))

    def clean_address(self):
        return clean_address(self.cleaned_data.get("address", ""))

    def clean_bank_name(self):
        return clean_bank_name(self.cleaned_data.get("bank_name", ""))

    def clean_bank_account(self):
        return clean_bank_account(self.cleaned_data.get("bank_account", ""))

    def _check_unit_title(self, cleaned):
        if cleaned.get("title_kind") == TitleKind.UNIT and not cleaned.get("tax_number"):
            self.add_error("tax_number", _("A unit title needs the unit's tax number (USCC)."))


class InvoiceRequestForm(BuyerFieldsMixin, forms.Form):
    """开票: the invoice type and the buyer's details. With a payer-imposed title (B2B, bank
    transfer) the title fields are disabled: whatever is posted for them is ignored.

    ``kinds`` are the types the order's edition offers (``services.offered_kinds``); a special
    one needs a unit's title and its full tax details, each missing one said next to its field.
    """

    kind = forms.ChoiceField(
        label=_("Invoice type"),
        choices=InvoiceKind.choices,
        initial=InvoiceKind.ELECTRONIC,
        # The one-sentence notes on each type, above the form (KIND_NOTES), describe the choice.
        widget=forms.RadioSelect(attrs={"aria-describedby": "invoice-kinds"}),
    )

    def __init__(
        self, *args, locked: LockedTitle | None = None, kinds: list[str] | None = None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.locked = locked
        if kinds is not None:
            self.fields["kind"].choices = [
                (value, label) for value, label in InvoiceKind.choices if value in kinds
            ]
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
        if kind in SPECIAL_KINDS:
            for name, error in special_requirements(kind, cleaned).items():
                if name not in self.errors:
                    self.add_error(name, error)
        if kind in ELECTRONIC_KINDS and not cleaned.get("email") and "email" not in self.errors:
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
