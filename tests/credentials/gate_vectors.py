"""The shared gate test vectors: what ``credentials/entry/gate_vectors.json`` holds, built here.

Each case is a scan and everything the check knows (keys, issued numbers, revocations, holds,
rules, earlier scans, the time) with the verdict it must give. The server's check
(``credentials.entry.rules``) and the device's (``static/js/gate-check.js``) both pass every case;
``python -m tests.credentials.gate_vectors`` writes the file again after a change here (the
keys are fixed seeds, and Ed25519 signatures are deterministic, so the file is stable).
"""

import json
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from credentials.production.signing import public_key_hex, sign_legacy_payload, sign_payload

PATH = Path(__file__).resolve().parents[2] / "credentials" / "entry" / "gate_vectors.json"
KEYS = {
    1: Ed25519PrivateKey.from_private_bytes(bytes(range(32))),
    2: Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64))),
}
# Signs validly, but the gate was never given its public half.
STRANGER = Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96)))
EDITION = 10
FIRST, LAST = date(2027, 11, 6), date(2027, 11, 10)
NUMBER = "100000042"
DEFAULT = {"anti_passback": True, "exit_scans": False, "everyone_out_at": None}
WITH_EXITS = {"anti_passback": True, "exit_scans": True, "everyone_out_at": None}


def code(*, key_id=1, edition=EDITION, sequence=42, first=FIRST, last=LAST, key=None) -> str:
    return sign_payload(
        edition_number=edition,
        sequence=sequence,
        first_day=first,
        last_day=last,
        key=key or KEYS[key_id],
        key_id=key_id,
    )


def at(day: int, clock: str) -> str:
    return f"2027-11-{day:02d}T{clock}:00+08:00"


def scan(clock: str, *, day=6, direction="in", gate="2号门", admitted=True, number=NUMBER):
    return {
        "number": number,
        "direction": direction,
        "at": at(day, clock),
        "gate": gate,
        "admitted": admitted,
    }


def case(name, payload, *, when=None, direction="in", expect, **known):
    return {
        "name": name,
        "payload": payload,
        "at": when or at(6, "10:00"),
        "direction": direction,
        "issued": known.get("issued", {NUMBER: "visitor"}),
        "revoked": known.get("revoked", []),
        "held": known.get("held", []),
        "rules": known.get("rules", {"": DEFAULT}),
        "earlier": known.get("earlier", []),
        "expect": {"number": NUMBER, "since": None, "gate": None, **expect},
    }


def admitted(name, payload=None, **kwargs):
    return case(name, payload or code(), expect={"admitted": True, "reason": "ok"}, **kwargs)


def refused(name, reason, payload=None, **kwargs):
    extra = kwargs.pop("extra", {})
    return case(
        name,
        payload or code(),
        expect={"admitted": False, "reason": reason, **extra},
        **kwargs,
    )


def build() -> dict:
    tampered = code()
    tampered = tampered[:-3] + ("A" if tampered[-3] != "A" else "B") + tampered[-2:]
    no_number = {"number": None}
    cases = [
        admitted("a genuine credential on its first entry day"),
        admitted("on its last entry day", when=at(10, "17:00")),
        admitted("signed with the second key (after a key rotation)", code(key_id=2)),
        admitted(
            "a version-1 card (no key id) signed with an older key",
            sign_legacy_payload(
                edition_number=EDITION, sequence=42, first_day=FIRST, last_day=LAST, key=KEYS[2]
            ),
        ),
        admitted(
            "what a scanner adds (line end, lower case) is forgiven", f" {code().lower()}\r\n"
        ),
        refused(
            "a key id the gate does not know",
            "bad_signature",
            code(key_id=3, key=STRANGER),
            extra=no_number,
        ),
        refused(
            "a known key id, signed by another key",
            "bad_signature",
            code(key_id=1, key=STRANGER),
            extra=no_number,
        ),
        refused("one character changed", "bad_signature", tampered, extra=no_number),
        refused(
            "not a credential at all", "malformed", "https://example.com/ticket/42", extra=no_number
        ),
        refused("cut short by the scanner", "malformed", code()[:60], extra=no_number),
        refused("last year's card", "unknown", code(edition=9), extra={"number": "090000042"}),
        refused("a number never issued", "unknown", issued={"100000099": "visitor"}),
        refused("revoked", "revoked", revoked=[NUMBER]),
        refused("revoked and held: revoked first", "revoked", revoked=[NUMBER], held=[NUMBER]),
        refused("on security hold", "held", held=[NUMBER]),
        refused("held, even on a day it is not valid", "held", held=[NUMBER], when=at(5, "10:00")),
        refused("the day before its first entry day", "not_an_entry_day", when=at(5, "23:59")),
        refused("the day after its last entry day", "not_an_entry_day", when=at(11, "00:00")),
        admitted("UTC says the 5th, Beijing says the 6th", when="2027-11-05T16:30:00+00:00"),
        refused(
            "a second entry the same day",
            "already_inside",
            earlier=[scan("09:12")],
            extra={"since": at(6, "09:12"), "gate": "2号门"},
        ),
        refused(
            "a second entry, the first at another gate",
            "already_inside",
            earlier=[scan("09:12", gate="1号门")],
            extra={"since": at(6, "09:12"), "gate": "1号门"},
        ),
        admitted("a refused earlier scan does not count", earlier=[scan("09:12", admitted=False)]),
        admitted(
            "another holder's entry does not count", earlier=[scan("09:12", number="100000043")]
        ),
        admitted(
            "entered yesterday, again today", earlier=[scan("09:12", day=5)], when=at(7, "09:00")
        ),
        admitted(
            "without anti-passback, any number of entries",
            earlier=[scan("09:12")],
            rules={"": {**DEFAULT, "anti_passback": False}},
        ),
        refused("an exit where exits are not scanned", "no_exit_scans", direction="out"),
        admitted(
            "an exit where exits are scanned",
            direction="out",
            rules={"": WITH_EXITS},
            earlier=[scan("09:12")],
        ),
        admitted(
            "entered, scanned out, enters again",
            rules={"": WITH_EXITS},
            earlier=[scan("09:12"), scan("12:30", direction="out", gate="3号门")],
            when=at(6, "14:00"),
        ),
        refused(
            "entered, out, in again: a fourth scan is refused",
            "already_inside",
            rules={"": WITH_EXITS},
            earlier=[scan("09:12"), scan("12:30", direction="out"), scan("13:05", gate="1号门")],
            when=at(6, "15:00"),
            extra={"since": at(6, "13:05"), "gate": "1号门"},
        ),
        admitted(
            "the label's own rule before the default",
            earlier=[scan("09:12")],
            rules={"": DEFAULT, "visitor": {**DEFAULT, "anti_passback": False}},
        ),
        refused(
            "another label's rule does not apply",
            "already_inside",
            earlier=[scan("09:12")],
            rules={"": DEFAULT, "vip": {**DEFAULT, "anti_passback": False}},
            extra={"since": at(6, "09:12"), "gate": "2号门"},
        ),
        admitted(
            "after the evening's everyone-out, an entry of the morning no longer counts",
            earlier=[scan("09:12")],
            rules={"": {**DEFAULT, "everyone_out_at": "18:00"}},
            when=at(6, "19:00"),
        ),
        refused(
            "an entry after everyone-out counts",
            "already_inside",
            earlier=[scan("18:30")],
            rules={"": {**DEFAULT, "everyone_out_at": "18:00"}},
            when=at(6, "19:00"),
            extra={"since": at(6, "18:30"), "gate": "2号门"},
        ),
        refused(
            "before everyone-out, the morning's entry counts",
            "already_inside",
            earlier=[scan("09:12")],
            rules={"": {**DEFAULT, "everyone_out_at": "18:00"}},
            when=at(6, "17:59"),
            extra={"since": at(6, "09:12"), "gate": "2号门"},
        ),
    ]
    return {
        "format": "ciie-gate-vectors/1",
        "edition": EDITION,
        "keys": {str(key_id): public_key_hex(key.public_key()) for key_id, key in KEYS.items()},
        "cases": cases,
    }


def dump() -> str:
    return json.dumps(build(), ensure_ascii=False, indent=1) + "\n"


if __name__ == "__main__":
    PATH.write_text(dump(), encoding="utf-8")
    print(f"{PATH}: {len(build()['cases'])} cases")
