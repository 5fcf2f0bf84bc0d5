import io
import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registration.forms import LICENCE_MAX_BYTES, clean_document_image

from .models import Refund, TransferRemittance

PDF_HEADER = b"%PDF-"
PDF_TRAILER = b"%%EOF"
ACCOUNT_NUMBER = re.compile(r"^[0-9][0-9 -]{4,38}[0-9]$")
PHONE = re.compile(r"^[0-9+()][0-9 +()-]{4,28}[0-9]$")


def _not_a_voucher() -> ValidationError:
    return ValidationError(
        _("The voucher must be a JPG or PNG image or a PDF file."), code="not_a_voucher"
    )


def clean_voucher(upload) -> InMemoryUploadedFile:
    """汇款凭证: a real JPG/PNG (re-encoded, as the qualification document) or a real PDF, at most
    2 MB. A PDF is told by its content (it starts with ``%PDF-`` and ends with ``%%EOF``), never
    by its name, so a renamed script or page is refused. The stored name is never the upload's."""
    if upload.size > LICENCE_MAX_BYTES:
        raise ValidationError(_("The file is larger than 2 MB."), code="too_large")
    upload.seek(0)
    content = upload.read(LICENCE_MAX_BYTES + 1)
    if content.startswith(PDF_HEADER):
        if PDF_TRAILER not in content[-1024:]:
            raise _not_a_voucher()
        return InMemoryUploadedFile(
            io.BytesIO(content), "voucher", "voucher.pdf", "application/pdf", len(content), None
        )
    if upload.name.lower().endswith(".pdf"):
        raise _not_a_voucher()
    try:
        image = clean_document_image(upload)
    except ValidationError as error:
        if error.code == "too_large":
            raise
        raise _not_a_voucher() from error
    image.name = "voucher." + image.name.rsplit(".", 1)[-1]
    return image


class TransferRemittanceForm(forms.ModelForm):
    class Meta:
        model = TransferRemittance
        fields = [
            "payer_kind",
            "payer_name",
            "bank_branch",
            "account_number",
            "phone",
            "amount",
            "remitted_on",
            "voucher",
        ]
        widgets = {
            "payer_kind": forms.RadioSelect,
            "remitted_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "voucher": forms.ClearableFileInput(
                attrs={"accept": "image/jpeg,image/png,application/pdf"}
            ),
        }
        help_texts = {
            "payer_name": _("The name of the unit or the person that paid, as on the voucher."),
            "amount": _("The amount transferred, exactly as on the voucher."),
            "voucher": _("A photo or scan of the voucher: JPG or PNG image, or PDF, up to 2 MB."),
        }

    def clean_account_number(self):
        value = self.cleaned_data["account_number"].strip()
        if not ACCOUNT_NUMBER.match(value):
            raise ValidationError(_("Enter the account number the money was sent from."))
        return value

    def clean_phone(self):
        value = self.cleaned_data["phone"].strip()
        if not PHONE.match(value):
            raise ValidationError(_("Enter a valid telephone number."))
        return value

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount is not None and amount <= 0:
            raise ValidationError(_("Enter the amount transferred."))
        return amount

    def clean_remitted_on(self):
        remitted_on = self.cleaned_data["remitted_on"]
        if remitted_on and remitted_on > timezone.localdate():
            raise ValidationError(_("The transfer date cannot be in the future."))
        return remitted_on

    def clean_voucher(self):
        return clean_voucher(self.cleaned_data["voucher"])

    def remittance(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class RefundRequestForm(forms.Form):
    """退款 / 批量退款: the lines to refund; for bank transfers, where the money goes back."""

    lines = forms.TypedMultipleChoiceField(
        label=_("Visitors to refund"), coerce=int, widget=forms.CheckboxSelectMultiple
    )
    route = forms.ChoiceField(
        label=_("Refund bank transfers"),
        choices=Refund.Route.choices,
        initial=Refund.Route.ORIGINAL,
        widget=forms.RadioSelect,
        required=False,
        help_text=_("QR and B2B payments always go back the way they were paid."),
    )
    payee_name = forms.CharField(label=_("payee name"), max_length=100, required=False)
    payee_account = forms.CharField(label=_("payee account number"), max_length=40, required=False)
    payee_bank = forms.CharField(label=_("payee bank"), max_length=100, required=False)
    payee_bank_code = forms.CharField(
        label=_("bank code"),
        max_length=20,
        required=False,
        help_text=_("The bank's clearing code (联行号), if you know it."),
    )
    reason = forms.CharField(
        label=_("Remark"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lines"].choices = [(line.pk, line.visitor.name) for line in lines]

    def clean_payee_account(self):
        value = self.cleaned_data["payee_account"].strip()
        if value and not ACCOUNT_NUMBER.match(value):
            raise ValidationError(_("Enter the account number the refund should go to."))
        return value

    def clean(self):
        data = super().clean()
        if data.get("route") == Refund.Route.OTHER_ACCOUNT:
            for name in ("payee_name", "payee_account", "payee_bank"):
                if not (data.get(name) or "").strip() and name not in self.errors:
                    self.add_error(name, _("Needed to refund to another account."))
        return data

    def payee(self) -> dict:
        return {
            name: self.cleaned_data.get(name, "")
            for name in ("payee_name", "payee_account", "payee_bank", "payee_bank_code")
        }
