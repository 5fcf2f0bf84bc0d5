"""At the gate: does this scan admit its holder, and if not, why — the one decision.

Pure Python and no Django, so the server (``credentials.entry.services``), the offline bundle's
tests and the shared test vectors (``gate_vectors.json``, which the device's JavaScript twin
``static/js/gate-check.js`` passes too) all run the same rules. The reasons, in the order they
are tested (docs/gate.md):

``malformed``         not a credential QR code at all (or cut short by the scanner)
``bad_signature``     shaped like one, but no known key signed it: forged or altered
``unknown``           genuine, but of another edition, or a number never issued
``revoked``           genuine, but revoked (card data changed, batch cancelled, lost card)
``held``              its holder is on security hold: send them to the security desk
``not_an_entry_day``  genuine and valid, but not for today's date (Beijing)
``no_exit_scans``     an exit scan, but this label's exits are not scanned
``already_inside``    an entry, but the holder's last admitted scan today was an entry
``ok``                admitted
"""

from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from credentials.production.signing import Claims, PayloadError, verify_payload

SHANGHAI = ZoneInfo("Asia/Shanghai")
IN, OUT = "in", "out"
REASONS = (
    "ok",
    "malformed",
    "bad_signature",
    "unknown",
    "revoked",
    "held",
    "not_an_entry_day",
    "no_exit_scans",
    "already_inside",
)


@dataclass(frozen=True)
class Rule:
    """The entry rule of one label (``credentials.entry.models.EntryRule``)."""

    anti_passback: bool = True
    exit_scans: bool = False
    everyone_out_at: time | None = None


DEFAULT_RULE = Rule()


@dataclass(frozen=True)
class EarlierScan:
    number: str
    direction: str
    at: datetime
    gate: str
    admitted: bool


@dataclass(frozen=True)
class Verdict:
    admitted: bool
    reason: str
    number: str | None = None
    label: str | None = None
    first_day: date | None = None
    last_day: date | None = None
    # For ``already_inside``: the entry that is still open.
    since: datetime | None = None
    gate: str | None = None


def local_day(moment: datetime) -> date:
    """The expo's date of ``moment``, wherever the server's clock is set."""
    return moment.astimezone(SHANGHAI).date()


def today_in_shanghai(now: datetime | None = None) -> date:
    """The expo's date now (or at ``now``), wherever the server's clock is set."""
    return local_day(now or datetime.now(tz=SHANGHAI))


def window_start(moment: datetime, rule: Rule) -> datetime:
    """Since when earlier scans count: the day's start (Beijing), or today's "everyone out"
    time once it has passed."""
    local = moment.astimezone(SHANGHAI)
    start = datetime.combine(local.date(), time(0), tzinfo=SHANGHAI)
    if rule.everyone_out_at is not None and local.time() >= rule.everyone_out_at:
        start = datetime.combine(local.date(), rule.everyone_out_at, tzinfo=SHANGHAI)
    return start


def read(payload: str, keys) -> Claims | str:
    """The claims of ``payload``, or the reason it cannot be trusted."""
    try:
        claims = verify_payload(payload, keys)
        claims.number  # noqa: B018 — a sequence we could never have issued is malformed
    except PayloadError as error:
        return error.reason
    except ValueError:
        return "malformed"
    return claims


def judge(
    claims: Claims | str,
    *,
    edition: int,
    label_of: Callable[[str], str | None],
    revoked: Container[str],
    held: Container[str],
    rules: Mapping[str, Rule],
    earlier: Iterable[EarlierScan],
    at: datetime,
    direction: str = IN,
) -> Verdict:
    """The verdict on read claims (see :func:`decide`)."""
    if isinstance(claims, str):
        return Verdict(admitted=False, reason=claims)
    number = claims.number
    label = label_of(number) if claims.edition == edition else None
    details = {
        "number": number,
        "label": label,
        "first_day": claims.first_day,
        "last_day": claims.last_day,
    }
    if label is None:
        return Verdict(admitted=False, reason="unknown", **details)
    if number in revoked:
        return Verdict(admitted=False, reason="revoked", **details)
    if number in held:
        return Verdict(admitted=False, reason="held", **details)
    if not claims.first_day <= local_day(at) <= claims.last_day:
        return Verdict(admitted=False, reason="not_an_entry_day", **details)
    rule = rules.get(label) or rules.get("") or DEFAULT_RULE
    if direction == OUT:
        if not rule.exit_scans:
            return Verdict(admitted=False, reason="no_exit_scans", **details)
        return Verdict(admitted=True, reason="ok", **details)
    if rule.anti_passback:
        start = window_start(at, rule)
        last = max(
            (
                scan
                for scan in earlier
                if scan.number == number and scan.admitted and start <= scan.at <= at
            ),
            key=lambda scan: scan.at,
            default=None,
        )
        if last is not None and last.direction == IN:
            return Verdict(
                admitted=False, reason="already_inside", since=last.at, gate=last.gate, **details
            )
    return Verdict(admitted=True, reason="ok", **details)


def decide(
    payload: str,
    *,
    keys,
    edition: int,
    issued: Mapping[str, str],
    revoked: Container[str] = frozenset(),
    held: Container[str] = frozenset(),
    rules: Mapping[str, Rule] | None = None,
    earlier: Iterable[EarlierScan] = (),
    at: datetime,
    direction: str = IN,
) -> Verdict:
    """Whether ``payload`` (what the scanner read) admits its holder at ``at``.

    ``keys``: the public keys by key id; ``issued``: the edition's credential numbers and their
    labels; ``revoked``/``held``: numbers refused; ``rules``: the entry rules by label ("" for
    the default); ``earlier``: scans before this one (any numbers; only this holder's count).
    """
    return judge(
        read(payload, keys),
        edition=edition,
        label_of=issued.get,
        revoked=revoked,
        held=held,
        rules=rules or {},
        earlier=earlier,
        at=at,
        direction=direction,
    )
