"""Sensitive identifiers (visitor ID numbers) at rest.

The number is stored encrypted with Fernet (authenticated: AES-CBC + HMAC-SHA256), so a stolen
database or backup does not give away ID numbers. Uniqueness and exact lookup use a blind index:
an HMAC-SHA256 of the normalised number under a separate key, which cannot be reversed without
that key. Lists show a masked form, which is stored so that no list ever needs to decrypt.
"""

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def normalize_id(value: str) -> str:
    """Return ``value`` in the canonical form used for validation and storage.

    * NFKC-normalises the text, which turns full-width digits and letters typed with a Chinese
      input method (``１１０１０５…``, ``Ｘ``) into ASCII and the ideographic space U+3000 into
      an ordinary space;
    * removes all whitespace, including inside the number (people group digits with spaces),
      and invisible zero-width characters;
    * upper-cases letters (``x`` → ``X``, ``h`` → ``H``).
    """
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value)).translate(_INVISIBLE)
    return "".join(text.split()).upper()


def mask_id(value: str) -> str:
    """Return ``value`` masked for display and logs: ``440524198001010014`` → ``440****014``.

    Longer values keep their first 3 and last 3 characters around a fixed ``****`` (which also
    hides the length). Values of 6 characters or fewer keep only their last 2, with one ``*``
    per hidden character; values of 2 characters or fewer are masked entirely.
    """
    text = normalize_id(value)
    if len(text) > 6:
        return f"{text[:3]}****{text[-3:]}"
    if len(text) > 2:
        return "*" * (len(text) - 2) + text[-2:]
    return "*" * len(text)


@cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.ID_ENCRYPTION_KEYS])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


class KeysMismatch(ValueError):
    """The stored ID numbers were encrypted with keys this server was not given.

    Typically a database restored, or a server started, without the ``ID_ENCRYPTION_KEY`` that
    belongs to it. It is the server's configuration that is wrong, not the request, so
    ``ciie_portal.middleware`` answers it with a 503 page for the organiser instead of a 500.
    A ``ValueError``, so that callers which already catch that keep working.
    """


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise KeysMismatch("The ID number cannot be decrypted with the configured keys.") from exc


def blind_index(value: str) -> str:
    return hmac.new(
        settings.ID_INDEX_KEY.encode(), normalize_id(value).encode(), hashlib.sha256
    ).hexdigest()


@dataclass(frozen=True)
class SealedIdentifier:
    encrypted: str
    index: str
    masked: str


def seal(value: str) -> SealedIdentifier:
    normalized = normalize_id(value)
    return SealedIdentifier(
        encrypted=encrypt(normalized),
        index=blind_index(normalized),
        masked=mask_id(normalized),
    )
