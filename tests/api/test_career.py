"""Training and skill levels (notice §6 §7) on the real stack."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from typing import Any

import pytest

from tests.conftest import Api, make_issuable_guard, make_principal, random_id_number


def _id_number(regulator: Api, guard_id: int) -> str:
    return str(regulator.get(f"/v1/guards/{guard_id}").json()["id_number"])


def test_a_level_raised_by_an_assessor_reissues_the_certificate(
        runtime: Any, client: Any, regulator: Api) -> None:
    company = regulator.make_company()
    guard = make_issuable_guard(regulator, company["id"])
    old = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    assert old["skill_level"] == 5
    assessor = make_principal(runtime, client, "skill_assessor")
    person = {"id_number": _id_number(regulator, guard["id"]), "name": guard["name"]}
    today = dt.date.today().isoformat()
    jump = assessor.post("/v1/skill-evaluations", json={
        **person, "kind": "exam", "passed": True, "level": 3, "evidence": "理论 92 分",
        "evaluated_on": today})
    assert jump.status_code == 422  # an exam promotes one level at a time
    wrong = assessor.post("/v1/skill-evaluations", json={
        **person, "name": guard["name"] + "某", "kind": "exam", "passed": True, "level": 4,
        "evidence": "x", "evaluated_on": today})
    unknown = assessor.post("/v1/skill-evaluations", json={
        **person, "id_number": random_id_number(), "kind": "exam", "passed": True,
        "level": 4, "evidence": "x", "evaluated_on": today})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json()["detail"] == unknown.json()["detail"]
    done = assessor.post("/v1/skill-evaluations", json={
        **person, "kind": "exam", "passed": True, "level": 4,
        "evidence": "四级保安员鉴定 理论 88 实操 91", "evaluated_on": today})
    assert done.status_code == 201, done.text
    body = done.json()
    assert (body["level_before"], body["level_after"]) == (5, 4)
    assert body["reissued"] and body["reissued"] != old["number"]
    # The guard page and the card follow the new certificate.
    me = make_principal(runtime, client, "guard", guard_id=guard["id"])
    mine = me.get("/v1/me/certificate").json()
    assert mine["number"] == body["reissued"] and mine["skill_level"] == 4
    assert regulator.get(f"/v1/certificates/{old['number']}").json()["status"] == "revoked"
    card = me.get("/v1/me/card.pdf")
    assert card.status_code == 200 and card.content.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-", "-"], input=card.content, capture_output=True,
                              check=True).stdout.decode()
        assert body["reissued"] in text.replace(" ", "")
    history = regulator.get(f"/v1/guards/{guard['id']}/skill-evaluations").json()["items"]
    assert [(h["level_before"], h["level_after"]) for h in history] == [(5, 4)]
    op = make_principal(runtime, client, "company_operator", company_id=company["id"])
    inbox = op.get(f"/v1/companies/{company['id']}/notifications").json()["items"]
    assert inbox[0]["kind"] == "certificate.reissued"
    # A competition may promote by more than one level; a failed evaluation awards none.
    leap = assessor.post("/v1/skill-evaluations", json={
        **person, "kind": "competition", "passed": True, "level": 2,
        "evidence": "全市保安技能大赛一等奖", "evaluated_on": today}).json()
    assert leap["level_after"] == 2 and leap["reissued"]
    assert assessor.post("/v1/skill-evaluations", json={
        **person, "kind": "appraisal", "passed": False, "level": 1, "evidence": "x",
        "evaluated_on": today}).status_code == 422


def _ago(**kw: int) -> dt.date:
    days = kw.get("days", 0) + 30 * kw.get("months", 0) + 365 * kw.get("years", 0)
    return dt.date.today() - dt.timedelta(days=days)


def _plus_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    import calendar

    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def test_rotation_training_due_list_matches_a_hand_computed_fixture(
        runtime: Any, client: Any, regulator: Api) -> None:
    company = regulator.make_company(district="河西区")
    unit_company = regulator.make_company(kind="training", district="河西区")
    other_unit = regulator.make_company(kind="training")
    trainer = make_principal(runtime, client, "training_unit", company_id=unit_company["id"])
    stranger = make_principal(runtime, client, "training_unit", company_id=other_unit["id"])
    start = _ago(years=2)
    guards = {k: regulator.make_guard(company["id"], started_on=start.isoformat())
              for k in "ABCD"}

    def session(course: str, ended: dt.date) -> int:
        resp = trainer.post("/v1/training/sessions", json={
            "company_id": unit_company["id"], "course": course,
            "starts_on": (ended - dt.timedelta(days=4)).isoformat(),
            "ends_on": ended.isoformat(), "hours": 32, "location": "河西区培训基地"})
        assert resp.status_code == 201, resp.text
        return int(resp.json()["id"])

    recent, old = session("rotation", _ago(months=6)), session("rotation", _ago(months=13))
    other_course = session("emergency-response", _ago(months=2))
    for key, sid in (("B", recent), ("C", old), ("D", other_course)):
        g = guards[key]
        resp = trainer.post(f"/v1/training/sessions/{sid}/attendance", json={
            "id_number": _id_number(regulator, g["id"]), "name": g["name"], "completed": True})
        assert resp.status_code == 200, resp.text
    # Another training unit cannot write into this unit's session.
    g = guards["A"]
    assert stranger.post(f"/v1/training/sessions/{recent}/attendance", json={
        "id_number": _id_number(regulator, g["id"]), "name": g["name"], "completed": True}
    ).status_code == 404
    due = regulator.get(f"/v1/training/rotation-due?company_id={company['id']}").json()
    assert due["months"] == 12
    got = [(i["guard_id"], i["due_on"]) for i in due["items"]]
    old_end = _ago(months=13)
    expected = sorted([(guards["A"]["id"], _plus_months(start, 12)),
                       (guards["D"]["id"], _plus_months(start, 12)),
                       (guards["C"]["id"], _plus_months(old_end, 12))],
                      key=lambda x: (x[1], x[0]))
    # Due date first; guards due the same day in enrollment order (public ids are random,
    # so compare that tie as a set).
    assert [d for _, d in got] == sorted(d for _, d in got)
    assert sorted(got, key=lambda x: (x[1], x[0])) == [
        (gid, day.isoformat()) for gid, day in expected]
    by_district = regulator.get("/v1/training/rotation-due?district=河西区").json()["items"]
    assert {i["guard_id"] for i in by_district} >= {gid for gid, _ in expected}
    record = regulator.get(f"/v1/guards/{guards['B']['id']}/training").json()["items"]
    assert [r["course"] for r in record] == ["rotation"] and record[0]["completed"]


@pytest.mark.parametrize("course", ["nonsense"])
def test_sessions_are_checked(runtime: Any, client: Any, regulator: Api, course: str) -> None:
    unit = regulator.make_company(kind="training")
    security = regulator.make_company()
    trainer = make_principal(runtime, client, "training_unit", company_id=unit["id"])
    body = {"course": "rotation", "starts_on": "2026-01-01", "ends_on": "2026-01-05",
            "hours": 32, "location": "x"}
    assert trainer.post("/v1/training/sessions", json={**body, "company_id": security["id"]}
                        ).status_code == 404  # not its own company
    assert regulator.post("/v1/training/sessions", json={**body, "company_id": security["id"]}
                          ).status_code == 422  # not a training unit
    assert trainer.post("/v1/training/sessions", json={
        **body, "company_id": unit["id"], "course": course}).status_code == 422
