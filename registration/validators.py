"""Validators for the identity and organisation numbers visitors enter when they pre-register.

Every ``validate_*`` function follows Django's validator protocol: it returns ``None`` when the
value is acceptable and raises :class:`django.core.exceptions.ValidationError` (with a
translatable, human-readable message and a stable ``code``) when it is not. Each validator
normalises its input with :func:`normalize_id` first, so a number typed with spaces, full-width
characters or a lowercase ``x`` is judged by what it means, not by how it was typed. Callers
should store ``normalize_id(value)`` so that the stored form matches what was validated.

Standards implemented here:

* **GB 32100-2015** – Unified Social Credit Code (统一社会信用代码) of organisations.
* **GB 11643-1999** – Citizen identification number (公民身份号码), which is also the number
  format of the residence permits for Hong Kong, Macao and Taiwan residents (港澳台居民居住证,
  address codes 810000 / 820000 / 830000) and of the 2023 foreigner's permanent residence ID
  card (外国人永久居留身份证, first digit 9).
* The number formats of the Mainland Travel Permits for Hong Kong and Macao residents
  (港澳居民来往内地通行证) and for Taiwan residents (台湾居民来往大陆通行证).
* A deliberately loose check of passport numbers (ICAO Doc 9303 only fixes the MRZ field).
"""

from __future__ import annotations

import re
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ciie_portal.crypto import mask_id, normalize_id

__all__ = [
    "ID_TYPES",
    "mask_id",
    "normalize_id",
    "resident_id_birth_date",
    "resident_id_check_char",
    "resident_id_sex",
    "uscc_check_char",
    "validate_home_return_permit",
    "validate_id_number",
    "validate_passport",
    "validate_resident_id",
    "validate_taiwan_permit",
    "validate_uscc",
]

# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------

# Zero-width characters are not whitespace for str.split(), but they come along when a number is
# copied from a web page or a PDF, and they are invisible to the person who pasted them.
# ---------------------------------------------------------------------------------------------
# Unified Social Credit Code (GB 32100-2015)
# ---------------------------------------------------------------------------------------------

# The code's alphabet: the digits and the capital letters except I, O, Z, S and V, which the
# standard leaves out because they are easily confused with 1, 0, 2, 5 and U. A character's
# value is its index in this string (A = 10, …, Y = 30).
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {char: index for index, char in enumerate(USCC_CHARSET)}
# Weight of position i (0-based) is 3**i mod 31: 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8,
# 24, 10, 30, 28.
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_USCC_LENGTH = 18


def uscc_check_char(first17: str) -> str:
    """Return the check character (18th position) of a Unified Social Credit Code.

    GB 32100-2015 computes it from the first 17 characters with the weights ``3**i mod 31``:
    ``c18 = (31 - sum(value_i * weight_i) mod 31) mod 31``, mapped back to the alphabet.

    Raises :class:`ValueError` if ``first17`` is not 17 characters of the code's alphabet; this
    helper is for building or checking numbers, not for validating user input.
    """
    body = normalize_id(first17)
    if len(body) != 17 or any(char not in _USCC_VALUES for char in body):
        raise ValueError(f"Expected 17 characters from {USCC_CHARSET!r}, got {first17!r}.")
    total = sum(
        _USCC_VALUES[char] * weight for char, weight in zip(body, _USCC_WEIGHTS, strict=True)
    )
    return USCC_CHARSET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> None:
    """Validate a Unified Social Credit Code (统一社会信用代码, GB 32100-2015).

    The code has 18 characters: registration authority (1), organisation category (1),
    administrative division (6), organisation identifier (9) and check character (1). Only the
    length, the alphabet and the check character are verified:

    * the first character is not restricted to a list of authorities, because new authority
      codes (``N`` agriculture, ``Y`` other, ``A`` religious affairs, ``G`` tourism, …) keep
      being assigned and a visitor must never be turned away for holding a real code;
    * the GB 11714 organisation-code check digit of positions 9–17 is not verified, because
      codes issued since 2015 are no longer required to satisfy it.
    """
    code = normalize_id(value)
    if len(code) != _USCC_LENGTH:
        raise ValidationError(
            _("The Unified Social Credit Code must be 18 characters."), code="uscc_length"
        )
    # List each offending character once, in the order typed, so the person can find it.
    bad = "".join(dict.fromkeys(char for char in code if char not in _USCC_VALUES))
    if bad:
        raise ValidationError(
            _(
                "The Unified Social Credit Code contains characters that are not allowed: "
                "%(characters)s. It uses only digits and capital letters, without I, O, Z, S "
                "or V."
            ),
            code="uscc_characters",
            params={"characters": ", ".join(bad)},
        )
    if uscc_check_char(code[:17]) != code[17]:
        raise ValidationError(
            _(
                "The last character of the Unified Social Credit Code does not match the "
                "first 17. Please check the code for typing mistakes."
            ),
            code="uscc_check_char",
        )


# ---------------------------------------------------------------------------------------------
# Citizen identification number (GB 11643-1999) and the numbers built on it
# ---------------------------------------------------------------------------------------------

# Weight of position i (1-based, from the left) is 2**(18 - i) mod 11.
_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# Check character indexed by the weighted sum mod 11 (ISO 7064 MOD 11-2; 10 is written X).
_RESIDENT_ID_CHECK_CHARS = "10X98765432"
_RESIDENT_ID_RE = re.compile(r"[0-9]{17}[0-9X]")
_EARLIEST_BIRTH_DATE = date(1900, 1, 1)

# Province-level codes of GB/T 2260 that issue mainland resident ID cards.
MAINLAND_PROVINCE_CODES = frozenset(
    {"11", "12", "13", "14", "15"}  # Beijing, Tianjin, Hebei, Shanxi, Inner Mongolia
    | {"21", "22", "23"}  # Liaoning, Jilin, Heilongjiang
    | {"31", "32", "33", "34", "35", "36", "37"}  # Shanghai … Shandong
    | {"41", "42", "43", "44", "45", "46"}  # Henan … Hainan
    | {"50", "51", "52", "53", "54"}  # Chongqing, Sichuan, Guizhou, Yunnan, Tibet
    | {"61", "62", "63", "64", "65"}  # Shaanxi, Gansu, Qinghai, Ningxia, Xinjiang
)
# 71 is Taiwan's GB/T 2260 code; 81, 82 and 83 are the address codes of the residence permits
# for Hong Kong, Macao and Taiwan residents.
PROVINCE_CODES = MAINLAND_PROVINCE_CODES | {"71", "81", "82", "83"}
# The residence permits for Hong Kong, Macao and Taiwan residents always use these address codes.
HMT_RESIDENCE_PERMIT_PREFIXES = ("810000", "820000", "830000")
# First digit of the 2023 foreigner's permanent residence ID card. Citizen numbers start with a
# province code, whose first digit is 1–8, so the two cannot be confused.
FOREIGNER_PR_CARD_PREFIX = "9"


def resident_id_check_char(first17: str) -> str:
    """Return the GB 11643-1999 check character (``0``–``9`` or ``X``) for 17 digits.

    ``check = "10X98765432"[sum(digit_i * weight_i) % 11]`` with the weights
    7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2.

    Raises :class:`ValueError` if ``first17`` is not exactly 17 ASCII digits.
    """
    body = normalize_id(first17)
    if len(body) != 17 or not body.isascii() or not body.isdigit():
        raise ValueError(f"Expected 17 digits, got {first17!r}.")
    total = sum(
        int(digit) * weight for digit, weight in zip(body, _RESIDENT_ID_WEIGHTS, strict=True)
    )
    return _RESIDENT_ID_CHECK_CHARS[total % 11]


def _parse_birth_date(number: str) -> date | None:
    """Return the date in positions 7–14 of ``number``, or ``None`` if it is not a real date."""
    digits = number[6:14]
    if len(digits) != 8 or not digits.isascii() or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:  # 30 February, month 13, …
        return None


def _today() -> date:
    # The expo runs on China time: use the project's local date when time zones are enabled
    # (timezone.localdate() refuses to work when they are not).
    return timezone.localdate() if settings.USE_TZ else date.today()


def resident_id_birth_date(value: str) -> date:
    """Return the birth date encoded in positions 7–14 (YYYYMMDD) of an 18-character ID number.

    Works for citizen ID numbers, Hong Kong/Macao/Taiwan residence permits and 2023 foreigner's
    permanent residence cards, so that a form can check that the birth date a visitor entered
    agrees with the number. Raises :class:`ValueError` if the number has no valid date there;
    call it on numbers that passed :func:`validate_resident_id`.
    """
    number = normalize_id(value)
    born = _parse_birth_date(number) if len(number) == 18 else None
    if born is None:
        raise ValueError(f"No valid birth date in ID number {mask_id(number)!r}.")
    return born


def resident_id_sex(value: str) -> str:
    """Return ``"M"`` or ``"F"`` from the 17th digit of an 18-character ID number (odd = male).

    Raises :class:`ValueError` if the number is not 18 characters or its 17th is not a digit.
    """
    number = normalize_id(value)
    if len(number) != 18 or not number[16].isascii() or not number[16].isdigit():
        raise ValueError(f"Not an 18-character ID number: {mask_id(number)!r}.")
    return "M" if int(number[16]) % 2 else "F"


def validate_resident_id(value: str) -> None:
    """Validate an 18-character number in the GB 11643-1999 format.

    Accepted: mainland citizen ID numbers (居民身份证), residence permits for Hong Kong, Macao
    and Taiwan residents (港澳台居民居住证, address code 810000 / 820000 / 830000) and the 2023
    foreigner's permanent residence ID card (外国人永久居留身份证: ``9``, the two-digit
    province code of the issuing office, a three-digit nationality code, the birth date, a
    sequence number and the check digit). Use :func:`validate_id_number` to also check that the
    number is of the kind of document the visitor said it is.

    The number is ``AAAAAA YYYYMMDD SSS C``: address code, birth date, sequence number (odd for
    men, even for women) and a MOD 11-2 check character. Checked, in this order, each with its
    own error code: format (``resident_id_format``), region (``resident_id_region``), birth date
    between 1900-01-01 and today (``resident_id_birth_date``), check character
    (``resident_id_check_digit``). The old 15-digit numbers are refused: first-generation cards
    have not been valid since 2013.
    """
    number = normalize_id(value)
    if not _RESIDENT_ID_RE.fullmatch(number):
        raise ValidationError(
            _(
                "The ID number must be 18 characters: 17 digits followed by a digit or the "
                "letter X."
            ),
            code="resident_id_format",
        )
    if number.startswith(FOREIGNER_PR_CARD_PREFIX):
        region_ok = number[1:3] in MAINLAND_PROVINCE_CODES
    else:
        region_ok = number[:2] in PROVINCE_CODES
    if not region_ok:
        raise ValidationError(
            _("The ID number does not start with a valid region code."),
            code="resident_id_region",
        )
    born = _parse_birth_date(number)
    if born is None or not _EARLIEST_BIRTH_DATE <= born <= _today():
        raise ValidationError(
            _("The birth date in the ID number (digits 7 to 14) is not a valid date."),
            code="resident_id_birth_date",
        )
    if resident_id_check_char(number[:17]) != number[17]:
        raise ValidationError(
            _(
                "The last character of the ID number does not match the first 17. Please check "
                "the number for typing mistakes."
            ),
            code="resident_id_check_digit",
        )


# ---------------------------------------------------------------------------------------------
# Travel permits and passports
# ---------------------------------------------------------------------------------------------

# H (Hong Kong) or M (Macao), then the holder's 8-digit lifelong number; the current cards add
# 2 digits counting the renewals (H1234567801 is the second card of H12345678).
_HOME_RETURN_PERMIT_RE = re.compile(r"[HM](?:[0-9]{8}|[0-9]{10})")
# 8 digits on the current card, 10 on older booklets.
_TAIWAN_PERMIT_RE = re.compile(r"[0-9]{8}|[0-9]{10}")
_PASSPORT_MIN_LENGTH = 5
# ICAO Doc 9303 gives the number 9 characters in the MRZ, but some countries issue longer
# numbers (continued in the optional-data field), so up to 17 are allowed.
_PASSPORT_MAX_LENGTH = 17
_PASSPORT_CHARS_RE = re.compile(r"[A-Z0-9]*")


def validate_home_return_permit(value: str) -> None:
    """Validate a Mainland Travel Permit for Hong Kong and Macao Residents (港澳居民来往内地通行证).

    ``H`` (Hong Kong) or ``M`` (Macao) followed by 8 digits (older cards) or 10 digits (current
    cards: the 8-digit lifelong number plus a 2-digit renewal counter), i.e. 9 or 11 characters.
    """
    if not _HOME_RETURN_PERMIT_RE.fullmatch(normalize_id(value)):
        raise ValidationError(
            _(
                "The permit number must be H (Hong Kong) or M (Macao) followed by 8 or 10 "
                "digits, for example H1234567801."
            ),
            code="home_return_permit_format",
        )


def validate_taiwan_permit(value: str) -> None:
    """Validate a Mainland Travel Permit for Taiwan Residents (台湾居民来往大陆通行证).

    The current card's number is 8 digits; older permits carry 10 digits.
    """
    if not _TAIWAN_PERMIT_RE.fullmatch(normalize_id(value)):
        raise ValidationError(
            _("The permit number must be 8 digits (current card) or 10 digits (older permit)."),
            code="taiwan_permit_format",
        )


def validate_passport(value: str) -> None:
    """Validate a passport number loosely, since every country has its own format.

    Required: 5 to 17 characters, only the letters A–Z and digits, at least one digit. This
    catches the usual mistakes (a name or a nationality typed in the number field, punctuation)
    without refusing a genuine number from any country.
    """
    number = normalize_id(value)
    if not _PASSPORT_CHARS_RE.fullmatch(number):
        raise ValidationError(
            _("The passport number may contain only letters A to Z and digits."),
            code="passport_characters",
        )
    if not _PASSPORT_MIN_LENGTH <= len(number) <= _PASSPORT_MAX_LENGTH:
        raise ValidationError(
            _("The passport number must be %(min)d to %(max)d characters long."),
            code="passport_length",
            params={"min": _PASSPORT_MIN_LENGTH, "max": _PASSPORT_MAX_LENGTH},
        )
    if not any(char in "0123456789" for char in number):
        raise ValidationError(
            _("The passport number must contain at least one digit."),
            code="passport_digit",
        )


# ---------------------------------------------------------------------------------------------
# Dispatcher
# ---------------------------------------------------------------------------------------------


def _validate_mainland_resident_id(value: str) -> None:
    validate_resident_id(value)
    if normalize_id(value)[:2] not in MAINLAND_PROVINCE_CODES:
        # A residence permit or a foreigner's card typed under the wrong document type.
        raise ValidationError(
            _(
                "This is not a mainland resident ID card number. For a residence permit for "
                "Hong Kong, Macao and Taiwan residents or a foreigner's permanent residence ID "
                "card, choose that document type."
            ),
            code="resident_id_not_mainland",
        )


def _validate_hmt_residence_permit(value: str) -> None:
    validate_resident_id(value)
    if not normalize_id(value).startswith(HMT_RESIDENCE_PERMIT_PREFIXES):
        raise ValidationError(
            _(
                "The number of a residence permit for Hong Kong, Macao and Taiwan residents "
                "starts with 810000, 820000 or 830000."
            ),
            code="hmt_residence_permit_prefix",
        )


def _validate_foreigner_pr_card(value: str) -> None:
    validate_resident_id(value)
    if not normalize_id(value).startswith(FOREIGNER_PR_CARD_PREFIX):
        raise ValidationError(
            _("The number of a foreigner's permanent residence ID card starts with 9."),
            code="foreigner_pr_card_prefix",
        )


_ID_TYPE_VALIDATORS = {
    "resident_id": _validate_mainland_resident_id,
    "hmt_residence_permit": _validate_hmt_residence_permit,
    "foreigner_pr_card": _validate_foreigner_pr_card,
    "home_return_permit": validate_home_return_permit,
    "taiwan_permit": validate_taiwan_permit,
    "passport": validate_passport,
}
#: The document type keys :func:`validate_id_number` understands.
ID_TYPES = tuple(_ID_TYPE_VALIDATORS)


def validate_id_number(id_type: str, value: str) -> None:
    """Validate ``value`` as a number of the document type ``id_type``.

    ``id_type`` is one of :data:`ID_TYPES`:

    * ``"resident_id"`` – mainland resident ID card: GB 11643 and a mainland province code;
    * ``"hmt_residence_permit"`` – GB 11643 and address code 810000, 820000 or 830000;
    * ``"foreigner_pr_card"`` – GB 11643 and first digit 9 (2023 card);
    * ``"home_return_permit"``, ``"taiwan_permit"``, ``"passport"`` – see their validators.

    Raises :class:`ValueError` for an unknown ``id_type`` (a programming error, not bad input).
    """
    try:
        validator = _ID_TYPE_VALIDATORS[id_type]
    except KeyError:
        raise ValueError(
            f"Unknown ID type {id_type!r}; expected one of {', '.join(ID_TYPES)}."
        ) from None
    validator(value)


# ---------------------------------------------------------------------------------------------
# Display
# ---------------------------------------------------------------------------------------------
