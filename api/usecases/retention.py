"""Retention (docs/LIFECYCLE.md "Retention"; personal information protection law, the
2025 face-recognition rules): the job ``registry.retention`` purges the personal data of
people out of the industry for ``GUARDREG_RETENTION_YEARS`` (default 3), and the report
says what was purged, what is kept and why.

- A person is out of the industry when they have no employment and no valid (or
  suspended, or pending) unexpired certificate; the period runs from the latest of their
  employment end, certificate end, background check, training and evaluation
  (``retention_repository.ACTIVITY``) and the record's creation.
- Every table's treatment is in ``retention_repository.RULES`` (one place).
- While a ban or a revocation still bars the person (``KEEPING_BARS``), the biometric
  templates (face vector, fingerprint templates and their index codes) stay with the
  keyed blind index of the ID number, the ban and the revocation dates; each run checks
  again and purges them once the bar has ended (outcome ``released``).
- Resumable: people are purged in small transactions (one per chunk, each person's purge
  atomic) and a purged row is never selected again; a host that dies mid-run leaves the
  rest to the next run. Bounded: at most ``GUARDREG_RETENTION_BATCH`` people per run.
- Audited: one ``retention.purge`` / ``retention.keep`` / ``retention.release`` event per
  person (guard id, bars and table counts; no personal data).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from api import retention_repository as repo
from registry import audit
from registry import repository as registry_repo
from registry.audit import SYSTEM
from registry.db import Cursor, Database
from registry.settings import Settings

CHUNK = 50  # people per transaction


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def cutoff(now: dt.datetime, years: int) -> dt.date:
    """People whose latest activity is before this day are past the period."""
    return _years_before(now.date(), years)


def _hooks(settings: Settings) -> dict[str, Callable[[Cursor, str], int]]:
    from api.biometric_context import sealer
    from biometrics.finger_search import unindex_subject

    seal = sealer(settings)
    return {"finger-postings": lambda cur, subject: unindex_subject(cur, subject=subject,
                                                                    sealer=seal)}


def _keeping(cur: Cursor, guard_id: int, today: dt.date) -> list[str]:
    return [b for b in repo.bars(cur, guard_id, today) if b in repo.KEEPING_BARS]


def _decide(cur: Cursor, *, row: dict[str, Any], now: dt.datetime, outcome_if_clear: str,
            hooks: dict[str, Callable[[Cursor, str], int]],
            columns: dict[str, set[str]]) -> str:
    guard_id, subject = int(row["id"]), str(row["subject"])
    barring = _keeping(cur, guard_id, now.date())
    barred = bool(barring)
    purged, kept = repo.apply(cur, guard_ids=[guard_id], subjects=[subject], barred=barred,
                              now=now, hooks=hooks, existing=columns)
    outcome = "kept-for-bar" if barred else outcome_if_clear
    repo.mark(cur, guard_id, "kept-for-bar" if barred else "purged", now)
    repo.insert_record(cur, {"guard_id": guard_id, "outcome": outcome,
                             "out_since": row.get("out_since"), "bars": barring,
                             "purged": purged, "kept": kept, "decided_at": now})
    action = {"purged": "retention.purge", "kept-for-bar": "retention.keep",
              "released": "retention.release"}[outcome]
    audit.record(cur, actor=SYSTEM, action=action, target_type="guard", target_id=guard_id,
                 data={"bars": barring, "tables": purged}, now=now)
    return outcome


def run(db: Database, settings: Settings, now: dt.datetime, *,
        limit: int | None = None) -> dict[str, Any]:
    """One run of the job: release the kept people whose bar ended, then purge up to
    ``limit`` (``retention_batch``) people past the period. Returns the counts."""
    limit = settings.retention_batch if limit is None else limit
    hooks = _hooks(settings)
    counts = {"purged": 0, "kept-for-bar": 0, "released": 0}
    with db.transaction(readonly=True) as cur:
        columns = repo.rule_columns(cur)
    # Stored answers of idempotent requests may carry a guard's record (ID number, phone);
    # requests purge expired ones as they go, this makes sure none outlives its TTL.
    expired = now - dt.timedelta(seconds=settings.idempotency_ttl_s)
    stale = 0
    while True:
        with db.transaction() as cur:
            n = registry_repo.purge_idempotency(cur, older_than=expired, limit=1000)
        stale += n
        if n < 1000:
            break
    after = 0
    while True:  # people kept for a bar: has it ended?
        with db.transaction() as cur:
            rows = repo.kept_for_bar(cur, limit=CHUNK, after_id=after)
            for row in rows:
                if not _keeping(cur, int(row["id"]), now.date()):
                    counts[_decide(cur, row=row, now=now, outcome_if_clear="released",
                                   hooks=hooks, columns=columns)] += 1
        if len(rows) < CHUNK:
            break
        after = int(rows[-1]["id"])
    day = cutoff(now, settings.retention_years)
    done = 0
    while done < limit:
        with db.transaction() as cur:
            rows = repo.candidates(cur, now=now, cutoff=day, limit=min(CHUNK, limit - done))
            for row in rows:
                counts[_decide(cur, row=row, now=now, outcome_if_clear="purged",
                               hooks=hooks, columns=columns)] += 1
        done += len(rows)
        if not rows:
            break
    return {"cutoff": day.isoformat(), **counts, "more": done >= limit,
            "expired_idempotency": stale}


def report(db: Database, settings: Settings, *, guard_id: int | None = None,
           outcome: str | None = None, after_id: int = 0, limit: int = 50) -> dict[str, Any]:
    """What the rules do, the totals, and the decisions (newest first)."""
    with db.transaction(readonly=True) as cur:
        totals = repo.summary(cur)
        items = repo.records(cur, guard_id=guard_id, outcome=outcome, after_id=after_id,
                             limit=limit)
    rules = []
    for rule in repo.RULES:
        def name(t: repo.Treatment | None) -> str | None:
            if t is None:
                return None
            return {repo.Delete: "delete", repo.Anonymise: "anonymise", repo.Keep: "keep",
                    repo.Hook: "delete"}[type(t)]
        barred = rule.while_barred
        rules.append({"table": rule.table, "what": rule.what, "purge": name(rule.purge),
                      "while_barred": name(barred if barred is not None else rule.purge),
                      "why_kept": (barred.why if isinstance(barred, repo.Keep)
                                   else rule.purge.why if isinstance(rule.purge, repo.Keep)
                                   else rule.keeps_why or None),
                      "keeps": rule.keeps or None})
    return {"retention_years": settings.retention_years,
            "keeping_bars": list(repo.KEEPING_BARS),
            "totals": {"purged": int(totals["purged"] or 0),
                       "kept_for_bar": int(totals["kept_for_bar"] or 0)},
            "rules": rules, "items": items,
            "next_after": int(items[-1]["id"]) if len(items) == limit else None}
