"""Read endpoints of the regulator console (api/routers/console.py), the audit filters
and the per-line report of the background-check import, on the real PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
from typing import Any

from tests.conftest import Api, make_issuable_guard

TODAY = dt.date.today()


def test_guard_search_by_name_id_number_certificate_and_id(regulator: Api) -> None:
    company = regulator.make_company()
    name = "查" + secrets.choice("甲乙丙丁") + secrets.token_hex(2)
    guard = make_issuable_guard(regulator, company["id"], name=name)
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    for q, how in ((name[1:], "name"), (guard["id_number"], "id_number"),
                   (cert["number"].lower(), "certificate"), (str(guard["id"]), "guard_id")):
        resp = regulator.get("/v1/console/guards", params={"q": q})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["matched_by"] == how, (q, body)
        assert [g["id"] for g in body["items"]] == [guard["id"]], (q, body)
        hit = body["items"][0]
        assert hit["name"] == name and hit["company_name"] == company["name"]
        assert hit["id_number_masked"] != guard["id_number"]
        assert guard["id_number"] not in resp.text
    assert regulator.get("/v1/console/guards", params={"q": "无此人" + secrets.token_hex(3)}
                         ).json()["items"] == []
    assert regulator.get("/v1/console/guards", params={"q": ""}).status_code == 422


def test_overview_counts_follow_the_registry(regulator: Api) -> None:
    before = regulator.get("/v1/console/overview").json()
    company = regulator.make_company()
    regulator.make_guard(company["id"])
    assert regulator.post(f"/v1/companies/{company['id']}/lists",
                          json={"list": "abnormal", "reason": "未报年报"}).status_code == 201
    after = regulator.get("/v1/console/overview").json()
    assert after["companies"].get("active", 0) == before["companies"].get("active", 0) + 1
    assert sum(after["guards"].values()) == sum(before["guards"].values()) + 1
    assert after["lists"]["abnormal"] == before["lists"]["abnormal"] + 1
    assert set(after["pending"]) == {"reviews", "requests"}
    assert isinstance(after["checks"], list)


def test_keys_trust_list_and_status_lists(regulator: Api) -> None:
    body = regulator.get("/v1/console/keys").json()
    purposes = {k["purpose"] for k in body["keys"]}
    assert {"certificate", "status-list", "trust-list"} <= purposes
    assert all(len(k["kid"]) >= 8 and "spki" not in k for k in body["keys"])
    tl = body["trust_list"]
    assert dt.datetime.fromisoformat(tl["expires_at"]) > dt.datetime.fromisoformat(
        tl["issued_at"])
    assert tl["keys"] >= 3


def test_exports_mask_id_numbers_and_escape_formulas(regulator: Api) -> None:
    company = regulator.make_company(name="=HYPERLINK(\"x\")保安" + secrets.token_hex(2))
    guard = regulator.make_guard(company["id"])
    assert regulator.post("/v1/bans", json={"id_number": guard["id_number"],
                                             "reason": "违规"}).status_code == 201
    for what, key in (("companies", "name"), ("guards", "name"), ("bans", "reason")):
        resp = regulator.get(f"/v1/console/exports/{what}.csv")
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("text/csv")
        assert "attachment" in resp.headers["content-disposition"]
        assert guard["id_number"] not in resp.text
        rows = list(csv.DictReader(io.StringIO(resp.text.lstrip("\ufeff"))))
        assert rows and key in rows[0]
    companies = regulator.get("/v1/console/exports/companies.csv").text
    assert "'=HYPERLINK" in companies
    guards = list(csv.DictReader(io.StringIO(
        regulator.get("/v1/console/exports/guards.csv").text.lstrip("\ufeff"))))
    mine = [g for g in guards if g["id"] == str(guard["id"])]
    assert mine == [] or mine[0]["id_number_masked"][-4:] == guard["id_number"][-4:]
    assert regulator.get("/v1/console/exports/secrets.csv").status_code == 422


def test_audit_filters_by_action_actor_time_newest_first(regulator: Api) -> None:
    company = regulator.make_company()
    regulator.make_guard(company["id"])
    regulator.make_guard(company["id"])
    newest = regulator.get("/v1/audit/events", params={"order": "desc", "limit": 2}).json()
    seqs = [e["seq"] for e in newest["items"]]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 2
    page2 = regulator.get("/v1/audit/events", params={
        "order": "desc", "limit": 2, "cursor": newest["next_cursor"]}).json()
    assert max(e["seq"] for e in page2["items"]) < min(seqs)
    guards = regulator.get("/v1/audit/events", params={
        "action": "guard.", "order": "desc", "limit": 20}).json()["items"]
    assert guards and all(e["action"].startswith("guard.") for e in guards)
    anyone = regulator.get("/v1/audit/events", params={
        "actor": "nobody-" + secrets.token_hex(4)}).json()["items"]
    assert anyone == []
    # Far beyond any clock other tests move (they go years ahead, not centuries).
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=365 * 200)).isoformat()
    assert regulator.get("/v1/audit/events", params={"since": future}).json()["items"] == []
    # An offset PostgreSQL would refuse, and one at the edge of the calendar: 200 and 422.
    odd = regulator.get("/v1/audit/events", params={"since": "8302-09-18T14:43:29-22:35"})
    assert odd.status_code == 200 and odd.json()["items"] == []
    edge = regulator.get("/v1/audit/events", params={"until": "0001-01-01T00:00:00+05:00"})
    assert edge.status_code == 422, edge.text
    assert regulator.get("/v1/audit/events", params={"order": "sideways"}).status_code == 422


def test_check_import_reports_every_line(regulator: Api) -> None:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    data = "\n".join([
        "id_number,result,reason,checked_on",
        f"{guard['id_number']},clear,,{TODAY.isoformat()}",
        f"{guard['id_number']},maybe,,{TODAY.isoformat()}",
        f"{guard['id_number']},clear,,{TODAY.isoformat()}",
    ]).encode()
    body: dict[str, Any] = regulator.post("/v1/background-checks/import", content=data,
                                          headers={"content-type": "text/csv"}).json()
    lines = {r["line"]: r for r in body["lines"]}
    assert [lines[n]["status"] for n in (2, 3, 4)] == ["applied", "rejected", "unchanged"]
    assert "clear or failed" in lines[3]["reason"]
    assert guard["id_number"] not in str(body["lines"])


def test_every_console_string_is_in_chinese_and_english() -> None:
    """Each key the console uses (static and built from values) is in both catalogues,
    and no Chinese string is the English one."""
    import re
    from pathlib import Path

    static = Path(__file__).parents[2] / "api" / "static"
    catalogue = (static / "lib" / "i18n.js").read_text(encoding="utf-8")
    en_part, zh_part = catalogue.split("\n  zh: {", 1)
    pair = re.compile(r'"((?:reg|dash|f|auth|lang|company)\.[^"]+)":\s*"((?:[^"\\]|\\.)*)"')
    en, zh = dict(pair.findall(en_part)), dict(pair.findall(zh_part))
    source = (static / "regulator.js").read_text(encoding="utf-8") + \
        (static / "regulator.html").read_text(encoding="utf-8")
    used = set(re.findall(r'(?:t|fill)\("((?:reg|dash|f|auth|company)\.[\w.-]+)"', source))
    used |= set(re.findall(r'data-i18n(?:-label|-title)?="([\w.-]+)"', source))
    used |= {f"reg.finger.{n}" for n in range(1, 11)}
    used |= {f"reg.licence.{op}" for op in ("suspend", "revoke", "reinstate")}
    used |= {f"reg.list.{x}" for x in ("red_list", "black_list", "abnormal_operations")}
    used |= {f"dash.list.{x}" for x in ("red", "black", "abnormal")}
    values = {"cert": ("valid", "suspended", "revoked", "pending", "failed"),
              "line": ("applied", "unchanged", "rejected"), "check": ("clear", "failed"),
              "company": ("active", "suspended", "revoked"), "guard": ("active", "inactive"),
              "modality": ("face", "finger"), "capture": ("enrolled", "held", "rejected"),
              "purpose": ("certificate", "status-list", "trust-list", "log", "statement"),
              "keystate": ("active", "retired", "next")}
    used |= {f"reg.v.{g}.{v}" for g, vs in values.items() for v in vs}
    used = {k for k in used if not k.endswith(".")}  # prefixes of keys built from values
    assert len(used) > 150
    missing = sorted(k for k in used if k not in en or k not in zh)
    assert missing == [], missing
    same = sorted(k for k in en if k.startswith("reg.") and zh.get(k) == en[k])
    assert same == [], same
    assert all(re.search(r"[\u4e00-\u9fff]", zh[k]) for k in used if k.startswith("reg."))


def test_a_guards_bans_lifted_or_not(regulator: Api) -> None:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    other = regulator.make_guard(company["id"])
    assert regulator.get(f"/v1/console/guards/{guard['id']}/bans").json()["items"] == []
    first = regulator.post("/v1/bans", json={"id_number": guard["id_number"], "reason": "甲",
                                             "until_on": "2099-01-01"}).json()
    assert regulator.post(f"/v1/bans/{first['id']}/lift").status_code == 200
    regulator.post("/v1/bans", json={"id_number": guard["id_number"], "reason": "乙"})
    regulator.post("/v1/bans", json={"id_number": other["id_number"], "reason": "丙"})
    resp = regulator.get(f"/v1/console/guards/{guard['id']}/bans")
    items = resp.json()["items"]
    assert [(b["reason"], b["in_force"]) for b in items] == [("甲", False), ("乙", True)]
    assert guard["id_number"] not in resp.text
    assert regulator.get("/v1/console/guards/99999999/bans").status_code == 404
