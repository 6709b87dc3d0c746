"""'Double random, one public' draws: commit, reveal, draw, verify; results to credit."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from api.cli import main
from registry import draw
from tests.api.live_server import serve
from tests.conftest import Api

PARTIES = ["bureau", "association", "market-regulation"]


def _plan(regulator: Api, *, targets: int = 3) -> tuple[dict[str, Any], list[int]]:
    companies = [regulator.make_company()["id"] for _ in range(6)]
    inspectors = [regulator.post("/v1/inspectors", json={"name": f"检查员{i}", "agency": a}
                                 ).json()["id"]
                  for i, a in enumerate(["治安总队", "保安协会", "市场监管局", "人社局"])]
    resp = regulator.post("/v1/inspection-plans", json={
        "title": "2026 下半年保安服务公司双随机抽查", "targets": targets,
        "inspectors_per_target": 2, "parties": PARTIES, "inspectors": inspectors,
        "candidates": [{"company_id": c, "weight": 1 + i % 3} for i, c in enumerate(companies)]})
    assert resp.status_code == 201, resp.text
    return resp.json(), companies


def _secret(plan_hash: str) -> dict[str, str]:
    out = CliRunner().invoke(main, ["inspections", "secret", plan_hash])
    assert out.exit_code == 0, out.output
    return dict(json.loads(out.output))


def test_a_draw_is_reproduced_bit_for_bit_and_a_bad_reveal_is_refused(
        app: Any, regulator: Api, tmp_path: Path) -> None:
    plan, companies = _plan(regulator)
    assert plan["state"] == "committing" and len(plan["plan_hash"]) == 64
    keys = {p: _secret(plan["plan_hash"]) for p in PARTIES}
    url = f"/v1/inspection-plans/{plan['id']}"
    early = regulator.post(f"{url}/reveals", json={"party": "bureau",
                                                    "secret": keys["bureau"]["secret"]})
    assert early.status_code == 409 and early.json()["reason"] == "commitments-pending"
    for party in PARTIES:
        done = regulator.post(f"{url}/commitments", json={
            "party": party, "commitment": keys[party]["commitment"]})
        assert done.status_code == 200, done.text
    again = regulator.post(f"{url}/commitments", json={"party": "bureau",
                                                        "commitment": "00" * 32})
    assert again.status_code == 409
    # A reveal that does not match its commitment is refused, and changes nothing.
    wrong = regulator.post(f"{url}/reveals", json={"party": "association",
                                                    "secret": secrets.token_hex(32)})
    assert wrong.status_code == 422 and wrong.json()["reason"] == "reveal-mismatch"
    for party in PARTIES:
        published = regulator.post(f"{url}/reveals", json={
            "party": party, "secret": keys[party]["secret"]}).json()
        assert published["state"] == ("drawn" if party == PARTIES[-1] else "revealing")
    public = regulator.client.get(f"/v1/public/inspection-plans/{plan['id']}").json()
    targets = [t["company_id"] for t in public["draw"]["targets"]]
    assert len(targets) == 3 and len(set(targets)) == 3 and set(targets) <= set(companies)
    assert [i["company_id"] for i in public["inspections"]] == targets
    assert all(len(t["inspectors"]) == 2 for t in public["draw"]["targets"])

    # Anyone recomputes it from the published inputs: from the URL and from a saved copy.
    with serve(app) as base:
        live = CliRunner().invoke(main, ["inspections", "verify-draw",
                                         f"{base}/v1/public/inspection-plans/{plan['id']}"])
    assert live.exit_code == 0, live.output
    assert "draw verified" in live.output
    saved = tmp_path / "plan.json"
    saved.write_text(json.dumps(public))
    assert CliRunner().invoke(main, ["inspections", "verify-draw", str(saved)]).exit_code == 0
    # A tampered publication is caught: a swapped secret, or a changed result.
    forged = json.loads(json.dumps(public))
    forged["parties"][0]["secret"] = secrets.token_hex(32)
    saved.write_text(json.dumps(forged))
    caught = CliRunner().invoke(main, ["inspections", "verify-draw", str(saved), "--json"])
    assert caught.exit_code == 1
    assert any("does not match" in p for p in json.loads(caught.output)["problems"])
    moved = json.loads(json.dumps(public))
    moved["draw"]["targets"].reverse()
    saved.write_text(json.dumps(moved))
    assert CliRunner().invoke(main, ["inspections", "verify-draw", str(saved)]).exit_code == 1

    # A different reveal gives a different draw: one honest party changes everything.
    plan_obj = draw.Plan.from_json(json.loads(public["plan_canonical"]))
    reveals = {p["party"]: bytes.fromhex(p["secret"]) for p in public["parties"]}
    assert draw.draw(plan_obj, reveals).to_json() == public["draw"]
    others = []
    for _ in range(8):
        changed = dict(reveals, bureau=secrets.token_bytes(32))
        made = draw.draw(plan_obj, changed)
        assert made.seed.hex() != public["seed"]
        others.append([c for c, _ in made.targets])
    assert any(o != targets for o in others)


def test_the_draw_follows_the_weights_and_needs_every_party() -> None:
    plan = draw.Plan(plan_id=1, title="t", inspectors=(1, 2, 3), targets=1,
                     inspectors_per_target=1, parties=("a", "b"),
                     candidates=(draw.Candidate(10, 1), draw.Candidate(20, 9)))
    counts = {10: 0, 20: 0}
    for i in range(400):
        made = draw.draw(plan, {"a": i.to_bytes(32, "big"), "b": b"\x00" * 32})
        counts[made.targets[0][0]] += 1
    assert 300 < counts[20] < 400, counts  # about 9 in 10
    with pytest.raises(draw.DrawError, match="every party"):
        draw.draw(plan, {"a": b"\x00" * 32})


def test_a_result_with_major_findings_costs_credit_and_is_published(
        regulator: Api, client: Any) -> None:
    plan, _ = _plan(regulator, targets=1)
    keys = {p: _secret(plan["plan_hash"]) for p in PARTIES}
    url = f"/v1/inspection-plans/{plan['id']}"
    for party in PARTIES:
        regulator.post(f"{url}/commitments", json={"party": party,
                                                    "commitment": keys[party]["commitment"]})
    for party in PARTIES:
        drawn = regulator.post(f"{url}/reveals", json={"party": party,
                                                        "secret": keys[party]["secret"]})
    inspection = drawn.json()["inspections"][0]
    company_id = inspection["company_id"]
    before = regulator.get(f"/v1/companies/{company_id}").json()["credit_grade"]
    today = dt.date.today().isoformat()
    resp = regulator.post(f"/v1/inspections/{inspection['id']}/result", json={
        "outcome": "major-findings", "findings": "三名保安员无证上岗；未建立培训台账",
        "inspected_on": today, "credit_points": -120})
    assert resp.status_code == 200, resp.text
    assert resp.json()["credit_entry_id"] is not None
    after = regulator.get(f"/v1/companies/{company_id}").json()["credit_grade"]
    assert (before, after) == ("A", "B")
    ledger = regulator.get(f"/v1/companies/{company_id}/credit").json()
    assert any(e.get("evidence") == f"inspection:{inspection['id']}"
               for e in ledger["entries"]), ledger
    twice = regulator.post(f"/v1/inspections/{inspection['id']}/result", json={
        "outcome": "pass", "findings": "x", "inspected_on": today})
    assert twice.status_code == 409
    public = client.get("/v1/public/inspections").json()["items"]
    assert any(i["id"] == inspection["id"] and i["outcome"] == "major-findings"
               for i in public)
