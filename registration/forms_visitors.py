from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from ciie_portal.crypto import normalize_id

from .models import ID_TYPES_BY_PERSON, IdType, PersonType, Pickup, Visitor
from .photos import clean_visitor_photo
from .validators import resident_id_birth_date, resident_id_sex, validate_id_number

# Documents whose number carries the holder's birth date and sex (GB 11643).
NUMBER_WITH_BIRTH_DATE = {
    IdType.RESIDENT_ID,
    IdType.HMT_RESIDENCE_PERMIT,
    IdType.FOREIGNER_PR_CARD,
}
HMT_REGIONS = ["HK", "MO", "TW"]


class VisitorForm(forms.ModelForm):
    """参观人员: one form for the four person types; fields and documents follow the type."""

    id_number = forms.CharField(label=_("ID number"), max_length=32)
    pledge = forms.BooleanField(
        label=_(
            "I promise that this information is true, standard and complete; untrue or "
            "irregular information affects the credential."
        ),
        required=False,
    )

    class Meta:
        model = Visitor
        fields = [
            "surname_en", "given_name_en", "name", "permit_name", "sex", "birth_date",
            "nationality", "id_type", "id_number", "job_category", "position", "mobile",
            "email", "entry_period", "pickup", "address", "photo",
        ]  # fmt: skip
        widgets = {
            "birth_date": forms.DateInput(attrs={"type": "date"}),
            "sex": forms.RadioSelect,
            "pickup": forms.RadioSelect,
            "photo": forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
        }

    def __init__(self, *args, unit, person_type, submitting=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.unit, self.person_type, self.submitting = unit, person_type, submitting
        fields = self.fields
        allowed = ID_TYPES_BY_PERSON[person_type]
        # The usual document first (a passport before a permanent-residence card).
        fields["id_type"].choices = [(value, IdType(value).label) for value in allowed]
        if self.initial.get("id_type") not in allowed:
            self.initial["id_type"] = allowed[0]
        fields["entry_period"].queryset = unit.edition.entry_periods.all()
        fields["entry_period"].empty_label = None
        fields["address"].queryset = unit.addresses.all()
        fields["address"].required = False
        fields["pickup"].choices = Pickup.choices
        fields["photo"].help_text = _(
            "JPG or PNG, white background, at least 413×531 pixels (35×45 mm at 300 dpi)."
        )
        for name in ("sex", "birth_date", "job_category", "position", "mobile", "pickup"):
            fields[name].required = True
        if person_type == PersonType.FOREIGN:
            fields["surname_en"].required = fields["given_name_en"].required = True
            fields["nationality"].required = True
            fields["name"].required = False
            fields["name"].label = _("Chinese name (if any)")
        else:
            del fields["surname_en"], fields["given_name_en"]
        if person_type == PersonType.HMT:
            fields["nationality"].label = _("Region")
            fields["nationality"].choices = [(code, countries.name(code)) for code in HMT_REGIONS]
            fields["nationality"].required = True
        elif person_type == PersonType.MAINLAND:
            del fields["nationality"], fields["permit_name"]
        elif person_type == PersonType.OVERSEAS_CHINESE:
            fields["nationality"].label = _("Country of residence")
            fields["nationality"].required = True
            del fields["permit_name"]
        if person_type in (PersonType.HMT, PersonType.FOREIGN):
            fields["permit_name"].required = True
        if not self.is_bound and self.instance.pk:
            self.initial["id_number"] = self.instance.id_number
        if submitting:
            fields["pledge"].required = True
            fields["pledge"].error_messages["required"] = _(
                "Tick the pledge to submit this visitor."
            )

    def clean_id_number(self):
        return normalize_id(self.cleaned_data["id_number"])

    def clean_photo(self):
        photo = self.cleaned_data.get("photo")
        if photo and hasattr(photo, "content_type"):
            return clean_visitor_photo(photo)
        return photo

    def clean(self):
        data = super().clean()
        id_type, number = data.get("id_type"), data.get("id_number")
        if id_type and number:
            try:
                validate_id_number(id_type, number)
            except ValidationError as error:
                self.add_error("id_number", error)
            else:
                self._check_number_agrees(id_type, number, data)
        if self.person_type == PersonType.FOREIGN and data.get("surname_en"):
            data["surname_en"] = data["surname_en"].strip().upper()
            if not data.get("name"):
                data["name"] = f"{data['surname_en']} {data.get('given_name_en', '').strip()}"
        if data.get("pickup") == Pickup.COURIER and not data.get("address"):
            self.add_error(
                "address",
                _("Choose the delivery address (add one under delivery addresses first)."),
            )
        if self.submitting and not (data.get("photo") or self.instance.photo):
            self.add_error("photo", _("A photo is needed to submit this visitor."))
        return data

    def _check_number_agrees(self, id_type, number, data):
        """A mainland ID card (and the permits numbered like it) names birth date and sex."""
        if id_type not in NUMBER_WITH_BIRTH_DATE:
            return
        born, sex = data.get("birth_date"), data.get("sex")
        if born and born != resident_id_birth_date(number):
            self.add_error("birth_date", _("The date of birth does not agree with the ID number."))
        if sex and sex != resident_id_sex(number):
            self.add_error("sex", _("The sex does not agree with the ID number."))
        if born and born > timezone.localdate():
            self.add_error("birth_date", _("The date of birth is in the future."))


class VisitorFilterForm(forms.Form):
    q = forms.CharField(label=_("Name or ID number"), required=False)
    person_type = forms.ChoiceField(
        label=_("Person type"), choices=[("", _("All"))] + PersonType.choices, required=False
    )
    entry_period = forms.ModelChoiceField(
        label=_("Entry days"), queryset=None, required=False, empty_label=_("All")
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All"))] + Visitor.Status.choices, required=False
    )

    def __init__(self, *args, edition, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["entry_period"].queryset = edition.entry_periods.all()
