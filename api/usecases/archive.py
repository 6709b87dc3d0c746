"""The person's own archive (issue 15, "Guard self-service"): exam results, training,
level history, certificates and employment history, read in one transaction.

Extension point: a feature that keeps more records about a person calls
:func:`register_section` once at start-up (``api/wiring.py``) with a loader
``(cursor, guard_id) -> items``; ``exams`` is shown in its own part of the guard page,
any other key under ``more``. Exam items carry ``date`` (ISO), ``title``, ``result``
(``registered``, ``cancelled``, ``passed``, ``failed``) and ``detail``. The default
``exams`` loader reads the exam work's ``registry.exams.archive`` when it is installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from api import archive_repository
from certificates import repository as cert_repo
from registry import career_repository, repository
from registry.db import Cursor, Database
from registry.errors import NotFound

SectionLoader = Callable[[Cursor, int], list[dict[str, Any]]]


def exam_items(cur: Cursor, guard_id: int) -> list[dict[str, Any]]:
    """The person's exam registrations still without a result (``registered``,
    ``cancelled``) and every result (``passed``, ``failed``), from the exam work's
    ``registry.exams.archive``; none where its tables are not in this database."""
    if not archive_repository.has_table(cur, "registry_exam_result"):
        return []
    exams = importlib.import_module("registry.exams")
    return exam_items_of(exams.archive(cur, guard_id))


def exam_items_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for r in record.get("registrations", []):
        if r.get("passed") is None:
            items.append({"date": r.get("sits_on"), "title": r.get("venue"),
                          "result": r.get("status"), "detail": r.get("district")})
    for x in record.get("results", []):
        when = x.get("sits_on") or (x["recorded_at"].date() if x.get("recorded_at") else None)
        items.append({"date": when, "title": x.get("venue") or x.get("source"),
                      "result": "passed" if x.get("passed") else "failed",
                      "detail": None if x.get("score") is None else str(x["score"])})
    return sorted(items, key=lambda i: str(i["date"] or ""))


_SECTIONS: dict[str, SectionLoader] = {"exams": exam_items}


def register_section(key: str, loader: SectionLoader) -> None:
    """Add (or replace) a section of the archive, e.g. ``register_section("exams", ...)``."""
    _SECTIONS[key] = loader


def sections() -> dict[str, SectionLoader]:
    return dict(_SECTIONS)


_CERT_FIELDS = ("number", "status", "skill_level", "employer_id", "issued_at", "expires_at",
                "status_reason", "status_changed_at")


def archive(db: Database, guard_id: int) -> dict[str, Any]:
    with db.transaction(readonly=True) as cur:
        guard = repository.get_guard(cur, guard_id)
        if guard is None:
            raise NotFound("no such guard")
        certificates = []
        for c in cert_repo.certificates_of_guard(cur, guard_id):
            if c["status"] in ("pending", "failed"):
                continue
            claims = c.get("claims") or {}
            certificates.append({**{k: c.get(k) for k in _CERT_FIELDS},
                                 "employer_name": claims.get("employer_name")})
        out: dict[str, Any] = {
            "guard_id": guard_id, "name": guard["name"], "skill_level": guard["skill_level"],
            "employer": guard.get("company_name"),
            "exams": [],
            "training": career_repository.training_of(cur, guard_id),
            "level_history": career_repository.evaluations_of(cur, guard_id),
            "certificates": certificates,
            "employment": [{k: e[k] for k in ("company_id", "company_name", "started_on",
                                                "ended_on", "end_reason")}
                           for e in repository.employment_history(cur, guard_id)],
            "more": {},
        }
        for key, loader in _SECTIONS.items():
            items = loader(cur, guard_id)
            if key == "exams":
                out["exams"] = items
            else:
                out["more"][key] = items
    return out
