"""The gate device's offline check (static/js/gate-check.js) decides every shared test vector
(credentials/entry/gate_vectors.json) exactly as the server's rules do."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.django_db(transaction=True)

VECTORS = Path(__file__).resolve().parents[2] / "credentials" / "entry" / "gate_vectors.json"

RUN_ALL = """
async (vectors) => {
  const answers = [];
  for (const c of vectors.cases) {
    const state = {
      edition: vectors.edition, keys: vectors.keys, issued: c.issued, revoked: c.revoked,
      held: c.held, rules: c.rules, earlier: c.earlier,
    };
    const scan = {payload: c.payload, at: c.at, direction: c.direction};
    answers.push(await window.CiieGate.decide(state, scan));
  }
  return answers;
}
"""


def test_every_vector_is_decided_as_the_server_decides(page: Page, live_server):
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    assert vectors["format"] == "ciie-gate-vectors/1"
    page.goto(live_server.url + "/gate/app/")
    page.wait_for_function("() => window.CiieGate !== undefined")
    answers = page.evaluate(RUN_ALL, vectors)
    assert len(answers) == len(vectors["cases"])
    wrong = [
        f"{case['name']}: expected {case['expect']}, got {answer}"
        for case, answer in zip(vectors["cases"], answers, strict=True)
        if answer != case["expect"]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_reader_takes_apart_both_payload_versions(page: Page, live_server):
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    first = next(c for c in vectors["cases"] if c["payload"].startswith("C2"))
    legacy = next(c for c in vectors["cases"] if c["payload"].startswith("C1"))
    page.goto(live_server.url + "/gate/app/")
    page.wait_for_function("() => window.CiieGate !== undefined")
    parse = """p => {
      const r = window.CiieGate.parsePayload(p);
      delete r.signed;
      delete r.signature;
      return r;
    }"""
    current = page.evaluate(parse, first["payload"])
    assert (current["ok"], current["version"], current["number"]) == (True, 2, "100000042")
    assert current["keyId"] in (1, 2)
    old = page.evaluate(parse, legacy["payload"])
    assert (old["ok"], old["version"], old["keyId"], old["number"]) == (True, 1, None, "100000042")
    for garbage in ("", "hello", "C2" + "A" * 119, "C3" + first["payload"][2:], "x" * 300):
        assert page.evaluate(parse, garbage) == {"ok": False, "reason": "malformed"}
