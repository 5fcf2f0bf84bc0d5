from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from ciie_portal.context_processors import entry_periods_of
from ciie_portal.crypto import normalize_id
from ciie_portal.form_cache import KnownModelChoiceField, model_choices
from ciie_portal.sql_once import WrittenOnce
from ciie_portal.timefmt import local_text

from .models import ID_TYPES_BY_PERSON, DeliveryAddress, IdType, PersonType, Pickup, Unit, Visitor
from .photos import clean_visitor_photo
from .visitor_checks import FieldErrors, visitor_values_check

HMT_REGIONS = ["HK", "MO", "TW"]

#: A unit's delivery addresses in their order, for the choices of a form shown empty.
_ADDRESSES_OF_UNIT = WrittenOnce(lambda unit_id: DeliveryAddress.objects.filter(unit_id=unit_id))


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
    # PIPL art. 29: separate from the pledge; the colleague joining by link gives it in person.
    sensitive_consent = forms.BooleanField(
        label=_(
            "The visitor agrees that their ID document and face photo (sensitive personal "
            "information) are processed for the credential and the security review."
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
        # Found among the edition's entry periods in hand (``model_choices``), with no query.
        field_classes = {"entry_period": KnownModelChoiceField}

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
        model_choices(fields["entry_period"], entry_periods_of(unit.edition))
        fields["address"].queryset = unit.addresses.all()
        fields["address"].required = False
        if not self.is_bound:  # a posted form reads them only if shown again
            model_choices(fields["address"], _ADDRESSES_OF_UNIT.objects(unit.pk))
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
        consent = fields["sensitive_consent"]
        if self.instance.sensitive_consent_at is not None:
            # Given already (by the contact or by the colleague): shown, kept.
            consent.disabled, consent.initial = True, True
            consent.help_text = _("Given on %(date)s (Beijing time) by %(who)s.") % {
                "date": local_text(self.instance.sensitive_consent_at),
                "who": self.instance.get_sensitive_consent_by_display(),
            }
        elif submitting:
            consent.required = True
            consent.error_messages["required"] = _(
                "Tick the visitor's consent to processing the ID document and face photo to "
                "submit this visitor."
            )

    def consent_by_colleague(self) -> None:
        """The form as the colleague joining by link sees it: the consent is theirs, and
        needed to save."""
        consent = self.fields["sensitive_consent"]
        consent.label = _(
            "I agree that my ID document and face photo (sensitive personal information) are "
            "processed for the credential and the security review."
        )
        consent.required = True
        consent.error_messages["required"] = _(
            "Tick your consent to processing your ID document and face photo to save."
        )

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        if self.fields["entry_period"].from_known_objects():
            # Its field took it from the edition's own entry periods: the model's check of the
            # foreign key would only read the same row again.
            exclude.add("entry_period")
        return exclude

    def clean_id_number(self):
        return normalize_id(self.cleaned_data["id_number"])

    def clean_photo(self):
        photo = self.cleaned_data.get("photo")
        if photo and hasattr(photo, "content_type"):
            return clean_visitor_photo(photo)
        return photo

    def clean(self):
        data = super().clean()
        errors = visitor_values_check(
            person_type=self.person_type,
            values=data,
            submitting=self.submitting,
            has_photo=bool(data.get("photo") or self.instance.photo),
        )
        for name, refusals in errors.items():
            for error in refusals:
                self.add_error(name, error)
        return data


def empty_form_key(unit: Unit, person_type: str) -> str:
    """What the empty form for a new visitor of ``person_type`` in ``unit`` is rendered from,
    besides the language (which every kept fragment's key holds): the person type, the
    edition's entry periods and the unit's delivery addresses, as their choices show them. The
    add page keeps the form's HTML under it; a form whose HTML comes to depend on anything else
    adds it here (``tests/registration/test_visitors.py`` compares kept and fresh forms)."""
    return repr(
        (
            person_type,
            _periods_shown(unit.edition),
            [(address.pk, str(address)) for address in _ADDRESSES_OF_UNIT.objects(unit.pk)],
        )
    )


def filter_form_key(edition) -> str:
    """What the visitor list's filters as first shown are rendered from besides the language:
    the edition's entry periods (the other choices are fixed, and the filters the apps add are
    registered once at start). The list keeps their HTML under it."""
    return repr(_periods_shown(edition))


def _periods_shown(edition) -> list:
    return [(period.pk, str(period)) for period in entry_periods_of(edition)]


#: Fields that come with a visitor's values rather than with the web form's page.
NOT_FROM_VALUES = ("photo", "pledge", "sensitive_consent")


def visitor_values_clean(*, unit: Unit, person_type: str, values: dict) -> tuple[dict, FieldErrors]:
    """A visitor's values (Python values: dates, codes, model instances) validated as the
    visitor form validates what is typed in it, photo aside: the fields this person type
    has, each cleaned by the form's own field, then ``visitor_values_check``.

    Returns ``(cleaned, errors)``: the cleaned values of the fields that passed, and the
    refusals by field in the form's order (nothing is refused when ``errors`` is empty).
    """
    form = VisitorForm(
        unit=unit,
        person_type=person_type,
        instance=Visitor(unit=unit, edition=unit.edition, person_type=person_type),
    )
    cleaned, errors = {}, {}
    form.cleaned_data = cleaned  # what the form's clean_<field> methods read
    for name, field in form.fields.items():
        if name in NOT_FROM_VALUES:
            continue
        try:
            cleaned[name] = field.clean(values.get(name))
            if hasattr(form, f"clean_{name}"):
                cleaned[name] = getattr(form, f"clean_{name}")()
        except ValidationError as error:
            cleaned.pop(name, None)
            errors[name] = [error]
    for name, refusals in visitor_values_check(person_type=person_type, values=cleaned).items():
        errors.setdefault(name, []).extend(refusals)
        cleaned.pop(name, None)
    return cleaned, errors


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
        model_choices(self.fields["entry_period"], entry_periods_of(edition))
