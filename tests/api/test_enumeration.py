"""Enumeration (issue 14): opaque ids in URLs and responses, officer data only through a
certificate number, rate limits on 1:1 biometric checks (per principal) and on the
public certificate-number check (per client; on a running service)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.runtime import Runtime
from registry.settings import Settings
from tests.api.live_server import serve
from tests.conftest import (
    FINGERS,
    PEOPLE,
    Api,
    Clock,
    internal_guard_id,
    make_issuable_guard,
    make_principal,
)

PER_MIN = 1  # a burst of one, then one token a minute: far longer than any call here


def _is_public_id(value: Any) -> bool:
    if not isinstance(value, str) or value.isdigit():
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _ids_in(doc: Any) -> list[tuple[str, Any]]:
    """Every ``id`` / ``guard_id`` / ``request_id`` value anywhere in a JSON document."""
    found: list[tuple[str, Any]] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in ("id", "guard_id", "request_id") and value is not None:
                found.append((key, value))
            found.extend(_ids_in(value))
    elif isinstance(doc, list):
        for item in doc:
            found.extend(_ids_in(item))
    return found


def _problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    return body


@pytest.fixture(scope="module")
def issued(runtime: Runtime, client: TestClient, regulator: Api) -> dict[str, Any]:
    company = regulator.make_company()
    guard = make_issuable_guard(regulator, company["id"])
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate")
    assert cert.status_code == 201, cert.text
    operator = make_principal(runtime, client, "company_operator", company_id=company["id"])
    return {"company": company, "guard": guard, "cert": cert.json(), "operator": operator}


# -- opaque identifiers -------------------------------------------------------------------
def test_guards_are_named_by_public_ids_only(runtime: Runtime, regulator: Api,
                                             issued: dict[str, Any]) -> None:
    guard, operator = issued["guard"], issued["operator"]
    assert _is_public_id(guard["id"])
    # A second enrollment of the same face and finger: held for review, naming the first.
    twin = regulator.make_guard(issued["company"]["id"])
    photo = (PEOPLE / "Jiang_Zemin_0001_x2.jpg").read_bytes()
    regulator.post(f"/v1/guards/{twin['id']}/face",
                   files={"photo": ("p.jpg", photo, "image/jpeg")})
    held = regulator.post(f"/v1/guards/{twin['id']}/fingers/2", files={
        "image": ("f.png", (FINGERS / "101_1.png").read_bytes(), "image/png")})
    assert held.status_code == 202, held.text
    assert held.json()["guard_id"] == twin["id"]
    assert guard["id"] in [c["guard_id"] for c in held.json()["candidates"]]
    internal = internal_guard_id(runtime, guard["id"])
    assert regulator.get(f"/v1/guards/{guard['id']}").status_code == 200
    # The internal number, a neighbour's, a random UUID, junk: all the same 404.
    for probe in (str(internal), str(internal + 1), str(uuid.uuid4()), "1e3", "%20"):
        for api in (regulator, operator):
            _problem(api.get(f"/v1/guards/{probe}"), 404)
            _problem(api.get(f"/v1/guards/{probe}/certificates"), 404)
    # No response names a guard, a certificate request or a review by an internal number.
    for path in (f"/v1/guards/{guard['id']}", "/v1/guards?limit=200&include=capture",
                 f"/v1/guards/{guard['id']}/certificates", f"/v1/guards/{guard['id']}/biometrics",
                 f"/v1/certificates/{issued['cert']['number']}",
                 f"/v1/guards/{guard['id']}/services/ordinary-patrol",
                 "/v1/biometrics/reviews?status=pending&limit=200"):
        for api in (regulator, operator):
            resp = api.get(path)
            if resp.status_code == 403:
                continue
            assert resp.status_code == 200, f"{path}: {resp.text}"
            ids = _ids_in(resp.json())
            assert ids, path
            bad = [(k, v) for k, v in ids if not _is_public_id(v)
                   and not (k == "id" and path.startswith("/v1/biometrics"))]
            assert bad == [], f"{path}: {bad}"
    assert issued["cert"]["guard_id"] == guard["id"]


def test_routes_added_since_name_guards_by_public_ids_too(runtime: Runtime, regulator: Api,
                                                           issued: dict[str, Any]) -> None:
    """Eligibility, cards, exams, the regulator console, review evidence and retention
    (issues 15, 18, 19 and the web consoles) follow the same rule: public ids in URLs and
    answers; an internal number answers 404 like any unknown id."""
    guard, operator = issued["guard"], issued["operator"]
    gid, internal = guard["id"], internal_guard_id(runtime, guard["id"])
    for api in (regulator, operator):
        elig = api.get(f"/v1/guards/{gid}/eligibility")
        assert elig.status_code == 200, elig.text
        assert elig.json()["guard_id"] == gid
        _problem(api.get(f"/v1/guards/{internal}/eligibility"), 404)
        _problem(api.get(f"/v1/guards/{internal}/cards"), 404)
        _problem(api.get(f"/v1/guards/{internal}/exams"), 404)
        assert api.get(f"/v1/guards/{gid}/exams").status_code == 200
    card = operator.post(f"/v1/guards/{gid}/cards", json={})
    assert card.status_code == 201, card.text
    assert card.json()["guard_id"] == gid
    cards = operator.get(f"/v1/guards/{gid}/cards").json()["items"]
    assert cards and all(c["guard_id"] == gid for c in cards)
    _problem(regulator.post(f"/v1/guards/{internal}/cards", json={}), 404)
    # The console finds a guard by its public id, never by the internal number.
    found = regulator.get(f"/v1/console/guards?q={gid}").json()
    assert found["matched_by"] == "guard_id" and [h["id"] for h in found["items"]] == [gid]
    by_number = regulator.get(f"/v1/console/guards?q={internal}").json()
    assert all(_is_public_id(h["id"]) for h in by_number["items"])
    assert gid not in [h["id"] for h in by_number["items"]]
    assert regulator.get(f"/v1/console/guards/{gid}/bans").status_code == 200
    _problem(regulator.get(f"/v1/console/guards/{internal}/bans"), 404)
    export = regulator.get("/v1/console/exports/guards.csv")
    assert export.status_code == 200
    assert gid in export.text and f"\n{internal}," not in export.text
    # A held duplicate's evidence names both identities by public id, portraits too.
    twin = regulator.make_guard(issued["company"]["id"])
    photo = (PEOPLE / "Jiang_Zemin_0001_x2.jpg").read_bytes()
    regulator.post(f"/v1/guards/{twin['id']}/face",
                   files={"photo": ("p.jpg", photo, "image/jpeg")})
    held = regulator.post(f"/v1/guards/{twin['id']}/fingers/2", files={
        "image": ("f.png", (FINGERS / "101_1.png").read_bytes(), "image/png")})
    assert held.status_code == 202, held.text
    reviews = regulator.get("/v1/biometrics/reviews?status=pending&limit=200").json()["items"]
    review = next(r for r in reviews if r["guard_id"] == twin["id"])
    evidence = regulator.get(f"/v1/biometrics/reviews/{review['id']}/evidence")
    assert evidence.status_code == 200, evidence.text
    body = evidence.json()
    assert body["held"]["guard_id"] == twin["id"]
    named = [c["identity"]["guard_id"] for c in body["candidates"] if c["identity"]]
    assert gid in named and all(_is_public_id(g) for g in named)
    portrait = regulator.get(f"/v1/biometrics/reviews/{review['id']}/portraits/{gid}")
    assert portrait.status_code == 200 and portrait.headers["content-type"] == "image/jpeg"
    _problem(regulator.get(f"/v1/biometrics/reviews/{review['id']}/portraits/{internal}"), 404)
    report = regulator.get(f"/v1/retention/report?guard_id={gid}")
    assert report.status_code == 200, report.text
    assert all(r["guard_id"] == gid for r in report.json()["items"])


def test_issuance_requests_are_named_by_public_ids(regulator: Api, runtime: Runtime,
                                                   client: TestClient) -> None:
    company = regulator.make_company()
    guard = make_issuable_guard(regulator, company["id"])
    operator = make_principal(runtime, client, "company_operator", company_id=company["id"])
    made = operator.post(f"/v1/guards/{guard['id']}/certificate-requests", json={"note": "x"})
    assert made.status_code == 201, made.text
    request = made.json()
    assert _is_public_id(request["id"]) and request["guard_id"] == guard["id"]
    listed = regulator.get("/v1/certificate-requests?status=pending&limit=200").json()["items"]
    assert request["id"] in [r["id"] for r in listed]
    assert all(_is_public_id(r["id"]) and _is_public_id(r["guard_id"]) for r in listed)
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT id FROM certificates_issuance_request WHERE public_id = %s",
                    (request["id"],))
        row = cur.fetchone()
    assert row is not None
    _problem(regulator.post(f"/v1/certificate-requests/{row['id']}/decision",
                            json={"approve": False}), 404)
    decided = regulator.post(f"/v1/certificate-requests/{request['id']}/decision",
                             json={"approve": True})
    assert decided.status_code == 200, decided.text
    assert decided.json()["request_id"] == request["id"]
    assert decided.json()["certificate"]["guard_id"] == guard["id"]
    mine = operator.get("/v1/certificate-requests?status=approved").json()["items"]
    assert [r["certificate_number"] for r in mine if r["id"] == request["id"]] == [
        decided.json()["certificate"]["number"]]


# -- officers: a certificate number, never a guard id ----------------------------------------
def test_an_officer_reaches_guard_data_only_through_a_certificate_number(
        officer: Api, issued: dict[str, Any]) -> None:
    gid, number = issued["guard"]["id"], issued["cert"]["number"]
    face = (PEOPLE / "Jiang_Zemin_0002_x2.jpg").read_bytes()
    for method, path, kw in (
            ("GET", f"/v1/guards/{gid}", {}),
            ("GET", f"/v1/guards/{gid}/services/armed-escort", {}),
            ("POST", f"/v1/guards/{gid}/face/verify",
             {"files": {"photo": ("p.jpg", face, "image/jpeg")}}),
            ("POST", f"/v1/guards/{gid}/fingers/verify",
             {"files": {"image": ("f.png", b"x", "image/png")}})):
        resp = officer.request(method, path, **kw)
        assert resp.status_code in (403, 404), f"{method} {path}: {resp.status_code}"
        assert issued["guard"]["name"] not in resp.text
    # Through the number on the card (scanned or typed, any case and spacing):
    allowed = officer.get(f"/v1/certificates/{number.lower()}/services/armed-escort")
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["number"] == number and "guard_id" not in allowed.json()
    assert allowed.json()["allowed"] is False  # an ordinary company: no armed escort
    same = officer.post(f"/v1/certificates/{number}/face/verify",
                        files={"photo": ("p.jpg", face, "image/jpeg")})
    assert same.status_code == 200, same.text
    assert same.json()["match"] is True and same.json()["number"] == number
    assert "guard_id" not in same.json()
    # An unknown or unsigned number is a 404, like anything not there.
    _problem(officer.get("/v1/certificates/1201202699999995/services/armed-escort"), 404)
    # Staff keep the same routes within their reach: another company's card is a 404.
    assert issued["operator"].get(
        f"/v1/certificates/{number}/services/ordinary-patrol").status_code == 200


# -- rate limits ------------------------------------------------------------------------------
def _limited(runtime: Runtime) -> Runtime:
    settings = Settings(mode="test", database_url=runtime.settings.database_url,
                        data_dir=runtime.settings.data_dir,
                        rate_limit_biometric_verify_per_min=PER_MIN,
                        rate_limit_public_certificate_per_min=PER_MIN,
                        rate_limit_officer_lookup_per_min=PER_MIN)
    return Runtime(settings=settings, db=runtime.db, embedded=None, certs=runtime.certs)


@pytest.fixture(scope="module")
def limited(runtime: Runtime) -> Iterator[tuple[Runtime, Any]]:
    rt = _limited(runtime)
    yield rt, create_app(runtime=rt, clock=Clock())
    if rt.work is not None:
        rt.work.close()


def _limited_problem(resp: Any) -> None:
    body = _problem(resp, 429)
    assert body["type"].endswith("rate-limited")
    assert int(resp.headers["retry-after"]) >= 1


def test_one_to_one_checks_are_limited_per_principal(
        limited: tuple[Runtime, Any], issued: dict[str, Any]) -> None:
    rt, app = limited
    number, gid = issued["cert"]["number"], issued["guard"]["id"]
    finger = {"image": ("f.png", (FINGERS / "101_2.png").read_bytes(), "image/png")}
    face = {"photo": ("p.jpg", (PEOPLE / "Jiang_Zemin_0002_x2.jpg").read_bytes(), "image/jpeg")}
    with TestClient(app, raise_server_exceptions=False) as c:
        one = make_principal(rt, c, "checkpoint_officer")
        two = make_principal(rt, c, "checkpoint_officer")
        # Start the image workers first (models load once), with a principal of its own.
        warm = make_principal(rt, c, "regulator")
        assert warm.post(f"/v1/guards/{gid}/face/verify", files=face).status_code == 200
        first = one.post(f"/v1/certificates/{number}/fingers/verify", files=finger,
                         data={"dpi": "500"})
        assert first.status_code == 200, first.text
        assert first.json()["match"] is True
        # Face and finger share one budget: the next check of either kind is refused.
        limited_resp = one.post(f"/v1/certificates/{number}/face/verify", files=face)
        _limited_problem(limited_resp)
        # Retry-After says when the next token comes (not a fixed 1 s).
        assert 1 < int(limited_resp.headers["retry-after"]) <= 60 // PER_MIN
        _limited_problem(one.post(f"/v1/certificates/{number}/fingers/verify", files=finger))
        # Eligibility look-ups by number have their own per-principal limit.
        assert one.get(f"/v1/certificates/{number}/services/armed-escort").status_code == 200
        _limited_problem(one.get(f"/v1/certificates/{number}/services/armed-escort"))
        # Another principal has its own bucket.
        assert two.post(f"/v1/certificates/{number}/face/verify",
                        files=face).status_code == 200
        # Staff are limited on the guard-id routes too (``warm`` spent its token above).
        _limited_problem(warm.post(f"/v1/guards/{gid}/fingers/verify", files=finger,
                                   data={"dpi": "500"}))


def test_the_public_number_check_is_limited_per_client_on_a_running_service(
        limited: tuple[Runtime, Any], issued: dict[str, Any]) -> None:
    _, app = limited
    number = issued["cert"]["number"]
    with serve(app) as base:
        first = httpx.get(f"{base}/v1/public/certificates/{number}", timeout=60)
        assert first.status_code == 200, first.text
        assert first.json()["valid"] is True
        second = httpx.get(f"{base}/v1/public/certificates/{number}", timeout=60)
        _limited_problem(second)
        # A harvester gets nothing more from the next number either.
        third = httpx.get(f"{base}/v1/public/certificates/1201202600000018", timeout=60)
        _limited_problem(third)
        assert issued["guard"]["name"] not in second.text + third.text


def test_ending_an_employment_names_the_guard_by_its_public_id(regulator: Api) -> None:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    ended = regulator.post(f"/v1/guards/{guard['id']}/employment/end", json={"reason": "quit"})
    assert ended.status_code == 200, ended.text
    assert ended.json()["guard_id"] == guard["id"]
