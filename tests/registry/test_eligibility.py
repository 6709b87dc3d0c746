"""One source for each eligibility rule: the SQL function (migration 0031) that issuance
and the statistics both use, held to a table of cases through both paths."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from api import reporting_repository
from biometrics import repository as bio_repo
from registry import exams_repository, holds_repository, regulation, repository, service
from registry.audit import Actor
from tests.conftest import Api, internal_guard_id, random_id_number

ACTOR = Actor("regulator", 1)
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _captured(cur: Any, guard: dict[str, Any]) -> None:
    """Face and two fingers on file (rows as enrollment writes them; the capture itself is
    tested elsewhere)."""
    subject = str(guard["biometric_subject"])
    vec = np.random.default_rng(int(guard["id"])).standard_normal(128)
    bio_repo.upsert_face(cur, subject=subject, status="enrolled", model="test-model",
                         embedding=vec / np.linalg.norm(vec), photo_sealed=b"x",
                         photo_sha256=secrets.token_bytes(32), quality={},
                         transform_kid="test")
    for position in (2, 7):
        bio_repo.upsert_finger(cur, subject=subject, position=position, status="enrolled",
                               model="test", template_sealed=b"x", quality=80, minutiae=40)


def _exam(passed: bool) -> Callable[[Any, dict[str, Any]], None]:
    def setup(cur: Any, g: dict[str, Any]) -> None:
        exams_repository.insert_result(cur, {
            "guard_id": g["id"], "passed": passed, "source": "external", "evidence": "t",
            "recorded_by": "t", "recorded_at": NOW})
    return setup


def _checked(cur: Any, g: dict[str, Any]) -> None:
    service.record_background_check(cur, actor=ACTOR, now=NOW, guard_id=g["id"],
                                     result="clear", reason=None, checked_on=NOW.date())


def _clear(cur: Any, g: dict[str, Any]) -> None:
    """Every condition of the registry met: a passed exam and a clear check."""
    _exam(True)(cur, g)
    _checked(cur, g)


def _revoked(*years_ago: int) -> Callable[[Any, dict[str, Any]], None]:
    def setup(cur: Any, g: dict[str, Any]) -> None:
        _clear(cur, g)
        for years in years_ago:
            repository.insert_revocation_record(
                cur, g["id"], NOW - dt.timedelta(days=365 * years + 2), "misconduct", None)
    return setup


def _then(*steps: Callable[[Any, dict[str, Any]], None]) -> Callable[[Any, dict[str, Any]],
                                                                      None]:
    def setup(cur: Any, g: dict[str, Any]) -> None:
        for step in steps:
            step(cur, g)
    return setup


CASES: list[tuple[str, Callable[[Any, dict[str, Any]], None], list[str]]] = [
    ("clean", _clear, []),
    ("no check", _exam(True), ["no-background-check"]),
    ("nothing", lambda cur, g: None, ["no-exam-pass", "no-background-check"]),
    # Issue 15: the certificate is earned by the exam.
    ("no exam", _checked, ["no-exam-pass"]),
    ("exam failed", _then(_checked, _exam(False)), ["no-exam-pass"]),
    ("failed then passed", _then(_checked, _exam(False), _exam(True)), []),
    ("no employer", _then(_clear, lambda cur, g: repository.end_employment(
        cur, g["id"], NOW.date(), "left")), []),
    ("under age", _then(_clear, lambda cur, g: cur.execute(
        "UPDATE registry_guard SET birth_date = %s WHERE id = %s",
        (NOW.date().replace(year=NOW.year - 17), g["id"]))), ["under-age"]),
    ("banned", _then(_clear, lambda cur, g: repository.insert_ban(cur, {
        "id_number": g["id_number"], "reason": "x", "until_on": None, "company_id": None,
        "created_by": "t"})), ["banned"]),
    ("ban over", _then(_clear, lambda cur, g: repository.insert_ban(cur, {
        "id_number": g["id_number"], "reason": "x", "until_on": NOW.date() - dt.timedelta(1),
        "company_id": None, "created_by": "t"})), []),
    ("criminal record", _then(_clear, lambda cur, g: repository.update_guard(
        cur, g["id"], {"intentional_crime": True})), ["criminal-record"]),
    ("two detentions", _then(_clear, lambda cur, g: repository.update_guard(
        cur, g["id"], {"administrative_detentions": 2})), []),
    ("three detentions", _then(_clear, lambda cur, g: repository.update_guard(
        cur, g["id"], {"administrative_detentions": 3})), ["administrative-detentions"]),
    ("revoked 1 year ago", _revoked(1), ["recently-revoked"]),
    ("revoked 4 years ago", _revoked(4), []),
    ("revoked twice", _revoked(5, 6), ["revoked-twice"]),
    ("employer suspended", _then(_clear, lambda cur, g: regulation.change_licence(
        cur, actor=ACTOR, now=NOW, company_id=g["company_id"], op="suspend", reason="t")),
     ["employer-not-active"]),
    ("inactive", _then(_clear, lambda cur, g: repository.update_guard(
        cur, g["id"], {"status": "inactive"})), ["guard-inactive"]),
    ("enrollment held", _then(_clear, lambda cur, g: holds_repository.insert_hold(cur, {
        "guard_id": g["id"], "company_id": g["company_id"], "reason": "black-list",
        "created_at": NOW})), ["enrollment-held"]),
]


@pytest.mark.parametrize(("case", "setup", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_agrees_in_issuance_and_in_the_statistics(
        runtime: Any, regulator: Api, case: str, setup: Callable[[Any, dict[str, Any]], None],
        expected: list[str]) -> None:
    company = regulator.make_company()
    made = regulator.make_guard(company["id"], id_number=random_id_number(age=30))
    with runtime.db.transaction() as cur:
        guard = repository.get_guard(cur, internal_guard_id(runtime, made["id"]))
        assert guard is not None
        _captured(cur, guard)
        setup(cur, guard)
    with runtime.db.transaction(readonly=True) as cur:
        codes = [r["code"] for r in service.guard_eligibility(
            cur, guard_id=guard["id"], now=NOW).reasons]
        stats = reporting_repository.capture_rate(cur, by="company", now=NOW,
                                                  company_id=company["id"])
    assert codes == expected, case
    counted = stats[0]["eligible"] if stats else 0
    # The statistics count employed, active guards only.
    active_employed = case not in ("inactive", "no employer")
    assert counted == (1 if not expected and active_employed else 0), (case, stats)
