"""At the gate: is this credential valid today, and if not, why.

:func:`check` needs no database: the public key, the revocation list and the date are enough,
so an offline gate device can run it on the bundle written by ``manage.py export_gate_bundle``.
The reasons, in the order they are tested:

``malformed``         not a credential QR code at all (or cut short by the scanner)
``bad_signature``     shaped like one, but not signed with our key: forged or altered
``unknown``           genuine, but not of the edition the gate checks (e.g. last year's card)
``revoked``           genuine, but revoked (card data changed, batch cancelled, lost card)
``not_an_entry_day``  genuine and valid, but not for today's date
``ok``                valid today
"""

from collections.abc import Container
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from .signing import PayloadError, verify_payload

SHANGHAI = ZoneInfo("Asia/Shanghai")
REASONS = ("ok", "revoked", "not_an_entry_day", "bad_signature", "unknown", "malformed")


@dataclass(frozen=True)
class GateAnswer:
    valid: bool
    reason: str
    number: str | None = None
    edition: int | None = None
    first_day: date | None = None
    last_day: date | None = None


def today_in_shanghai(now: datetime | None = None) -> date:
    """The expo's date, wherever the server's clock is set."""
    return (now or datetime.now(tz=SHANGHAI)).astimezone(SHANGHAI).date()


def check(
    payload: str,
    public_key,
    revoked_numbers: Container[str],
    today: date,
    *,
    edition: int | None = None,
) -> GateAnswer:
    """Whether ``payload`` (what the scanner typed) admits its holder on ``today``.

    ``public_key`` is an Ed25519 public key; ``revoked_numbers`` holds the numbers of revoked
    credentials; ``edition``, when given, is the only edition accepted.
    """
    try:
        claims = verify_payload(payload, public_key)
        number = claims.number
    except PayloadError as error:
        return GateAnswer(valid=False, reason=error.reason)
    except ValueError:
        # Signed, yet not a number we could ever have issued.
        return GateAnswer(valid=False, reason="malformed")
    details = {
        "number": number,
        "edition": claims.edition,
        "first_day": claims.first_day,
        "last_day": claims.last_day,
    }
    if edition is not None and claims.edition != edition:
        return GateAnswer(valid=False, reason="unknown", **details)
    if number in revoked_numbers:
        return GateAnswer(valid=False, reason="revoked", **details)
    if not claims.first_day <= today <= claims.last_day:
        return GateAnswer(valid=False, reason="not_an_entry_day", **details)
    return GateAnswer(valid=True, reason="ok", **details)
