"""Inspections drawn by the "double random, one public" method (notice §2).

The plan is frozen and published when it is created; parties commit, then reveal; the
last reveal makes the draw (registry/draw.py) and the inspections, in one transaction.
Results are recorded per inspection and published; major findings may cost credit
points through the credit ledger (registry/regulation.py), with a link back.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from registry import audit, draw, regulation, repository
from registry import inspections_repository as repo
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import Conflict, InvalidInput, NotFound

# Default weights of a plan's candidates by credit grade (a lower grade is drawn more
# often). A plan may give its own weights; the frozen plan records the ones used.
GRADE_WEIGHTS = {"A": 1, "B": 2, "C": 3, "D": 4, "E": 5}
OUTCOMES = ("pass", "minor-findings", "major-findings")


@dataclass(frozen=True)
class PlanRequest:
    title: str
    targets: int
    inspectors_per_target: int
    parties: tuple[str, ...]
    candidates: tuple[tuple[int, int], ...] | None = None  # (company id, weight)
    inspectors: tuple[int, ...] | None = None


def add_inspector(cur: Cursor, *, actor: Actor, now: dt.datetime, name: str,
                  agency: str) -> dict[str, Any]:
    row = repo.insert_inspector(cur, name, agency)
    audit.record(cur, actor=actor, action="inspection.inspector-add", target_type="inspector",
                 target_id=int(row["id"]), data={"agency": agency}, now=now)
    return row


def roster(cur: Cursor) -> list[dict[str, Any]]:
    """Every inspector, active or not, in the order added."""
    return repo.list_inspectors(cur)


def published_results(cur: Cursor, *, limit: int) -> list[dict[str, Any]]:
    """Recorded results, newest first: published on purpose (no personal data in them)."""
    return repo.published_results(cur, limit=limit)


def create_plan(cur: Cursor, *, actor: Actor, now: dt.datetime, req: PlanRequest
                ) -> dict[str, Any]:
    """Freeze and publish a plan: its canonical bytes and hash never change afterwards."""
    if req.candidates is None:
        candidates = tuple(draw.Candidate(int(r["id"]), GRADE_WEIGHTS[str(r["credit_grade"])])
                           for r in repo.draw_candidates(cur))
    else:
        for company_id, _ in req.candidates:
            if repository.get_company(cur, company_id) is None:
                raise InvalidInput(f"no company {company_id}", field="candidates")
        candidates = tuple(draw.Candidate(c, w) for c, w in req.candidates)
    roster = {int(r["id"]) for r in repo.list_inspectors(cur, active_only=True)}
    inspectors = tuple(req.inspectors) if req.inspectors is not None else tuple(sorted(roster))
    if not set(inspectors) <= roster:
        raise InvalidInput("an inspector is not on the active roster", field="inspectors")
    plan_id = repo.insert_plan(cur, req.title, actor.label)
    plan = draw.Plan(plan_id=plan_id, title=req.title, candidates=candidates,
                     inspectors=inspectors, targets=req.targets,
                     inspectors_per_target=req.inspectors_per_target, parties=req.parties)
    try:
        plan.check()
    except draw.DrawError as exc:
        raise InvalidInput(str(exc), field="plan") from exc
    repo.freeze_plan(cur, plan_id, plan.canonical().decode(), plan.hash())
    for party in plan.parties:
        repo.insert_party(cur, plan_id, party)
    audit.record(cur, actor=actor, action="inspection.plan-freeze", target_type="plan",
                 target_id=plan_id, data={"plan_hash": plan.hash().hex(),
                                          "candidates": len(candidates)}, now=now)
    return public_plan(cur, plan_id)


def _plan(row: dict[str, Any]) -> draw.Plan:
    return draw.Plan.from_json(json.loads(row["plan_canonical"]))


def commit(cur: Cursor, *, actor: Actor, now: dt.datetime, plan_id: int, party: str,
           commitment_hex: str) -> dict[str, Any]:
    row = repo.get_plan(cur, plan_id, for_update=True)
    if row is None:
        raise NotFound("no such plan")
    if row["state"] != "committing":
        raise Conflict("commitments are closed for this plan", reason="commitments-closed")
    commitment = _hex(commitment_hex, 32, "commitment")
    if party not in {p["party"] for p in repo.parties(cur, plan_id)}:
        raise InvalidInput("this party is not part of the plan", field="party")
    if not repo.set_commitment(cur, plan_id, party, commitment, now):
        raise Conflict("this party has already committed", reason="already-committed")
    if all(p["commitment"] is not None for p in repo.parties(cur, plan_id)):
        repo.set_plan_state(cur, plan_id, "revealing")
    audit.record(cur, actor=actor, action="inspection.commit", target_type="plan",
                 target_id=plan_id, data={"party": party, "commitment": commitment.hex()},
                 now=now)
    return public_plan(cur, plan_id)


def reveal(cur: Cursor, *, actor: Actor, now: dt.datetime, plan_id: int, party: str,
           secret_hex: str) -> dict[str, Any]:
    row = repo.get_plan(cur, plan_id, for_update=True)
    if row is None:
        raise NotFound("no such plan")
    if row["state"] == "committing":
        raise Conflict("reveals open only when every party has committed",
                       reason="commitments-pending")
    if row["state"] == "drawn":
        raise Conflict("the draw is already made", reason="already-drawn")
    secret = _hex(secret_hex, draw.SECRET_BYTES, "secret")
    parties = {p["party"]: p for p in repo.parties(cur, plan_id)}
    if party not in parties:
        raise InvalidInput("this party is not part of the plan", field="party")
    try:
        draw.check_reveal(bytes(row["plan_hash"]), secret, bytes(parties[party]["commitment"]))
    except draw.DrawError as exc:
        raise InvalidInput(str(exc), field="secret", reason="reveal-mismatch") from exc
    if not repo.set_secret(cur, plan_id, party, secret, now):
        raise Conflict("this party has already revealed", reason="already-revealed")
    audit.record(cur, actor=actor, action="inspection.reveal", target_type="plan",
                 target_id=plan_id, data={"party": party}, now=now)
    revealed = {p["party"]: bytes(p["secret"]) for p in repo.parties(cur, plan_id)
                if p["secret"] is not None}
    if len(revealed) == len(parties):
        made = draw.draw(_plan(row), revealed)
        repo.record_draw(cur, plan_id, made.seed, made.to_json(), now)
        for position, (company_id, inspectors) in enumerate(made.targets):
            repo.insert_inspection(cur, plan_id, company_id, list(inspectors), position)
        audit.record(cur, actor=actor, action="inspection.draw", target_type="plan",
                     target_id=plan_id, data={"seed": made.seed.hex(),
                                              "targets": [c for c, _ in made.targets]},
                     now=now)
    return public_plan(cur, plan_id)


def _hex(value: str, length: int, field: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise InvalidInput(f"{field} is hexadecimal", field=field) from exc
    if len(raw) != length:
        raise InvalidInput(f"{field} is {length} bytes ({2 * length} hex digits)", field=field)
    return raw


def public_plan(cur: Cursor, plan_id: int) -> dict[str, Any]:
    """Everything anyone needs to recompute the draw (``guardreg inspections
    verify-draw``): the frozen plan as hashed, commitments, reveals, seed and result."""
    row = repo.get_plan(cur, plan_id)
    if row is None or row["plan_canonical"] is None:
        raise NotFound("no such plan")
    parties = repo.parties(cur, plan_id)
    drawn = row["state"] == "drawn"
    return {
        "id": row["id"], "title": row["title"], "state": row["state"],
        "plan": json.loads(row["plan_canonical"]), "plan_canonical": row["plan_canonical"],
        "plan_hash": bytes(row["plan_hash"]).hex(),
        "parties": [{"party": p["party"],
                     "commitment": bytes(p["commitment"]).hex() if p["commitment"] else None,
                     "committed_at": p["committed_at"],
                     # Secrets are shown only once the draw is made (reveals may come in
                     # any order; none helps anyone before the last).
                     "secret": bytes(p["secret"]).hex() if drawn and p["secret"] else None,
                     "revealed": p["secret"] is not None} for p in parties],
        "seed": bytes(row["seed"]).hex() if row["seed"] else None,
        "draw": row["draw"], "drawn_at": row["drawn_at"],
        "inspections": [{"id": i["id"], "company_id": i["company_id"],
                         "company_name": i["company_name"], "inspectors": i["inspectors"],
                         "status": i["status"], "outcome": i["outcome"]}
                        for i in repo.inspections_of_plan(cur, plan_id)] if drawn else [],
    }


def record_result(cur: Cursor, *, actor: Actor, now: dt.datetime, inspection_id: int,
                  outcome: str, findings: str, inspected_on: dt.date,
                  credit_points: int | None) -> dict[str, Any]:
    """The inspection's outcome; negative ``credit_points`` (major findings) go to the
    credit ledger in the same transaction, linked both ways."""
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome is one of {', '.join(OUTCOMES)}", field="outcome")
    row = repo.get_inspection(cur, inspection_id, for_update=True)
    if row is None:
        raise NotFound("no such inspection")
    if row["status"] == "done":
        raise Conflict("the result is already recorded", reason="already-recorded")
    if inspected_on > now.date():
        raise InvalidInput("the inspection date is in the future", field="inspected_on")
    entry_id = None
    if credit_points:
        entry = regulation.add_credit_event(
            cur, actor=actor, now=now, company_id=int(row["company_id"]),
            points=credit_points,
            kind="inspection-pass" if credit_points > 0 else "violation",
            reason=f"inspection {inspection_id}: {outcome}",
            evidence=f"inspection:{inspection_id}", occurred_on=inspected_on)
        entry_id = int(entry["id"])
    repo.record_result(cur, inspection_id, {
        "outcome": outcome, "findings": findings, "inspected_on": inspected_on,
        "credit_entry_id": entry_id, "recorded_by": actor.label, "recorded_at": now})
    audit.record(cur, actor=actor, action="inspection.result", target_type="company",
                 target_id=int(row["company_id"]),
                 data={"inspection_id": inspection_id, "outcome": outcome,
                       "credit_entry_id": entry_id}, now=now)
    done = repo.get_inspection(cur, inspection_id)
    assert done is not None
    return done
