"""The "double random" draw (双随机): targets and inspectors no single party can steer.

Pure functions, no database: the service and ``guardreg inspections verify-draw`` run
the same code on the same published inputs and must get the same bytes.

Protocol (docs/SUPERVISION.md):
1. The plan (candidates with integer weights, inspectors, counts, the parties) is frozen;
   its canonical JSON is published and hashed: ``plan_hash = SHA-256(canonical plan)``.
2. Each party picks a secret of 32 random bytes and publishes only
   ``commitment = SHA-256("guardreg-draw-commit\\0" || plan_hash || secret)``.
3. Once every party has committed, each reveals its secret; a reveal that does not hash
   to its commitment is refused. No party can change its secret after seeing another's.
4. ``seed = SHA-256("guardreg-draw-seed\\0" || plan_hash || secret_1 || ... || secret_n)``
   with the secrets in the order of the parties' names. One honest party makes the seed
   unpredictable to all the others.
5. From the seed, a deterministic byte stream (HMAC-SHA256 in counter mode) drives
   integer-only weighted sampling without replacement (rejection sampling, no modulo
   bias, no floating point), first of the targets, then of each target's inspectors.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

COMMIT_TAG = b"guardreg-draw-commit\x00"
SEED_TAG = b"guardreg-draw-seed\x00"
SECRET_BYTES = 32


class DrawError(ValueError):
    """Inputs that cannot make a draw (a bad plan, a reveal that does not match)."""


@dataclass(frozen=True)
class Candidate:
    company_id: int
    weight: int


@dataclass(frozen=True)
class Plan:
    plan_id: int
    title: str
    candidates: tuple[Candidate, ...]
    inspectors: tuple[int, ...]
    targets: int
    inspectors_per_target: int
    parties: tuple[str, ...]

    def check(self) -> None:
        ids = [c.company_id for c in self.candidates]
        if len(set(ids)) != len(ids) or len(set(self.inspectors)) != len(self.inspectors):
            raise DrawError("a candidate or an inspector is listed twice")
        if any(not 1 <= c.weight <= 1000 for c in self.candidates):
            raise DrawError("weights are whole numbers from 1 to 1000")
        if not 1 <= self.targets <= len(self.candidates):
            raise DrawError("the number of targets must be between 1 and the candidates")
        if not 1 <= self.inspectors_per_target <= len(self.inspectors):
            raise DrawError("inspectors per target must be between 1 and the roster's size")
        if len(self.parties) < 2 or len(set(self.parties)) != len(self.parties):
            raise DrawError("a draw needs at least two distinct parties")

    def canonical(self) -> bytes:
        body = {"plan_id": self.plan_id, "title": self.title,
                "candidates": [[c.company_id, c.weight]
                               for c in sorted(self.candidates, key=lambda c: c.company_id)],
                "inspectors": sorted(self.inspectors), "targets": self.targets,
                "inspectors_per_target": self.inspectors_per_target,
                "parties": sorted(self.parties)}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"),
                          sort_keys=True).encode()

    def hash(self) -> bytes:
        return hashlib.sha256(self.canonical()).digest()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        try:
            return cls(plan_id=int(data["plan_id"]), title=str(data["title"]),
                       candidates=tuple(Candidate(int(c), int(w)) for c, w in data["candidates"]),
                       inspectors=tuple(int(i) for i in data["inspectors"]),
                       targets=int(data["targets"]),
                       inspectors_per_target=int(data["inspectors_per_target"]),
                       parties=tuple(str(p) for p in data["parties"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DrawError(f"not a draw plan: {exc}") from exc


def commitment(plan_hash: bytes, secret: bytes) -> bytes:
    if len(secret) != SECRET_BYTES:
        raise DrawError(f"a secret is {SECRET_BYTES} bytes")
    return hashlib.sha256(COMMIT_TAG + plan_hash + secret).digest()


def check_reveal(plan_hash: bytes, secret: bytes, committed: bytes) -> None:
    if not hmac.compare_digest(commitment(plan_hash, secret), committed):
        raise DrawError("the revealed secret does not match its commitment")


def seed(plan_hash: bytes, reveals: dict[str, bytes]) -> bytes:
    return hashlib.sha256(SEED_TAG + plan_hash
                          + b"".join(reveals[p] for p in sorted(reveals))).digest()


class _Stream:
    """HMAC-SHA256(seed, label || counter) blocks: the draw's only randomness."""

    def __init__(self, key: bytes, label: str) -> None:
        self._key, self._label, self._counter, self._buf = key, label.encode(), 0, b""

    def below(self, n: int) -> int:
        """A uniform integer in [0, n) by rejection sampling (no modulo bias)."""
        if n <= 0:
            raise DrawError("nothing left to draw from")
        nbytes = (n.bit_length() + 7) // 8 + 1
        limit = (256 ** nbytes // n) * n
        while True:
            while len(self._buf) < nbytes:
                block = hmac.new(self._key, self._label + self._counter.to_bytes(8, "big"),
                                 hashlib.sha256).digest()
                self._buf += block
                self._counter += 1
            value, self._buf = int.from_bytes(self._buf[:nbytes], "big"), self._buf[nbytes:]
            if value < limit:
                return value % n


def _weighted_without_replacement(stream: _Stream, items: list[tuple[int, int]], k: int
                                  ) -> list[int]:
    pool = sorted(items)
    chosen: list[int] = []
    for _ in range(k):
        r = stream.below(sum(w for _, w in pool))
        for i, (item, w) in enumerate(pool):
            if r < w:
                chosen.append(item)
                del pool[i]
                break
            r -= w
    return chosen


@dataclass(frozen=True)
class Draw:
    seed: bytes
    targets: tuple[tuple[int, tuple[int, ...]], ...]  # (company id, inspector ids) in order

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed.hex(),
                "targets": [{"company_id": c, "inspectors": list(i)} for c, i in self.targets]}


def draw(plan: Plan, reveals: dict[str, bytes]) -> Draw:
    plan.check()
    if sorted(reveals) != sorted(plan.parties):
        raise DrawError("every party of the plan must reveal, and only they")
    s = seed(plan.hash(), reveals)
    targets = _weighted_without_replacement(
        _Stream(s, "targets"), [(c.company_id, c.weight) for c in plan.candidates],
        plan.targets)
    out = []
    for company_id in targets:
        chosen = _weighted_without_replacement(
            _Stream(s, f"inspectors:{company_id}"), [(i, 1) for i in plan.inspectors],
            plan.inspectors_per_target)
        out.append((company_id, tuple(chosen)))
    return Draw(s, tuple(out))
