"""The buyer's tax details (购买方信息) and what a special invoice needs of them.

A VAT special invoice (数电专票 or paper) is made out to a unit and carries its full tax details:
title, tax number, address and telephone, bank and account — all required. The request form
checks them field by field (messages next to each field); the request service checks them again
with the same functions, whoever calls it (the unit's page, finance's, a delegation's).
"""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ciie_portal.crypto import normalize_id
from registration.validators import validate_uscc

from .models import SPECIAL_KINDS, TitleKind

# Taxpayer numbers before the USCC (税务登记号): 15 or 20 letters and digits.
LEGACY_TAX_NUMBER = re.compile(r"^[0-9A-Z]{15}$|^[0-9A-Z]{20}$")
PHONE = re.compile(r"^[0-9+()][0-9 +()-]{4,28}[0-9]$")
# A bank account number (银行账号): digits only once the spaces and hyphens people group them
# with are taken out; Chinese accounts have 8 to 30 digits, corporate ones often 12 to 25.
BANK_ACCOUNT = re.compile(r"^[0-9]{8,32}$")
# A bank's name has words in it (中国银行上海市分行营业部), not only digits or signs.
WORDS = re.compile(r"[^\W\d_]{2,}")
# What a special (专用) invoice must carry about the buyer besides the title, with the message
# shown next to each field left empty.
SPECIAL_REQUIRED = {
    "tax_number": _("A VAT special invoice needs the unit's tax number (USCC)."),
    "address": _("A VAT special invoice needs the unit's registered address."),
    "address_phone": _("A VAT special invoice needs the unit's telephone number."),
    "bank_name": _("A VAT special invoice needs the bank where the unit has its account."),
    "bank_account": _("A VAT special invoice needs the unit's bank account number."),
}
MIN_ADDRESS_LENGTH = 5


def clean_tax_number(value: str) -> str:
    """A USCC (18 characters) is checked with the registration validator, its check character
    included; the older 15- and 20-character taxpayer numbers are accepted as they are."""
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


def clean_phone(value: str) -> str:
    value = (value or "").strip()
    if value and not PHONE.match(value):
        raise ValidationError(_("Enter a valid telephone number."), code="phone")
    return value


def clean_bank_account(value: str) -> str:
    """Digits only: full-width digits, spaces and hyphens typed to group them are taken out."""
    value = unicodedata.normalize("NFKC", value or "")
    value = re.sub(r"[\s-]", "", value)
    if value and not BANK_ACCOUNT.match(value):
        raise ValidationError(
            _("Enter the bank account number: 8 to 32 digits (spaces are ignored)."),
            code="bank_account",
        )
    return value


def clean_bank_name(value: str) -> str:
    value = " ".join((value or "").split())
    if value and not WORDS.search(value):
        raise ValidationError(
            _("Enter the name of the bank and its branch, not a number."), code="bank_name"
        )
    return value


def clean_address(value: str) -> str:
    value = " ".join((value or "").split())
    if value and (len(value) < MIN_ADDRESS_LENGTH or not WORDS.search(value)):
        raise ValidationError(_("Enter the unit's full registered address."), code="address")
    return value


CLEANERS = {
    "tax_number": clean_tax_number,
    "phone": clean_phone,
    "address_phone": clean_phone,
    "bank_account": clean_bank_account,
    "bank_name": clean_bank_name,
    "address": clean_address,
}


def special_requirements(kind: str, buyer: dict) -> dict[str, ValidationError]:
    """What a special invoice misses of ``buyer`` (cleaned values): one error per field."""
    if kind not in SPECIAL_KINDS:
        return {}
    errors = {}
    if buyer.get("title_kind") != TitleKind.UNIT:
        errors["title_kind"] = ValidationError(
            _("A VAT special invoice can only be made out to a unit."), code="special_unit"
        )
    for name, message in SPECIAL_REQUIRED.items():
        if not buyer.get(name):
            errors[name] = ValidationError(message, code="special_required")
    return errors


def special_buyer(kind: str, buyer: dict) -> dict:
    """The buyer of a special invoice cleaned and checked: raises ValidationError with one
    message per field (``form.add_error(None, error)`` puts each next to its field)."""
    cleaned, errors = dict(buyer), {}
    for name, clean in CLEANERS.items():
        try:
            cleaned[name] = clean(buyer.get(name, ""))
        except ValidationError as error:
            errors[name] = error
    for name, error in special_requirements(kind, cleaned).items():
        errors.setdefault(name, error)
    if errors:
        raise ValidationError(errors)
    return cleaned
