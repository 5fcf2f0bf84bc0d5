"""The rules between a visitor's fields, on values already cleaned field by field: the ID
number's format, the birth date and sex a resident ID number names, the name of a person of
another country, the delivery address of a couriered credential, the photo of a submitted
visitor.

One place for the web form (``VisitorForm.clean``) and for every other way visitors arrive
(``forms_visitors.visitor_values_clean``: the delegations' bulk registration).
"""

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import IdType, PersonType, Pickup
from .validators import resident_id_birth_date, resident_id_sex, validate_id_number

# Documents whose number carries the holder's birth date and sex (GB 11643).
NUMBER_WITH_BIRTH_DATE = {
    IdType.RESIDENT_ID,
    IdType.HMT_RESIDENCE_PERMIT,
    IdType.FOREIGNER_PR_CARD,
}

FieldErrors = dict[str, list[ValidationError]]


def visitor_values_check(
    *, person_type: str, values: dict, submitting: bool = False, has_photo: bool = False
) -> FieldErrors:
    """Check ``values`` (field name → cleaned value; a field that failed is absent) against
    each other. Completes ``values`` in place (a foreigner's surname in capitals, their name
    from the English one) and returns the refusals by field, in the form's order."""
    errors: FieldErrors = {}

    def refuse(name, error):
        errors.setdefault(name, []).append(
            error if isinstance(error, ValidationError) else ValidationError(error)
        )

    id_type, number = values.get("id_type"), values.get("id_number")
    if id_type and number:
        try:
            validate_id_number(id_type, number)
        except ValidationError as error:
            refuse("id_number", error)
        else:
            _check_number_agrees(id_type, number, values, refuse)
    if person_type == PersonType.FOREIGN and values.get("surname_en"):
        values["surname_en"] = values["surname_en"].strip().upper()
        if not values.get("name"):
            values["name"] = f"{values['surname_en']} {values.get('given_name_en', '').strip()}"
    if values.get("pickup") == Pickup.COURIER and not values.get("address"):
        refuse(
            "address", _("Choose the delivery address (add one under delivery addresses first).")
        )
    if submitting and not has_photo:
        refuse("photo", _("A photo is needed to submit this visitor."))
    return errors


def _check_number_agrees(id_type, number, values, refuse) -> None:
    """A mainland ID card (and the permits numbered like it) names birth date and sex."""
    if id_type not in NUMBER_WITH_BIRTH_DATE:
        return
    born, sex = values.get("birth_date"), values.get("sex")
    if born and born != resident_id_birth_date(number):
        refuse("birth_date", _("The date of birth does not agree with the ID number."))
    if sex and sex != resident_id_sex(number):
        refuse("sex", _("The sex does not agree with the ID number."))
    if born and born > timezone.localdate():
        refuse("birth_date", _("The date of birth is in the future."))
