"""Issue 6: the notice's rules walked on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from certificates import qr
from certificates.statuslist import REVOKED, verify_status_list_token
from certificates.trustlist import verify_trust_list
from registry.validation import make_resident_id
from tests.conftest import (
    PEOPLE,
    Api,
    internal_guard_id,
    make_issuable_guard,
    make_principal,
    random_id_number,
)

TODAY = dt.date.today()


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_failed_check_by_csv_revokes_and_the_status_list_shows_it(regulator: Api, client: Any,
                                                                  runtime: Any) -> None:
    company = regulator.make_company()
    guard = make_issuable_guard(regulator, company["id"])
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    other = regulator.make_guard(company["id"])
    data = csv_bytes(
        "id_number,result,reason,checked_on",
        f"{guard['id_number']},failed,涉嫌盗窃,{TODAY.isoformat()}",
        f"{other['id_number']},clear,,{TODAY.isoformat()}",
        f"110105194912310021,clear,,{TODAY.isoformat()}",
        f"{random_id_number()},clear,,{TODAY.isoformat()}",
        f"{other['id_number']},maybe,,{TODAY.isoformat()}",
        f"{other['id_number']},clear,,2999-01-01",
    )
    resp = regulator.post("/v1/background-checks/import", content=data,
                          headers={"content-type": "text/csv"})
    assert resp.status_code == 200, resp.text
    summary = resp.json()
    assert summary["applied"] == 2
    assert summary["revoked_certificates"] == [cert["number"]]
    lines = {r["line"]: r["reason"] for r in summary["rejected"]}
    assert set(lines) == {4, 5, 6, 7}
    assert "check character" in lines[4]
    assert "no guard" in lines[5]
    # The published status list says revoked.
    now = dt.datetime.now(dt.UTC)
    spki = runtime.certs.keyring.list_keys("trust-list")[0].spki
    trust = verify_trust_list(client.get("/v1/trust-list").content, anchors=[spki], now=now)
    shard = cert["status_ref"]["uri"].rsplit("/", 1)[1]
    token = verify_status_list_token(client.get(f"/v1/status-lists/{shard}").content,
                                     trust=trust, now=now)
    assert token.status_list.get(cert["status_ref"]["idx"]) == REVOKED
    # Running the same file again changes nothing.
    again = regulator.post("/v1/background-checks/import", files={"file": ("c.csv", data)}).json()
    assert again["applied"] == 0
    assert again["unchanged"] == 2
    assert again["revoked_certificates"] == []
    checks = regulator.get(f"/v1/guards/{other['id']}/background-checks").json()["items"]
    assert len(checks) == 1


def test_malformed_csv_gives_line_numbers_and_imports_nothing_it_should_not(
        regulator: Api) -> None:
    company = regulator.make_company()
    bad_header = regulator.post(f"/v1/guards/import?company_id={company['id']}",
                                content=csv_bytes("nom,id", "a,b"),
                                headers={"content-type": "text/csv"})
    assert bad_header.status_code == 422
    assert bad_header.json()["line"] == 1
    good = random_id_number()
    bad = good[:-1] + ("1" if good[-1] != "1" else "2")  # a wrong check character, always
    data = csv_bytes("name,id_number,phone", f"王一,{good},13900000001",
                     f"王二,{bad},13900000002", "王三", f"王四,{random_id_number(age=16)},1",
                     f'"王五,{random_id_number()}')
    resp = regulator.post(f"/v1/guards/import?company_id={company['id']}&all_or_nothing=true",
                          content=data, headers={"content-type": "text/csv"})
    body = resp.json()
    assert resp.status_code in (200, 422)
    if resp.status_code == 200:
        assert body["committed"] is False
        assert {r["line"] for r in body["rejected"]} >= {3, 4, 5}
    listed = regulator.get(f"/v1/guards?company_id={company['id']}").json()["items"]
    assert listed == []  # all-or-nothing: nothing was imported
    partial = regulator.post(f"/v1/guards/import?company_id={company['id']}",
                             content=csv_bytes("name,id_number,phone",
                                               f"王一,{good},13900000001",
                                               f"王二,{bad},13900000002"),
                             headers={"content-type": "text/csv"}).json()
    assert [e["line"] for e in partial["enrolled"]] == [2]
    assert [r["line"] for r in partial["rejected"]] == [3]
    rerun = regulator.post(f"/v1/guards/import?company_id={company['id']}",
                           content=csv_bytes("name,id_number", f"王一,{good}"),
                           headers={"content-type": "text/csv"}).json()
    assert rerun["enrolled"] == []
    assert rerun["unchanged"] == 1


def test_banned_person_under_a_new_id_number_is_held(regulator: Api, runtime: Any,
                                                     client: Any) -> None:
    company = regulator.make_company()
    banned = regulator.make_guard(company["id"])
    face = PEOPLE / "Hu_Jintao_0001_x2.jpg"
    more = PEOPLE.parent / "dedup"

    def capture(api: Api, guard_id: int, impression: int) -> list[int]:
        codes = [api.post(f"/v1/guards/{guard_id}/face",
                          files={"photo": ("f.jpg", face.read_bytes(), "image/jpeg")}
                          ).status_code]
        for position, finger in ((3, "107"), (4, "108")):
            img = (more / f"{finger}_{impression}.png").read_bytes()
            codes.append(api.post(f"/v1/guards/{guard_id}/fingers/{position}",
                                  files={"image": ("f.png", img, "image/png")}).status_code)
        return codes

    capture(regulator, banned["id"], 1)
    regulator.post("/v1/bans", json={"id_number": banned["id_number"], "reason": "违规"})
    operator = make_principal(runtime, client, "company_operator", company_id=company["id"])
    newcomer = operator.make_guard(company["id"])  # same person, another ID number
    # Held at the latest when the fingers arrive (a face alone does not hold at city
    # scale, docs/dedup.md).
    assert 202 in capture(operator, newcomer["id"], 2)
    review = next(r for r in regulator.get("/v1/biometrics/reviews?limit=200").json()["items"]
                  if r["guard_id"] == newcomer["id"])
    assert review["banned_match"] is True
    assert banned["id"] in [c["guard_id"] for c in review["candidates"] if c["banned"]]


def test_revoked_licence_ends_employment_and_verification_says_so(regulator: Api,
                                                                   officer: Api,
                                                                   runtime: Any) -> None:
    company = regulator.make_company()
    guard = make_issuable_guard(regulator, company["id"])
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    resp = regulator.post(f"/v1/companies/{company['id']}/licence/revoke",
                          json={"reason": "违法经营"})
    assert resp.status_code == 200
    assert resp.json()["status"] == "revoked"
    history = regulator.get(f"/v1/guards/{guard['id']}/employment").json()["items"]
    assert history[-1]["ended_on"] is not None
    assert history[-1]["end_reason"] == "employer licence revoked"
    verdict = officer.post("/v1/verifications", json={"text": cert["text"]}).json()
    assert verdict["verdict"] == "valid"  # the certificate is personal
    assert verdict["employer"] is None
    assert verdict["employer_note"] == "no active employer"
    assert verdict["permitted_services"] == []
    blocked = regulator.post("/v1/guards", json={"name": "新人", "id_number": random_id_number(),
                                                 "company_id": company["id"]})
    assert blocked.status_code == 422
    assert blocked.json()["reason"] == "company-not-active"
    events = regulator.get(f"/v1/audit/events?target_type=company&target_id={company['id']}"
                           ).json()["items"]
    revoke_events = [e for e in events if e["action"] == "company.licence_revoke"]
    assert len(revoke_events) == 1
    # The audit log (regulator only) keeps database ids.
    assert revoke_events[0]["data"]["employments_ended"] == [
        internal_guard_id(runtime, guard["id"])]
    again = regulator.post(f"/v1/companies/{company['id']}/licence/reinstate",
                           json={"reason": "x"})
    assert again.status_code == 409


def _armed(regulator: Api, guard_id: int) -> dict[str, Any]:
    return dict(regulator.get(f"/v1/guards/{guard_id}/services/armed-escort").json())


def test_armed_escort_conditions(regulator: Api) -> None:
    company = regulator.make_company(armed_escort=True)
    guard = regulator.make_guard(company["id"])
    level5 = _armed(regulator, guard["id"])
    assert level5["allowed"] is False
    assert any("skill level" in r for r in level5["reasons"])
    regulator.patch(f"/v1/guards/{guard['id']}", json={"skill_level": 2})
    regulator.post(f"/v1/guards/{guard['id']}/qualifications",
                   json={"kind": "firearm-licence", "valid_from": "2026-01-01",
                         "valid_until": "2099-01-01"})
    no_psych = _armed(regulator, guard["id"])
    assert no_psych["allowed"] is False
    assert no_psych["reasons"] == ["no psychological assessment within the last year"]
    old = (TODAY - dt.timedelta(days=400)).isoformat()
    regulator.post(f"/v1/guards/{guard['id']}/qualifications",
                   json={"kind": "psych-assessment", "valid_from": old})
    assert _armed(regulator, guard["id"])["allowed"] is False
    regulator.post(f"/v1/guards/{guard['id']}/qualifications",
                   json={"kind": "psych-assessment",
                         "valid_from": (TODAY - dt.timedelta(days=30)).isoformat()})
    assert _armed(regulator, guard["id"]) | {"checked_at": None} == {
        "guard_id": guard["id"], "service": "armed-escort", "allowed": True, "reasons": [],
        "policy_version": _armed(regulator, guard["id"])["policy_version"], "checked_at": None}
    # A 19-year-old with the same qualifications is refused for age.
    young = regulator.make_guard(company["id"], id_number=make_resident_id(
        "120101", dt.date(TODAY.year - 19, 1, 1), secrets.randbelow(999)))
    regulator.patch(f"/v1/guards/{young['id']}", json={"skill_level": 1})
    for kind in ("firearm-licence", "psych-assessment"):
        regulator.post(f"/v1/guards/{young['id']}/qualifications",
                       json={"kind": kind, "valid_from": TODAY.isoformat()})
    verdict = _armed(regulator, young["id"])
    assert verdict["allowed"] is False
    assert verdict["reasons"] == ["needs age 20 or older (guard is 19)"]
    # An administrative detention disqualifies.
    regulator.patch(f"/v1/guards/{guard['id']}", json={"administrative_detentions": 1})
    assert "administrative detention" in " ".join(_armed(regulator, guard["id"])["reasons"])
    # Ordinary patrol is open to level 5.
    assert regulator.get(f"/v1/guards/{young['id']}/services/ordinary-patrol").json()["allowed"]


def test_policy_table_is_versioned_and_editable(regulator: Api, client: Any) -> None:
    current = client.get("/v1/service-policy").json()
    services = [{k: s[k] for k in ("service", "lowest_level", "min_age", "requires",
                                   "description")} for s in current["services"]]
    for s in services:
        if s["service"] == "large-event-security":
            s["lowest_level"] = 4
    resp = regulator.put("/v1/service-policy", json={"services": services})
    assert resp.status_code == 200
    assert resp.json()["version"] == current["version"] + 1
    after = client.get("/v1/service-policy").json()
    rule = next(s for s in after["services"] if s["service"] == "large-event-security")
    assert rule["lowest_level"] == 4
    assert len(after["versions"]) == len(current["versions"]) + 1


def test_credit_grades_and_projects(regulator: Api, runtime: Any, client: Any) -> None:
    company = regulator.make_company()
    cid = company["id"]
    operator = make_principal(runtime, client, "company_operator", company_id=cid)
    project = {"name": "商场安保", "service": "ordinary-patrol", "client": "商场",
               "starts_on": TODAY.isoformat()}
    assert operator.post(f"/v1/companies/{cid}/service-projects", json=project).status_code == 201
    entry = regulator.post(f"/v1/companies/{cid}/credit-events", json={
        "points": -120, "kind": "violation", "reason": "未持证上岗", "evidence": "检查记录 12",
        "occurred_on": TODAY.isoformat()})
    assert entry.status_code == 201
    assert entry.json()["grade"] == "B"  # 880
    big = regulator.post(f"/v1/companies/{cid}/credit-events", json={
        "points": -250, "kind": "violation", "reason": "重大违规",
        "occurred_on": TODAY.isoformat()}).json()
    assert big["grade"] == "D"  # 630
    refused = operator.post(f"/v1/companies/{cid}/service-projects", json=project)
    assert refused.status_code == 422
    assert refused.json()["reason"] == "credit-grade"
    # An objection suspends the entry until the regulator rules.
    objection = operator.post(f"/v1/credit-entries/{big['id']}/objection",
                              json={"reason": "证据不足"})
    assert objection.json()["dispute"] == "pending"
    ledger = operator.get(f"/v1/companies/{cid}/credit").json()
    assert (ledger["total"], ledger["grade"]) == (880, "B")
    ruling = regulator.post(f"/v1/credit-entries/{big['id']}/ruling", json={"uphold": False})
    assert ruling.json()["dispute"] == "dismissed"
    assert operator.get(f"/v1/companies/{cid}/credit").json()["grade"] == "D"
    public = client.get(f"/v1/public/companies?q={company['credit_code']}").json()["items"]
    assert public[0]["credit_grade"] == "D"
    other = make_principal(runtime, client, "company_operator",
                           company_id=regulator.make_company()["id"])
    assert other.post(f"/v1/credit-entries/{entry.json()['id']}/objection",
                      json={"reason": "x"}).status_code == 404


def test_lists_are_recorded_and_public(regulator: Api, client: Any) -> None:
    company = regulator.make_company()
    resp = regulator.post(f"/v1/companies/{company['id']}/lists",
                          json={"list": "black", "reason": "欠薪"})
    assert resp.status_code == 201
    public = client.get(f"/v1/public/companies?q={company['credit_code']}").json()["items"][0]
    assert public["black_list"] is True
    regulator.post(f"/v1/companies/{company['id']}/lists/black/remove", json={"reason": "整改"})
    entries = regulator.get(f"/v1/companies/{company['id']}/lists").json()["items"]
    assert entries[0]["removed_on"] is not None


def test_capture_rate_matches_a_hand_computed_fixture(regulator: Api) -> None:
    district = f"测试区{secrets.token_hex(3)}"
    a = regulator.make_company(district=district)
    b = regulator.make_company(district=district)
    full = make_issuable_guard(regulator, a["id"])           # captured, eligible, certified
    regulator.post(f"/v1/guards/{full['id']}/certificate")
    captured = make_issuable_guard(regulator, a["id"])       # captured, eligible, no cert
    photo_only = regulator.make_guard(a["id"])               # photo only
    regulator.post(f"/v1/guards/{photo_only['id']}/face", files={
        "photo": ("p.jpg", (PEOPLE / "Zhang_Ziyi_0001_x2.jpg").read_bytes(), "image/jpeg")})
    for review in regulator.get("/v1/biometrics/reviews?limit=200").json()["items"]:
        if review["guard_id"] == photo_only["id"]:  # other tests enrolled this face too
            regulator.post(f"/v1/biometrics/reviews/{review['id']}/decision",
                           json={"approve": True})
    regulator.make_guard(b["id"])                            # nothing captured
    rows = {r["key"]: r for r in regulator.get("/v1/stats/capture-rate?by=district").json()[
        "items"]}
    d = rows[district]
    assert (d["active_guards"], d["with_photo"], d["with_two_fingers"], d["captured"]) == \
        (4, 3, 2, 2)
    assert d["capture_rate"] == 0.5
    assert (d["eligible"], d["eligible_with_certificate"], d["certificate_rate"]) == (2, 1, 0.5)
    by_company = {r["key"]: r for r in regulator.get("/v1/stats/capture-rate?by=company").json()[
        "items"]}
    assert by_company[str(a["id"])]["capture_rate"] == round(2 / 3, 4)
    assert by_company[str(b["id"])]["capture_rate"] == 0.0
    del captured


FORBIDDEN_PUBLIC = ("id_number", "phone", "birth_date", "photo", "biometric", "template",
                    "guard_id", "embedding")


def test_public_endpoints_leak_nothing_personal(regulator: Api, client: Any) -> None:
    company = regulator.make_company()
    guard = make_issuable_guard(regulator, company["id"])
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    found = client.get(f"/v1/public/certificates/{cert['number']}")
    assert found.status_code == 200
    assert set(found.json()) == {"number", "valid", "status", "guard_name", "skill_level",
                                 "employer_name", "expires_at"}
    companies = client.get(f"/v1/public/companies?q={company['name']}").json()["items"]
    assert set(companies[0]) == {"name", "credit_code", "kind", "status", "credit_grade",
                                 "red_list", "black_list", "abnormal_operations", "district",
                                 "licence_number"}
    for text in (found.text, json.dumps(companies)):
        assert guard["id_number"] not in text
        assert guard["phone"] not in text
        for word in FORBIDDEN_PUBLIC:
            assert f'"{word}"' not in text
    assert client.get("/v1/public/certificates/1201202600000019").status_code == 422
    assert client.get("/v1/public/certificates/1201299999999990").status_code in (404, 422)


def _pdf_words(pdf: Path) -> list[tuple[str, float, float, float, float]]:
    """Word boxes from the PDF's own text layout (poppler's pdftotext -bbox), in points
    with the origin at the top left."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True,
                          text=True, check=True, timeout=60).stdout
    words = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" '
                       r'yMax="([\d.]+)">([^<]*)</word>', html)
    return [(w, float(a), float(b), float(c), float(d)) for a, b, c, d, w in words]


@pytest.mark.parametrize("employer", ["天津市保安服务总公司",
                                      "天津市滨海新区某某某某某某物业管理及安全技术防范服务有限公司"])
def test_card_pdf_prints_every_element_apart_with_fonts_embedded_and_a_valid_qr(
        regulator: Api, officer: Api, runtime: Any, client: Any, tmp_path: Path,
        employer: str) -> None:
    from api.card import CARD_H, layout

    boxes = layout()
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)
    company = regulator.make_company(name=employer)
    guard = make_issuable_guard(regulator, company["id"])
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    me = make_principal(runtime, client, "guard", guard_id=guard["id"])
    pdf = me.get("/v1/me/card.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    path = tmp_path / "card.pdf"
    path.write_bytes(pdf.content)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                           check=True, timeout=60).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts  # emb column
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(path), str(tmp_path / "page")],
                   check=True, timeout=60)
    img = Image.open(next(tmp_path.glob("page*.png")))
    assert abs(img.size[0] - 85.6 / 25.4 * 150) < 3  # ID-1: 85.6 mm wide
    buf = io.BytesIO()
    img.save(buf, "PNG")
    text = qr.decode_image(buf.getvalue())
    # The card carries its own credential (card18): number <certificate>-C1, verdict "card".
    cards = regulator.get(f"/v1/guards/{guard['id']}/cards").json()["items"]
    assert [c["number"] for c in cards] == [cert["number"] + "-C1"]
    assert text == regulator.get(f"/v1/certificates/{cards[0]['number']}").json()["text"]
    assert officer.post("/v1/verifications", json={"text": text}).json()["verdict"] == "card"
    # No word of the PDF's own text layout touches the QR or the photo.
    by_name = {b.name: b for b in boxes}
    words = _pdf_words(path)
    joined = "".join(w for w, *_ in words)
    assert cert["number"] in joined and guard["name"] in joined
    assert "status" not in joined.lower()  # a card cannot know its status
    for name in ("qr", "photo"):
        b = by_name[name]
        top, bottom = CARD_H - (b.y + b.h), CARD_H - b.y  # to the top-left origin
        for word, x0, y0, x1, y1 in words:
            clear = x1 <= b.x or x0 >= b.x + b.w or y1 <= top or y0 >= bottom
            assert clear, (name, word, (x0, y0, x1, y1))
    staff = regulator.get(f"/v1/guards/{guard['id']}/card.pdf")
    assert staff.status_code == 200


def test_operator_lists_show_masked_id_numbers(regulator: Api, runtime: Any,
                                              client: Any) -> None:
    company = regulator.make_company()
    operator = make_principal(runtime, client, "company_operator", company_id=company["id"])
    capture_guard = operator.make_guard(company["id"])
    items = operator.get("/v1/guards").json()["items"]
    assert all("id_number" not in g for g in items)
    assert any(g["id"] == capture_guard["id"] for g in items)
