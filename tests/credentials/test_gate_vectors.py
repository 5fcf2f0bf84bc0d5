"""The shared gate test vectors: the server's check gives every case's verdict, and the file in
the repository is the one the cases build (the device's check runs the same file:
tests/browser/test_gate_vectors_js.py)."""

import json
from datetime import datetime, time

import pytest

from credentials.entry.rules import EarlierScan, Rule, decide
from credentials.production.signing import load_public_key

from .gate_vectors import PATH, dump

VECTORS = json.loads(PATH.read_text(encoding="utf-8"))


def test_the_file_is_the_one_the_cases_build():
    assert PATH.read_text(encoding="utf-8") == dump(), (
        "run python -m tests.credentials.gate_vectors to write the file again"
    )


def rule(values: dict) -> Rule:
    out = values["everyone_out_at"]
    return Rule(
        anti_passback=values["anti_passback"],
        exit_scans=values["exit_scans"],
        everyone_out_at=time.fromisoformat(out) if out else None,
    )


def verdict_of(case: dict) -> dict:
    keys = {int(key_id): load_public_key(value) for key_id, value in VECTORS["keys"].items()}
    verdict = decide(
        case["payload"],
        keys=keys,
        edition=VECTORS["edition"],
        issued=case["issued"],
        revoked=set(case["revoked"]),
        held=set(case["held"]),
        rules={label: rule(values) for label, values in case["rules"].items()},
        earlier=[
            EarlierScan(
                number=scan["number"],
                direction=scan["direction"],
                at=datetime.fromisoformat(scan["at"]),
                gate=scan["gate"],
                admitted=scan["admitted"],
            )
            for scan in case["earlier"]
        ],
        at=datetime.fromisoformat(case["at"]),
        direction=case["direction"],
    )
    return {
        "admitted": verdict.admitted,
        "reason": verdict.reason,
        "number": verdict.number,
        "since": verdict.since.isoformat() if verdict.since else None,
        "gate": verdict.gate,
    }


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_the_server_check_gives_each_cases_verdict(case):
    assert verdict_of(case) == case["expect"]


def test_every_reason_has_a_case():
    from credentials.entry.rules import REASONS

    assert {case["expect"]["reason"] for case in VECTORS["cases"]} == set(REASONS)
