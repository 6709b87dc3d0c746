"""Annual reports (notice §13): overdue or rejected lists the company as abnormal; filing
or an accepted refiling lifts it; the regulator's own listings are left alone."""

from __future__ import annotations

import datetime as dt
from typing import Any

from api.jobs import cluster_jobs
from registry.jobs import JobRunner
from registry.jobs import status as job_status
from tests.conftest import Api, Clock, isolated_stack, make_principal

REPORT = {"headcount": 40, "labour_contracts": 38, "insured": 36, "training_hours": 1600,
          "incidents": 1}


def _abnormal(api: Api, company_id: int) -> bool:
    return bool(api.get(f"/v1/companies/{company_id}").json()["abnormal_operations"])


def test_overdue_report_lists_the_company_and_filing_lifts_it(
        pg_server: str, template_db: str, data_dir: Any) -> None:
    clock = Clock()  # an app and a database of this test's own: it moves time by a year
    with isolated_stack(pg_server, template_db, data_dir, clock) as (rt, client):
        reg = make_principal(rt, client, "regulator")
        year = clock().year
        late, on_time, listed_by_hand = (reg.make_company() for _ in range(3))
        op_late = make_principal(rt, client, "company_operator", company_id=late["id"])
        op_on_time = make_principal(rt, client, "company_operator", company_id=on_time["id"])
        assert op_on_time.post(f"/v1/companies/{on_time['id']}/annual-reports",
                               json={"year": year, **REPORT}).status_code == 422  # not past
        # The regulator shortens the deadline for this test: 31 January of the next year.
        assert reg.put("/v1/supervision-policy", json={
            "annual_report_due": "01-31", "annual_report_reminder_days": 10}).status_code == 200
        reg.post(f"/v1/companies/{listed_by_hand['id']}/lists", json={
            "list": "abnormal", "reason": "经营地址无法联系 unreachable at its address"})
        clock.now = dt.datetime(year + 1, 1, 20, 9, tzinfo=dt.UTC)
        filed = op_on_time.post(f"/v1/companies/{on_time['id']}/annual-reports",
                                json={"year": year, **REPORT})
        assert filed.status_code == 201, filed.text
        missing = reg.get(f"/v1/annual-reports/missing?year={year}").json()
        ids = {c["id"] for c in missing["companies"]}
        assert late["id"] in ids and on_time["id"] not in ids and not missing["overdue"]
        runner = JobRunner(rt.db, [j for j in cluster_jobs(rt)
                                   if j.name == "supervision.annual-reports"], clock=clock)
        runner.run_now("supervision.annual-reports")
        assert not _abnormal(reg, late["id"])  # not due yet
        # The company page shows what it owes: the year, the due date, where it stands.
        owed = op_late.get(f"/v1/companies/{late['id']}/annual-reports").json()["current"]
        assert owed == {"year": year, "due": f"{year + 1}-01-31", "status": "due"}
        assert op_on_time.get(f"/v1/companies/{on_time['id']}/annual-reports"
                              ).json()["current"]["status"] == "filed"
        clock.now = dt.datetime(year + 1, 2, 1, 9, tzinfo=dt.UTC)
        runner.run_now("supervision.annual-reports")
        assert _abnormal(reg, late["id"]) and not _abnormal(reg, on_time["id"])
        lists = reg.get(f"/v1/companies/{late['id']}/lists").json()
        assert any(f"annual report {year} overdue" in str(e) for e in lists["items"]), lists
        assert op_late.get(f"/v1/companies/{late['id']}/annual-reports"
                           ).json()["current"]["status"] == "overdue"
        # Filing lifts what the overdue rule put there, and only that.
        assert op_late.post(f"/v1/companies/{late['id']}/annual-reports",
                            json={"year": year, **REPORT}).status_code == 201
        assert not _abnormal(reg, late["id"])
        assert _abnormal(reg, listed_by_hand["id"])
        reg.post(f"/v1/companies/{listed_by_hand['id']}/annual-reports",
                 json={"year": year, **REPORT})
        assert _abnormal(reg, listed_by_hand["id"]), "a listing for another cause stays"


def test_a_rejected_report_lists_the_company_until_an_accepted_refiling(
        regulator: Api, runtime: Any, client: Any) -> None:
    company = regulator.make_company()
    op = make_principal(runtime, client, "company_operator", company_id=company["id"])
    year = dt.date.today().year - 1
    bad = op.post(f"/v1/companies/{company['id']}/annual-reports",
                  json={"year": year, **REPORT, "insured": 41})
    assert bad.status_code == 422  # more insured than employed
    first = op.post(f"/v1/companies/{company['id']}/annual-reports",
                    json={"year": year, **REPORT}).json()
    again = op.post(f"/v1/companies/{company['id']}/annual-reports",
                    json={"year": year, **REPORT})
    assert again.status_code == 409
    assert regulator.post(f"/v1/annual-reports/{first['id']}/review",
                          json={"accepted": False}).status_code == 422  # says why
    rejected = regulator.post(f"/v1/annual-reports/{first['id']}/review",
                              json={"accepted": False, "note": "社保人数与台账不符"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    owed = op.get(f"/v1/companies/{company['id']}/annual-reports").json()["current"]
    assert (owed["year"], owed["status"]) == (year, "rejected")
    assert _abnormal(regulator, company["id"])
    refiled = op.post(f"/v1/companies/{company['id']}/annual-reports",
                      json={"year": year, **REPORT, "insured": 30})
    assert refiled.status_code == 201
    assert not _abnormal(regulator, company["id"])
    reports = op.get(f"/v1/companies/{company['id']}/annual-reports").json()["items"]
    assert [r["status"] for r in reports] == ["filed", "rejected"]


def test_reminders_due_soon_then_overdue_once_each_and_none_after_filing(
        pg_server: str, template_db: str, data_dir: Any) -> None:
    """The job sends ``annual-report.due`` once per company, year and stage: reruns, and
    a second host, send nothing twice; a company that filed gets nothing."""
    clock = Clock()
    with isolated_stack(pg_server, template_db, data_dir, clock) as (rt, client):
        reg = make_principal(rt, client, "regulator")
        year = clock().year
        late, filer = reg.make_company(), reg.make_company()
        op_late = make_principal(rt, client, "company_operator", company_id=late["id"])
        op_filer = make_principal(rt, client, "company_operator", company_id=filer["id"])
        assert reg.put("/v1/supervision-policy", json={
            "annual_report_due": "03-31", "annual_report_reminder_days": 14}).status_code == 200
        jobs = [j for j in cluster_jobs(rt) if j.name == "supervision.annual-report-reminders"]
        hosts = [JobRunner(rt.db, jobs, clock=clock, owner=f"host-{i}") for i in range(2)]

        def inbox(op: Api, company_id: int) -> list[dict[str, Any]]:
            items = op.get(f"/v1/companies/{company_id}/notifications").json()["items"]
            return [n for n in items if n["kind"] == "annual-report.due"]

        def run_everywhere() -> None:
            for host in hosts:
                host.run_now("supervision.annual-report-reminders")

        clock.now = dt.datetime(year + 1, 3, 16, 9, tzinfo=dt.UTC)  # 15 days before: none
        run_everywhere()
        assert inbox(op_late, late["id"]) == [] and inbox(op_filer, filer["id"]) == []
        clock.now = dt.datetime(year + 1, 3, 17, 9, tzinfo=dt.UTC)  # 14 days before
        run_everywhere()
        run_everywhere()
        soon = inbox(op_late, late["id"])
        assert len(soon) == 1, soon
        assert soon[0]["data"] == {"year": year, "stage": "due-soon",
                                   "due_on": f"{year + 1}-03-31"}
        assert len(inbox(op_filer, filer["id"])) == 1
        # The filer files; the late one does not.
        assert op_filer.post(f"/v1/companies/{filer['id']}/annual-reports",
                             json={"year": year, **REPORT}).status_code == 201
        clock.now = dt.datetime(year + 1, 3, 31, 23, tzinfo=dt.UTC)  # the due day itself
        run_everywhere()
        assert len(inbox(op_late, late["id"])) == 1
        clock.now = dt.datetime(year + 1, 4, 1, 9, tzinfo=dt.UTC)
        run_everywhere()
        clock.advance(days=3)
        run_everywhere()
        stages = sorted(n["data"]["stage"] for n in inbox(op_late, late["id"]))
        assert stages == ["due-soon", "overdue"], stages
        assert [n["data"]["stage"] for n in inbox(op_filer, filer["id"])] == ["due-soon"]
        status = {s.name: s for s in job_status(rt.db)}
        assert status["supervision.annual-report-reminders"].last_status == "ok"
