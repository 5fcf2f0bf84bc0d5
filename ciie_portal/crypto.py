"""Sensitive identifiers (visitor ID numbers) at rest.

The number is stored encrypted with Fernet (authenticated: AES-CBC + HMAC-SHA256), so a stolen
database or backup does not give away ID numbers. Uniqueness and exact lookup use a blind index:
an HMAC-SHA256 of the normalised number under a separate key, which cannot be reversed without
that key. Lists show a masked form, which is stored so that no list ever needs to decrypt.
"""

import hashlib
import hmac
from dataclasses import dataclass
from functools import cache

from cryptography.fernet import InvalidToken, MultiFernet
from cryptography.fernet import Fernet
from django.conf import settings


def normalize_identifier(value: str) -> str:
    return "".join(value.split()).replace("\u3000", "").upper()


def mask_identifier(value: str) -> str:
    """440****665: the first three and last three characters of a number."""
    if len(value) <= 6:
        return "*" * max(len(value) - 2, 0) + value[-2:]
    return f"{value[:3]}****{value[-3:]}"


@cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.ID_ENCRYPTION_KEYS])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("The ID number cannot be decrypted with the configured keys.") from exc


def blind_index(value: str) -> str:
    return hmac.new(
        settings.ID_INDEX_KEY.encode(), normalize_identifier(value).encode(), hashlib.sha256
    ).hexdigest()


@dataclass(frozen=True)
class SealedIdentifier:
    encrypted: str
    index: str
    masked: str


def seal(value: str) -> SealedIdentifier:
    normalized = normalize_identifier(value)
    return SealedIdentifier(
        encrypted=encrypt(normalized),
        index=blind_index(normalized),
        masked=mask_identifier(normalized),
    )
