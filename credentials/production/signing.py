"""The signed QR payload of a credential, verifiable offline with the public key alone.

Format, version 1::

    "C1" + base32( body ‖ Ed25519 signature of ("C1" ‖ body) ), without "=" padding
    body = edition (uint16) ‖ sequence (uint32) ‖ first day ‖ last day   (big-endian)

the days counted from 2000-01-01 (uint16, so until 2179). 10 + 64 bytes give 121 characters,
all from the QR code's alphanumeric set (A–Z, 2–7): a version-6 QR code at error correction
level M, and nothing a keyboard-wedge scanner can get wrong (no lower case, no "-" or "_" that a
keyboard layout moves). The credential number is the edition and the sequence
(:func:`credential_number`); names are not in the payload, so a photo of the code gives away
nobody's personal data.

The private key is ``settings.CREDENTIAL_SIGNING_KEY`` (64 hex characters, an Ed25519 seed);
:func:`public_key_hex` is what gate devices need. This module imports nothing from Django at
load time, so the gate check (credentials.production.gate) runs anywhere.
"""

import base64
import binascii
import functools
import struct
from dataclasses import dataclass
from datetime import date, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

PREFIX = "C1"
_BODY = struct.Struct(">HIHH")
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
) -> str:
    """The QR payload of a credential (121 characters)."""
    body = _BODY.pack(edition_number, sequence, _day_number(first_day), _day_number(last_day))
    signature = (key or signing_key()).sign(PREFIX.encode() + body)
    return PREFIX + base64.b32encode(body + signature).decode().rstrip("=")


def verify_payload(payload: str, key: Ed25519PublicKey) -> Claims:
    """The claims of a genuine payload; :class:`PayloadError` otherwise.

    Scanners add line ends and a Caps Lock key swaps case: both are forgiven.
    """
    if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD_LENGTH:
        raise PayloadError("malformed")
    text = "".join(payload.split()).upper()
    if not text.startswith(PREFIX):
        raise PayloadError("malformed")
    encoded = text[len(PREFIX) :]
    try:
        raw = base64.b32decode(encoded + "=" * (-len(encoded) % 8))
    except (binascii.Error, ValueError):
        raise PayloadError("malformed") from None
    if len(raw) != _BODY.size + _SIGNATURE_BYTES:
        raise PayloadError("malformed")
    body, signature = raw[: _BODY.size], raw[_BODY.size :]
    try:
        key.verify(signature, PREFIX.encode() + body)
    except InvalidSignature:
        raise PayloadError("bad_signature") from None
    edition, sequence, first, last = _BODY.unpack(body)
    return Claims(
        edition=edition,
        sequence=sequence,
        first_day=_EPOCH + timedelta(days=first),
        last_day=_EPOCH + timedelta(days=last),
    )
