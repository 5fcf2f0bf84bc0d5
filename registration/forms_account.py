"""The forms of 账户管理 (``registration.account`` holds the rules; these only read the input)."""

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from .account import CONTACT_FIELDS
from .models import Unit


class PasswordChangeForm(forms.Form):
    current_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    new_password2 = forms.CharField(
        label=_("Confirm new password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        first, second = data.get("new_password1"), data.get("new_password2")
        if first and second and first != second:
            self.add_error("new_password2", _("The two passwords do not match."))
        return data


class CodeChangeForm(forms.Form):
    """A new mobile number or email address and the code sent to it. "Send code" (also without
    JavaScript) submits the form: then only the number or address is needed."""

    code = forms.CharField(
        label=_("Verification code"),
        max_length=6,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args, sending_code=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.sending_code = sending_code


class MobileChangeForm(CodeChangeForm):
    mobile = forms.CharField(
        label=_("New mobile number"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
        help_text=_("A code is sent to the new number; the change is made when you enter it."),
    )
    field_order = ["mobile", "code"]


class EmailChangeForm(CodeChangeForm):
    email = forms.EmailField(
        label=_("New email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text=_("A code is sent to the new address; the change is made when you enter it."),
    )
    field_order = ["email", "code"]


class ContactForm(forms.ModelForm):
    """The contact person of this edition's unit (its mobile and email change with a code)."""

    contact_title = forms.ChoiceField(
        label=_("Title"),
        choices=[("mr", _("Mr")), ("ms", _("Ms"))],
        widget=forms.RadioSelect,
        required=False,
    )

    class Meta:
        model = Unit
        fields = CONTACT_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact_name"].required = True
