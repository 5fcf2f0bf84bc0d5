"""The delivery address form (证件快递常用地址)."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ciie_portal.choices import Region

from . import reference
from .forms import mobile_is_valid
from .models import DeliveryAddress

MAINLAND_POSTCODE = re.compile(r"^\d{6}$")
DIVISION_FIELDS = ("province", "city", "district")
ADDRESS_FIELDS = ("recipient", "mobile", *DIVISION_FIELDS, "address", "postcode")


class AddressForm(forms.Form):
    """One delivery address. Units outside the Chinese mainland have no division pickers and
    type the whole address; their postcode is optional and free."""

    recipient = forms.CharField(label=_("Recipient"), max_length=50)
    mobile = forms.CharField(label=_("Mobile number"), max_length=20)
    province = forms.CharField(
        label=_("Province"), widget=forms.Select(attrs={"data-division": "province"})
    )
    city = forms.CharField(
        label=_("City"), required=False, widget=forms.Select(attrs={"data-division": "city"})
    )
    district = forms.CharField(
        label=_("District"),
        required=False,
        widget=forms.Select(attrs={"data-division": "district"}),
    )
    address = forms.CharField(
        label=_("Street address"),
        max_length=200,
        help_text=_("Street, number, building and room."),
    )
    postcode = forms.CharField(label=_("Postcode"), max_length=10)
    is_default = forms.BooleanField(label=_("Make this the default address"), required=False)

    def __init__(self, *args, unit, address: DeliveryAddress | None = None, **kwargs):
        if address is not None:
            kwargs.setdefault(
                "initial",
                {name: getattr(address, name) for name in (*ADDRESS_FIELDS, "is_default")},
            )
        super().__init__(*args, **kwargs)
        self.unit = unit
        self.domestic = unit.region == Region.MAINLAND
        if self.domestic:
            province = self._value("province")
            city = self._value("city")
            blank = [("", "—")]
            self.fields["province"].widget.choices = blank + reference.provinces()
            self.fields["city"].widget.choices = blank + (
                reference.children(province) if province else []
            )
            self.fields["district"].widget.choices = blank + (
                reference.children(city) if city else []
            )
        else:
            for name in DIVISION_FIELDS:
                del self.fields[name]
            self.fields["address"].label = _("Full address")
            self.fields["address"].help_text = _(
                "The complete postal address, with the city and the country or region."
            )
            self.fields["postcode"].required = False
        if address is not None and address.is_default:
            field = self.fields["is_default"]
            field.disabled = True
            field.help_text = _(
                "This is the default address. Make another address the default to change that."
            )

    def _value(self, name: str) -> str:
        value = self.data.get(name) if self.is_bound else self.initial.get(name)
        return value or ""

    def clean_mobile(self):
        value = "".join(self.cleaned_data["mobile"].split())
        if not mobile_is_valid(value, region=self.unit.region):
            raise ValidationError(_("Enter a valid mobile number."))
        return value

    def clean_postcode(self):
        value = self.cleaned_data["postcode"].strip()
        if self.domestic:
            value = "".join(value.split())
            if not MAINLAND_POSTCODE.match(value):
                raise ValidationError(_("Enter the 6-digit postcode."))
        return value

    def clean(self):
        data = super().clean()
        if self.domestic and data.get("province"):
            try:
                reference.validate_division(
                    data["province"], data.get("city", ""), data.get("district", "")
                )
            except ValidationError as error:
                # The code names the field at fault: "city_invalid" → city.
                field = (error.code or "").split("_")[0]
                self.add_error(field if field in DIVISION_FIELDS else "province", error)
        return data

    def address_values(self) -> dict:
        """The cleaned values as address_create takes them (empty divisions outside the
        mainland)."""
        data = self.cleaned_data
        values = {name: data.get(name, "") for name in ADDRESS_FIELDS}
        values["is_default"] = bool(data.get("is_default"))
        return values

    def update_values(self) -> dict:
        """The same, as address_update takes them (the street line as ``street``)."""
        values = self.address_values()
        values["street"] = values.pop("address")
        return values
