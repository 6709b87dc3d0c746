"""The person's own archive (issue 15, "Guard self-service"): exam results, training,
level history, certificates and employment history, read in one transaction.

Extension point: a feature that keeps more records about a person (exam registrations
and results) calls :func:`register_section` once at start-up (``api/wiring.py``) with a
loader ``(cursor, guard_id) -> items``; ``exams`` is shown in its own part of the guard
page, any other key under ``more``. Each exam item should carry ``date`` (ISO),
``title``, ``result`` and may carry ``detail``; they are shown as given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from certificates import repository as cert_repo
from registry import career_repository, repository
from registry.db import Cursor, Database
from registry.errors import NotFound

SectionLoader = Callable[[Cursor, int], list[dict[str, Any]]]
_SECTIONS: dict[str, SectionLoader] = {}


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
