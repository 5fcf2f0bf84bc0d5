"""The signed QR payload of a credential, verifiable offline with the public keys alone.

Format, version 2 (every card printed now)::

    "C2" + base32( body ‖ Ed25519 signature of ("C2" ‖ body) ), without "=" padding
    body = key id (uint8) ‖ edition (uint16) ‖ sequence (uint32) ‖ first day ‖ last day

big-endian, the days counted from 2000-01-01 (uint16, so until 2179). 11 + 64 bytes give 122
characters, all from the QR code's alphanumeric set (A–Z, 2–7): a version-6 QR code at error
correction level M, and nothing a keyboard-wedge scanner can get wrong (no lower case, no "-" or
"_" that a keyboard layout moves). Version 1 ("C1", the same without the key id) is still
accepted, checked against every known key. The credential number is the edition and the
sequence (:func:`credential_number`); names are not in the payload, so a photo of the code gives
away nobody's personal data.

Keys rotate without reprinting: the private key ``settings.CREDENTIAL_SIGNING_KEY`` (64 hex
characters, an Ed25519 seed) signs with its id ``settings.CREDENTIAL_SIGNING_KEY_ID``; the public
halves of earlier keys stay in ``settings.CREDENTIAL_VERIFY_KEYS`` (id → 64 hex characters), and
:func:`verification_keys` is every key a gate accepts, by id. This module imports nothing from
Django at load time, so the gate check (credentials.entry.rules) runs anywhere.
"""

import base64
import binascii
import functools
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

PREFIX = "C2"
LEGACY_PREFIX = "C1"
_BODY = struct.Struct(">BHIHH")
_LEGACY_BODY = struct.Struct(">HIHH")
_SIGNATURE_BYTES = 64
_EPOCH = date(2000, 1, 1)
# Longer input is refused before any decoding (a scanner never sends more).
MAX_PAYLOAD_LENGTH = 256
SEQUENCE_DIGITS = 7


class PayloadError(ValueError):
    """The payload cannot be trusted; ``reason`` is "malformed" or "bad_signature"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    """What a valid payload says."""

    edition: int
    sequence: int
    first_day: date
    last_day: date
    key_id: int | None = None  # None: a version-1 payload, which names no key

    @property
    def number(self) -> str:
        return credential_number(self.edition, self.sequence)


def credential_number(edition_number: int, sequence: int) -> str:
    """The printed credential number: the edition, then the sequence on seven digits.

    E.g. 100000042 for the 42nd credential of the 10th edition. An edition of three digits
    gives one more digit, so numbers of different editions can never coincide.
    """
    if not 0 < sequence < 10**SEQUENCE_DIGITS:
        raise ValueError(f"credential sequence {sequence} out of range")
    return f"{edition_number:02d}{sequence:0{SEQUENCE_DIGITS}d}"


# --- Keys ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _private_key_from_hex(value: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(value))


def signing_key() -> Ed25519PrivateKey:
    from django.conf import settings

    return _private_key_from_hex(settings.CREDENTIAL_SIGNING_KEY)


def signing_key_id() -> int:
    from django.conf import settings

    return settings.CREDENTIAL_SIGNING_KEY_ID


def verification_keys() -> dict[int, Ed25519PublicKey]:
    """Every key a gate accepts, by key id: the signing key's and the earlier keys' kept in
    ``settings.CREDENTIAL_VERIFY_KEYS``."""
    from django.conf import settings

    keys = {
        key_id: load_public_key(value) for key_id, value in settings.CREDENTIAL_VERIFY_KEYS.items()
    }
    keys[signing_key_id()] = public_key()
    return keys


def verification_keys_hex() -> dict[str, str]:
    """:func:`verification_keys` as a gate device receives them (JSON object keys are text)."""
    return {str(key_id): public_key_hex(key) for key_id, key in sorted(verification_keys().items())}


def public_key() -> Ed25519PublicKey:
    return signing_key().public_key()


def public_key_hex(key: Ed25519PublicKey | None = None) -> str:
    """The raw 32-byte public key as 64 hex characters."""
    key = key or public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def public_key_pem(key: Ed25519PublicKey | None = None) -> str:
    key = key or public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@functools.lru_cache(maxsize=8)
def load_public_key(value: str) -> Ed25519PublicKey:
    """A public key from 64 hex characters (raw) or a PEM block."""
    value = value.strip()
    if value.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(value.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(value))


# --- Payloads -------------------------------------------------------------------------------


def _day_number(day: date) -> int:
    offset = (day - _EPOCH).days
    if not 0 <= offset <= 0xFFFF:
        raise ValueError(f"{day} cannot be encoded")
    return offset


def sign_payload(
    *,
    edition_number: int,
    sequence: int,
    first_day: date,
    last_day: date,
    key: Ed25519PrivateKey | None = None,
    key_id: int | None = None,
) -> str:
    """The QR payload of a credential (122 characters), signed with ``key`` (default: the
    signing key) under ``key_id`` (default: the signing key's id)."""
    if key is None:
        key, key_id = signing_key(), signing_key_id()
    elif key_id is None:
        raise ValueError("a key given by hand needs its key id")
    body = _BODY.pack(
        key_id, edition_number, sequence, _day_number(first_day), _day_number(last_day)
    )
    signature = key.sign(PREFIX.encode() + body)
    return PREFIX + base64.b32encode(body + signature).decode().rstrip("=")


def sign_legacy_payload(
    *, edition_number: int, sequence: int, first_day: date, last_day: date, key
) -> str:
    """A version-1 payload, as cards printed before key ids were: only for tests and the test
    vectors, which prove those cards still pass."""
    body = _LEGACY_BODY.pack(
        edition_number, sequence, _day_number(first_day), _day_number(last_day)
    )
    signature = key.sign(LEGACY_PREFIX.encode() + body)
    return LEGACY_PREFIX + base64.b32encode(body + signature).decode().rstrip("=")


def verify_payload(payload: str, keys: Mapping[int, Ed25519PublicKey] | Ed25519PublicKey) -> Claims:
    """The claims of a genuine payload; :class:`PayloadError` otherwise.

    ``keys`` maps key ids to public keys (a single key stands for every id). A version-2
    payload is checked with the key of its id, a version-1 payload with each key in turn.
    Scanners add line ends and a Caps Lock key swaps case: both are forgiven.
    """
    if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD_LENGTH:
        raise PayloadError("malformed")
    text = "".join(payload.split()).upper()
    prefix = text[:2]
    if prefix == PREFIX:
        layout = _BODY
    elif prefix == LEGACY_PREFIX:
        layout = _LEGACY_BODY
    else:
        raise PayloadError("malformed")
    encoded = text[2:]
    try:
        raw = base64.b32decode(encoded + "=" * (-len(encoded) % 8))
    except (binascii.Error, ValueError):
        raise PayloadError("malformed") from None
    if len(raw) != layout.size + _SIGNATURE_BYTES:
        raise PayloadError("malformed")
    body, signature = raw[: layout.size], raw[layout.size :]
    signed = prefix.encode() + body
    if layout is _BODY:
        key_id, edition, sequence, first, last = layout.unpack(body)
        if isinstance(keys, Ed25519PublicKey):
            candidates = [keys]
        else:
            candidates = [keys[key_id]] if key_id in keys else []
    else:
        key_id = None
        edition, sequence, first, last = layout.unpack(body)
        candidates = [keys] if isinstance(keys, Ed25519PublicKey) else list(keys.values())
    if not any(_signed_by(key, signature, signed) for key in candidates):
        raise PayloadError("bad_signature")
    return Claims(
        edition=edition,
        sequence=sequence,
        first_day=_EPOCH + timedelta(days=first),
        last_day=_EPOCH + timedelta(days=last),
        key_id=key_id,
    )


def _signed_by(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
