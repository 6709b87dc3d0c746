"""Issue 5 journey on the real stack: issue, verify online and offline, suspend,
reinstate, revoke, sync, re-issue."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from api.cli import main
from certificates import qr
from certificates.statuslist import REVOKED, SUSPENDED, VALID, verify_status_list_token
from certificates.trustlist import verify_trust_list
from registry.settings import reset_settings_cache
from tests.api.live_server import serve
from tests.conftest import (
    Api,
    capture_biometrics,
    make_issuable_guard,
    make_principal,
    record_exam_pass,
)


@pytest.fixture
def cli_env(runtime: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
            clock: Any) -> Path:
    import api.cli_certificates as cli_certs

    # The CLI's clock is the service's (the session clock other tests move): an offline
    # verifier whose clock is behind the lists it holds answers clock-wrong.
    monkeypatch.setattr(cli_certs, "_now", clock)
    monkeypatch.setenv("DATABASE_URL", runtime.db.dsn)
    monkeypatch.setenv("GUARDREG_MODE", "test")
    monkeypatch.setenv("GUARDREG_DATA_DIR", str(runtime.settings.data_dir))
    reset_settings_cache()
    yield tmp_path / "offline-cache"
    reset_settings_cache()


def anchor(runtime: Any) -> str:
    spki = runtime.certs.keyring.list_keys("trust-list")[0].spki
    return base64.b64encode(spki).decode()


def offline_verify(cache: Path, text: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["verify", "--offline", "--cache", str(cache), "--json",
                                       text])
    return dict(json.loads(result.output.strip().splitlines()[-1]))


def sync(cache: Path, base: str, runtime: Any) -> None:
    result = CliRunner().invoke(main, ["sync", "--server", base, "--cache", str(cache),
                                       "--anchor", anchor(runtime)])
    assert result.exit_code == 0, result.output


def test_certificate_journey(app: Any, runtime: Any, regulator: Api, officer: Api,
                             client: Any, cli_env: Path) -> None:
    company = regulator.make_company()
    guard = make_issuable_guard(regulator, company["id"])
    issued = regulator.post(f"/v1/guards/{guard['id']}/certificate")
    assert issued.status_code == 201, issued.text
    cert = issued.json()
    assert cert["status"] == "valid"
    assert cert["text"].startswith("SG1:")
    assert qr.qr_version(cert["text"]) <= 18
    # Issuing again with nothing changed is idempotent.
    again = regulator.post(f"/v1/guards/{guard['id']}/certificate")
    assert again.status_code == 200
    assert again.json()["number"] == cert["number"]

    online = officer.post("/v1/verifications", json={"text": cert["text"], "location": "东站"})
    assert online.status_code == 200, online.text
    body = online.json()
    assert body["verdict"] == "valid"
    assert body["certificate"]["number"] == cert["number"]
    assert body["employer"]["licence_status"] == "active"
    assert body["photo"].startswith("data:image/jpeg;base64,")
    assert "ordinary-patrol" in body["permitted_services"]
    assert "id_number" not in json.dumps(body)

    with serve(app) as base:
        sync(cli_env, base, runtime)
        assert offline_verify(cli_env, cert["text"])["verdict"] == "valid"

        n = cert["number"]
        assert regulator.post(f"/v1/certificates/{n}/suspend",
                              json={"reason": "investigation"}).json()["status"] == "suspended"
        assert officer.post("/v1/verifications",
                            json={"text": cert["text"]}).json()["verdict"] == "suspended"
        assert regulator.post(f"/v1/certificates/{n}/reinstate").json()["status"] == "valid"
        assert officer.post("/v1/verifications",
                            json={"text": cert["text"]}).json()["verdict"] == "valid"

        revoked = regulator.post(f"/v1/certificates/{n}/revoke", json={"reason": "misconduct"})
        assert revoked.json() == {"number": n, "status": "revoked", "changed": True,
                                  "reason": "misconduct"}
        # Online sees it at once; the offline cache still holds the old list until sync.
        assert officer.post("/v1/verifications",
                            json={"text": cert["text"]}).json()["verdict"] == "revoked"
        assert offline_verify(cli_env, cert["text"])["verdict"] == "valid"
        sync(cli_env, base, runtime)
        offline = offline_verify(cli_env, cert["text"])
        assert offline["verdict"] == "revoked"
        assert offline["data_age_s"] >= 0
        # Revoking again changes nothing and says so.
        twice = regulator.post(f"/v1/certificates/{n}/revoke", json={"reason": "misconduct"})
        assert twice.json()["changed"] is False


def test_reissue_supersedes(regulator: Api, officer: Api) -> None:
    company = regulator.make_company()
    guard = make_issuable_guard(regulator, company["id"])
    first = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    # A level change re-issues at once (issue 15); asking again gives that certificate.
    patched = regulator.patch(f"/v1/guards/{guard['id']}", json={"skill_level": 3}).json()
    assert patched["reissued"] and patched["reissue_error"] is None
    second = regulator.post(f"/v1/guards/{guard['id']}/certificate")
    assert second.status_code == 200
    assert second.json()["number"] == patched["reissued"] != first["number"]
    assert second.json()["skill_level"] == 3
    old = regulator.get(f"/v1/certificates/{first['number']}").json()
    assert old["status"] == "revoked"
    assert old["status_reason"] == "superseded"
    assert officer.post("/v1/verifications",
                        json={"text": first["text"]}).json()["verdict"] == "revoked"
    assert officer.post("/v1/verifications",
                        json={"text": second.json()["text"]}).json()["verdict"] == "valid"
    # Superseding is not a sanction: the guard stays eligible (no Art. 17 record).
    third = regulator.post(f"/v1/guards/{guard['id']}/certificate")
    assert third.status_code == 200


def test_issuance_refuses_an_ineligible_guard_with_reasons(regulator: Api) -> None:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    resp = regulator.post(f"/v1/guards/{guard['id']}/certificate")
    assert resp.status_code == 422
    codes = {r["code"] for r in resp.json()["reasons"]}
    assert {"no-background-check", "no-face", "fingerprints-missing"} <= codes


def test_failed_background_check_and_ban_revoke_in_the_same_transaction(
        regulator: Api, officer: Api) -> None:
    company = regulator.make_company()
    g1 = make_issuable_guard(regulator, company["id"])
    c1 = regulator.post(f"/v1/guards/{g1['id']}/certificate").json()
    resp = regulator.post(f"/v1/guards/{g1['id']}/background-checks",
                          json={"result": "failed", "reason": "theft conviction",
                                "checked_on": dt.date.today().isoformat(),
                                "intentional_crime": True})
    assert resp.status_code == 201
    after = regulator.get(f"/v1/certificates/{c1['number']}").json()
    assert after["status"] == "revoked"
    assert after["status_reason"] == "background-check-failed"
    g2 = make_issuable_guard(regulator, company["id"])
    c2 = regulator.post(f"/v1/guards/{g2['id']}/certificate").json()
    regulator.post("/v1/bans", json={"id_number": g2["id_number"], "reason": "fraud"})
    assert regulator.get(f"/v1/certificates/{c2['number']}").json()["status_reason"] == \
        "industry-ban"
    assert officer.post("/v1/verifications",
                        json={"text": c2["text"]}).json()["verdict"] == "revoked"
    # Art. 17: a revocation for cause bars re-issuance for three years.
    regulator.post(f"/v1/bans/{_ban_id(regulator, g2['id_number'])}/lift")
    resp = regulator.post(f"/v1/guards/{g2['id']}/certificate")
    assert resp.status_code == 422
    assert "recently-revoked" in {r["code"] for r in resp.json()["reasons"]}


def _ban_id(api: Api, id_number: str) -> int:
    cursor = ""  # the first page; then the opaque next_cursor as given
    while True:
        page = api.get(f"/v1/bans?cursor={cursor}&limit=200").json()
        for ban in page["items"]:
            if ban["id_number"] == id_number and ban["lifted_at"] is None:
                return int(ban["id"])
        assert page["next_cursor"] is not None
        cursor = page["next_cursor"]


def test_roles_and_reasons_for_status_changes(regulator: Api, runtime: Any, client: Any) -> None:
    company = regulator.make_company()
    operator = make_principal(runtime, client, "company_operator", company_id=company["id"])
    other = make_principal(runtime, client, "company_operator",
                           company_id=regulator.make_company()["id"])
    guard = make_issuable_guard(regulator, company["id"])
    n = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()["number"]
    assert other.post(f"/v1/certificates/{n}/revoke",
                      json={"reason": "lost-device"}).status_code == 404
    assert other.get(f"/v1/certificates/{n}").status_code == 404
    refused = operator.post(f"/v1/certificates/{n}/revoke", json={"reason": "misconduct"})
    assert refused.status_code == 403
    assert operator.post(f"/v1/certificates/{n}/revoke",
                         json={"reason": "made-up"}).status_code == 422
    assert operator.post(f"/v1/certificates/{n}/reinstate").status_code == 403
    ok = operator.post(f"/v1/certificates/{n}/suspend", json={"reason": "lost-device"})
    assert ok.status_code == 200
    # Reinstatement only from suspended.
    assert regulator.post(f"/v1/certificates/{n}/reinstate").json()["status"] == "valid"
    regulator.post(f"/v1/certificates/{n}/revoke", json={"reason": "issued-in-error"})
    assert regulator.post(f"/v1/certificates/{n}/reinstate").status_code == 409


def test_status_list_and_trust_list_are_signed_and_current(client: Any, regulator: Api,
                                                           runtime: Any) -> None:
    company = regulator.make_company()
    guard = make_issuable_guard(regulator, company["id"])
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    ref = cert["status_ref"]
    now = dt.datetime.now(dt.UTC)
    spki = runtime.certs.keyring.list_keys("trust-list")[0].spki
    trust = verify_trust_list(client.get("/v1/trust-list").content, anchors=[spki], now=now)
    shard = ref["uri"].rsplit("/", 1)[1]
    resp = client.get(f"/v1/status-lists/{shard}")
    assert resp.headers["content-type"] == "application/statuslist+cwt"
    assert "max-age" in resp.headers["cache-control"]
    token = verify_status_list_token(resp.content, trust=trust, now=now)
    assert token.status_list.get(ref["idx"]) == VALID
    regulator.post(f"/v1/certificates/{cert['number']}/suspend", json={"reason": "investigation"})
    token = verify_status_list_token(client.get(f"/v1/status-lists/{shard}").content,
                                     trust=trust, now=now)
    assert token.status_list.get(ref["idx"]) == SUSPENDED
    regulator.post(f"/v1/certificates/{cert['number']}/revoke", json={"reason": "misconduct"})
    token = verify_status_list_token(client.get(f"/v1/status-lists/{shard}").content,
                                     trust=trust, now=now)
    assert token.status_list.get(ref["idx"]) == REVOKED
    etag = client.get(f"/v1/status-lists/{shard}").headers["etag"]
    assert client.get(f"/v1/status-lists/{shard}",
                      headers={"If-None-Match": etag}).status_code == 304


def test_verify_from_a_photo_of_the_qr(regulator: Api, officer: Api) -> None:
    company = regulator.make_company()
    guard = make_issuable_guard(regulator, company["id"])
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    png = regulator.get(f"/v1/certificates/{cert['number']}/qr.png").content
    resp = officer.post("/v1/verifications/image", files={"image": ("qr.png", png, "image/png")})
    assert resp.status_code == 200, resp.text
    assert resp.json()["verdict"] == "valid"
    garbage = officer.post("/v1/verifications/image",
                           files={"image": ("x.png", b"\x89PNG\r\n\x1a\nbroken", "image/png")})
    assert garbage.status_code in (400, 422)
    assert garbage.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("text", ["", "SG1:", "HC1:ABC", "SG1:!!!!", "x" * 5000,
                                  "SG1:" + "A" * 300])
def test_hostile_text_gets_a_verdict_not_an_error(officer: Api, text: str) -> None:
    resp = officer.post("/v1/verifications", json={"text": text})
    if not text:
        assert resp.status_code == 422
        return
    assert resp.status_code in (200, 422), resp.text
    if resp.status_code == 200:
        assert resp.json()["verdict"] in ("malformed", "oversized", "bad-signature",
                                          "unknown-key")


def test_guard_sees_own_certificate_and_qr(runtime: Any, client: Any, regulator: Api) -> None:
    company = regulator.make_company()
    guard = make_issuable_guard(regulator, company["id"])
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    me = make_principal(runtime, client, "guard", guard_id=guard["id"])
    mine = me.get("/v1/me/certificate").json()
    assert mine["number"] == cert["number"]
    svg = me.get("/v1/me/certificate/qr.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    png = me.get("/v1/me/certificate/qr.png").content
    assert qr.decode_image(png) == cert["text"]


def test_company_request_approved_by_regulator(regulator: Api, runtime: Any,
                                               client: Any) -> None:
    company = regulator.make_company()
    operator = make_principal(runtime, client, "company_operator", company_id=company["id"])
    guard = operator.make_guard(company["id"])
    capture_biometrics(operator, regulator, guard["id"])
    regulator.post(f"/v1/guards/{guard['id']}/background-checks",
                   json={"result": "clear", "checked_on": dt.date.today().isoformat()})
    record_exam_pass(regulator, guard["id"])
    req = operator.post(f"/v1/guards/{guard['id']}/certificate-requests", json={"note": "new"})
    assert req.status_code == 201
    pending = operator.get("/v1/certificate-requests").json()["items"]
    assert req.json()["id"] in [r["id"] for r in pending]
    decided = regulator.post(f"/v1/certificate-requests/{req.json()['id']}/decision",
                             json={"approve": True})
    assert decided.status_code == 200, decided.text
    assert decided.json()["certificate"]["status"] == "valid"
