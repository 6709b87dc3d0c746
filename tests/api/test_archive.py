"""The person's own archive (issue 15, guard self-service): training, level history,
certificates and employment, each guard their own only; exam results through the
archive's extension point."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from api.usecases import archive
from tests.conftest import Api, internal_guard_id, make_issuable_guard, make_principal


def test_a_guard_reads_their_own_archive_and_nobody_elses(
        runtime: Any, client: Any, regulator: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    company = regulator.make_company()
    unit = regulator.make_company(kind="training")
    guard = make_issuable_guard(regulator, company["id"])
    other = regulator.make_guard(company["id"])
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    id_number = regulator.get(f"/v1/guards/{guard['id']}").json()["id_number"]
    today = dt.date.today()
    trainer = make_principal(runtime, client, "training_unit", company_id=unit["id"])
    session = trainer.post("/v1/training/sessions", json={
        "company_id": unit["id"], "course": "rotation",
        "starts_on": (today - dt.timedelta(days=3)).isoformat(),
        "ends_on": today.isoformat(), "hours": 24, "location": "河西区培训基地"})
    assert session.status_code == 201, session.text
    assert trainer.post(f"/v1/training/sessions/{session.json()['id']}/attendance", json={
        "id_number": id_number, "name": guard["name"], "completed": True,
        "certificate_no": "轮训-2026-001"}).status_code == 200
    assessor = make_principal(runtime, client, "skill_assessor")
    evaluated = assessor.post("/v1/skill-evaluations", json={
        "id_number": id_number, "name": guard["name"], "kind": "exam", "passed": True,
        "level": 4, "evidence": "四级 理论 88", "evaluated_on": today.isoformat()})
    assert evaluated.status_code == 201, evaluated.text

    me = make_principal(runtime, client, "guard", guard_id=guard["id"])
    mine = me.get("/v1/me/archive")
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["guard_id"] == guard["id"] and body["skill_level"] == 4
    assert [t["certificate_no"] for t in body["training"]] == ["轮训-2026-001"]
    assert [(lv["level_before"], lv["level_after"]) for lv in body["level_history"]] == [(5, 4)]
    numbers = [c["number"] for c in body["certificates"]]
    assert cert["number"] in numbers and evaluated.json()["reissued"] in numbers
    assert [e["company_id"] for e in body["employment"]] == [company["id"]]
    assert body["employment"][0]["ended_on"] is None
    assert body["more"] == {}
    # Exam items (from the exam work where it is installed) have the shape the page shows.
    assert all({"date", "title", "result", "detail"} <= set(e) for e in body["exams"])
    # No ID number, phone or biometric data in the archive.
    assert id_number not in mine.text and "phone" not in mine.text

    # Another guard sees their own (empty) archive, never this one.
    theirs = make_principal(runtime, client, "guard", guard_id=other["id"]).get(
        "/v1/me/archive").json()
    assert theirs["guard_id"] == other["id"] and theirs["certificates"] == []
    assert guard["name"] not in str(theirs["employment"]) or guard["name"] == other["name"]
    assert regulator.get("/v1/me/archive").status_code == 403

    # The extension point: a feature with exam results registers a section.
    monkeypatch.setitem(archive._SECTIONS, "exams", lambda cur, gid: [
        {"date": "2026-05-10", "title": "保安员资格考试", "result": "passed",
         "detail": f"guard {gid}"}])
    monkeypatch.setitem(archive._SECTIONS, "drills", lambda cur, gid: [{"held": "yes"}])
    extended = me.get("/v1/me/archive").json()
    assert extended["exams"] == [{"date": "2026-05-10", "title": "保安员资格考试",
                                  "result": "passed",
                                  "detail": f"guard {internal_guard_id(runtime, guard['id'])}"}]
    assert extended["more"] == {"drills": [{"held": "yes"}]}


def test_exam_items_adapt_the_exam_works_archive(runtime: Any) -> None:
    """The default ``exams`` section reads ``registry.exams.archive`` (the exam work):
    registrations without a result, then every result, oldest first."""
    from decimal import Decimal

    record = {"registrations": [
        {"sits_on": dt.date(2026, 5, 10), "venue": "河西区考点", "district": "河西区",
         "status": "registered", "passed": True, "score": Decimal("88.0")},
        {"sits_on": dt.date(2026, 11, 8), "venue": "南开区考点", "district": "南开区",
         "status": "registered", "passed": None, "score": None}],
        "results": [{"sits_on": dt.date(2026, 5, 10), "venue": "河西区考点",
                     "passed": True, "score": Decimal("88.0"), "source": "exam",
                     "recorded_at": dt.datetime(2026, 5, 20, tzinfo=dt.UTC)},
                    {"sits_on": None, "venue": None, "passed": False, "score": None,
                     "source": "external",
                     "recorded_at": dt.datetime(2025, 1, 3, tzinfo=dt.UTC)}],
        "passed": True}
    assert archive.exam_items_of(record) == [
        {"date": dt.date(2025, 1, 3), "title": "external", "result": "failed", "detail": None},
        {"date": dt.date(2026, 5, 10), "title": "河西区考点", "result": "passed",
         "detail": "88.0"},
        {"date": dt.date(2026, 11, 8), "title": "南开区考点", "result": "registered",
         "detail": "南开区"}]
    with runtime.db.transaction(readonly=True) as cur:
        present = archive.archive_repository.has_table(cur, "registry_exam_result")
        assert present or archive.exam_items(cur, 1) == []
