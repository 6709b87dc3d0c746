"""Issue 18, device binding on the running service: a guard's phone binds its key, the
certificate is re-issued with cnf, and only a live presentation signed by that phone
verifies (API and CLI offline); copies, replays and other phones are refused, each with
its own reason."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

import api.cli_certificates as cli_certs
from certificates.credential import inspect
from certificates.envelope import decode_text
from certificates.presentation import DeviceKey, encode_presentation, proof_input
from certificates.qr import qr_version
from tests.api.live_server import serve
from tests.api.test_trust import _offline, _sync, stack  # noqa: F401
from tests.conftest import Api, Clock, make_issuable_guard, make_principal


def _jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    n = key.public_key().public_numbers()
    b64 = base64.urlsafe_b64encode
    return {"kty": "EC", "crv": "P-256", "x": b64(n.x.to_bytes(32, "big")).decode().rstrip("="),
            "y": b64(n.y.to_bytes(32, "big")).decode().rstrip("=")}


def present(text: str, key: ec.EllipticCurvePrivateKey, t: dt.datetime,
            challenge: bytes = b"") -> str:
    """What the guard page does (api/static/guard.js), with a Python key."""
    cose = decode_text(text)
    ts = int(t.timestamp()) // 30 * 30
    r, s = decode_dss_signature(key.sign(proof_input(cose, ts, challenge),
                                         ec.ECDSA(hashes.SHA256())))
    return encode_presentation(cose, ts, challenge, r.to_bytes(32, "big") + s.to_bytes(32, "big"))


@pytest.fixture
def bound(runtime: Any, client: Any, regulator: Api) -> dict[str, Any]:
    company = regulator.make_company()
    guard = make_issuable_guard(regulator, company["id"])
    first = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    me = make_principal(runtime, client, "guard", guard_id=guard["id"])
    phone = ec.generate_private_key(ec.SECP256R1())
    resp = me.post("/v1/me/device-key", json=_jwk(phone))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["certificate"]["done"] and body["certificate"]["number"] != first["number"]
    assert body["replaced_previous"] is False
    mine = me.get("/v1/me/certificate").json()
    return {"guard": guard, "company": company, "me": me, "phone": phone, "first": first,
            "cert": mine, "body": body}


def test_binding_reissues_with_cnf_and_only_a_live_proof_verifies(
        bound: dict[str, Any], officer: Api, clock: Clock) -> None:
    text, phone = bound["cert"]["text"], bound["phone"]
    claims = inspect(text)[1]
    assert claims.device_key == DeviceKey.from_public_key(phone.public_key())
    # The old, unbound certificate was superseded.
    old = officer.post("/v1/verifications", json={"text": bound["first"]["text"]}).json()
    assert old["verdict"] == "revoked"

    def check(t: str, **kw: Any) -> dict[str, Any]:
        resp = officer.post("/v1/verifications", json={"text": t, **kw})
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    static = check(text)
    assert static["verdict"] == "no-device-proof", static
    assert static["detail"] == "copy: no live device proof"
    assert static["certificate"]["number"] == bound["cert"]["number"]
    live = present(text, phone, clock.now)
    assert qr_version(live) <= 20
    assert check(live)["verdict"] == "valid"
    # replayed after its window; signed by another phone; the wrong challenge
    assert check(present(text, phone, clock.now - dt.timedelta(minutes=2)))["verdict"] \
        == "proof-expired"
    other = ec.generate_private_key(ec.SECP256R1())
    assert check(present(text, other, clock.now))["verdict"] == "device-mismatch"
    with_challenge = present(text, phone, clock.now, b"AB12")
    assert check(with_challenge, challenge="AB12")["verdict"] == "valid"
    assert check(with_challenge, challenge="ZZ99")["verdict"] == "challenge-mismatch"
    assert check(live, challenge="AB12")["verdict"] == "challenge-mismatch"


def test_rebinding_only_by_the_guard_or_the_regulator_revokes_the_old_device(
        bound: dict[str, Any], officer: Api, regulator: Api, runtime: Any, client: Any,
        clock: Clock) -> None:
    guard_id = bound["guard"]["id"]
    operator = make_principal(runtime, client, "company_operator",
                              company_id=bound["company"]["id"])
    new_phone = ec.generate_private_key(ec.SECP256R1())
    assert operator.post(f"/v1/guards/{guard_id}/device-key",
                         json=_jwk(new_phone)).status_code == 403
    assert bound["me"].post(f"/v1/guards/{guard_id}/device-key",
                            json=_jwk(new_phone)).status_code == 403
    bad = dict(_jwk(new_phone), y=_jwk(new_phone)["x"])  # not on the curve
    assert regulator.post(f"/v1/guards/{guard_id}/device-key", json=bad).status_code == 400
    resp = regulator.post(f"/v1/guards/{guard_id}/device-key", json=_jwk(new_phone))
    assert resp.status_code == 200, resp.text
    assert resp.json()["replaced_previous"] is True
    # The lost phone's live proof of its certificate is now refused: that certificate
    # (the one carrying the old key) is revoked in the status data.
    lost = present(bound["cert"]["text"], bound["phone"], clock.now)
    assert officer.post("/v1/verifications", json={"text": lost}).json()["verdict"] == "revoked"
    fresh = bound["me"].get("/v1/me/certificate").json()
    assert inspect(fresh["text"])[1].device_key == DeviceKey.from_public_key(
        new_phone.public_key())
    assert officer.post("/v1/verifications", json={
        "text": present(fresh["text"], new_phone, clock.now)}).json()["verdict"] == "valid"


def test_cli_offline_verifies_a_rotating_presentation(
        stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """On its own stack (clock, database, keys): the session clock other tests move
    would put the synced lists ahead of this test's time (clock-wrong, rightly)."""
    rt, client, clock = stack
    reg = make_principal(rt, client, "regulator")
    guard = make_issuable_guard(reg, reg.make_company()["id"])
    assert reg.post(f"/v1/guards/{guard['id']}/certificate").status_code == 201
    me = make_principal(rt, client, "guard", guard_id=guard["id"])
    phone = ec.generate_private_key(ec.SECP256R1())
    assert me.post("/v1/me/device-key", json=_jwk(phone)).status_code == 200
    text = me.get("/v1/me/certificate").json()["text"]
    cache = tmp_path / "cache"
    with serve(client.app) as base:
        anchor = base64.b64encode(rt.certs.keyring.active("trust-list").spki).decode()
        assert _sync(base, cache, "--anchor", anchor).exit_code == 0
    monkeypatch.setattr(cli_certs, "_now", lambda: clock.now)
    assert _offline(present(text, phone, clock.now), cache)["verdict"] == "valid"
    assert _offline(text, cache)["verdict"] == "no-device-proof"
    assert _offline(present(text, phone, clock.now - dt.timedelta(minutes=2)), cache
                    )["verdict"] == "proof-expired"
    other = ec.generate_private_key(ec.SECP256R1())
    assert _offline(present(text, other, clock.now), cache)["verdict"] == "device-mismatch"


def test_a_guard_binds_a_first_phone_but_only_the_regulator_moves_it(
        bound: dict[str, Any], officer: Api, clock: Clock) -> None:
    # Issue 18: re-binding only by the regulator (guards have no second factor): a
    # password alone must not move the certificate away from the phone it is bound to.
    me, phone = bound["me"], bound["phone"]
    again = me.post("/v1/me/device-key", json=_jwk(phone))  # the same phone: harmless
    assert again.status_code == 200, again.text
    thief = ec.generate_private_key(ec.SECP256R1())
    refused = me.post("/v1/me/device-key", json=_jwk(thief))
    assert refused.status_code == 409, refused.text
    assert refused.json()["reason"] == "rebind-by-regulator"
    assert "public security bureau" in refused.json()["detail"]
    mine = me.get("/v1/me/certificate").json()
    assert inspect(mine["text"])[1].device_key == DeviceKey.from_public_key(phone.public_key())
    assert officer.post("/v1/verifications", json={
        "text": present(mine["text"], phone, clock.now)}).json()["verdict"] == "valid"
    assert officer.post("/v1/verifications", json={
        "text": present(mine["text"], thief, clock.now)}).json()["verdict"] != "valid"
