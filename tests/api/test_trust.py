"""Issue 14, on a running service: a stolen key, a hostile network, a lying status row.

Each test owns its stack (database, key directory, clock): declaring a key compromised
must not leak into the other tests' keys.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from api.cli import main
from certificates.cache import OfflineCache
from certificates.credential import inspect, seal
from certificates.errors import Reason, VerificationError
from registry.settings import reset_settings_cache
from tests.api.live_server import serve
from tests.conftest import (
    Api,
    Clock,
    isolated_stack,
    make_issuable_guard,
    make_principal,
    serve_http,
)

CLI = CliRunner()


@pytest.fixture
def stack(pg_server: str, template_db: str, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, Clock]]:
    clock = Clock()
    data = tmp_path / "data"
    data.mkdir()
    with isolated_stack(pg_server, template_db, data, clock) as (rt, client):
        monkeypatch.setenv("DATABASE_URL", rt.db.dsn)
        monkeypatch.setenv("GUARDREG_MODE", "test")
        monkeypatch.setenv("GUARDREG_DATA_DIR", str(data))
        reset_settings_cache()
        yield rt, client, clock
        reset_settings_cache()


def _anchor(rt: Any) -> str:
    return base64.b64encode(rt.certs.keyring.active("trust-list").spki).decode()


def _sync(base: str, cache: Path, *extra: str) -> Any:
    return CLI.invoke(main, ["sync", "--server", base, "--cache", str(cache), *extra])


def _offline(text: str, cache: Path) -> dict[str, Any]:
    out = CLI.invoke(main, ["verify", "--offline", "--cache", str(cache), "--json", text])
    return dict(json.loads(out.output))


def _snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


def _forge(rt: Any, text: str, **changes: Any) -> str:
    """What a thief holding the certificate key signs: a copy of a real certificate with
    other claims (same status entry, so that online it would read the real one's row)."""
    from dataclasses import replace

    _, claims = inspect(text)
    kid = inspect(text)[0].kid
    assert kid is not None
    return seal(replace(claims, **changes), rt.certs.keyring.load_signer(kid))


def test_status_row_of_another_certificate_is_a_status_mismatch(stack: Any) -> None:
    rt, client, _ = stack
    reg = make_principal(rt, client, "regulator")
    officer = make_principal(rt, client, "checkpoint_officer")
    company = reg.make_company()
    guard = make_issuable_guard(reg, company["id"])
    cert = reg.post(f"/v1/guards/{guard['id']}/certificate").json()
    assert officer.post("/v1/verifications", json={"text": cert["text"]}).json()["verdict"] \
        == "valid"
    forgeries = [
        _forge(rt, cert["text"], guard_name="冒名顶替", skill_level=1),  # same number
        _forge(rt, cert["text"], certificate_number="120120269999999X"),  # other number
    ]
    for forged in forgeries:
        body = officer.post("/v1/verifications", json={"text": forged}).json()
        assert body["verdict"] == "status-mismatch", body
        # Never another guard's data: no live status, employer, photo or claims.
        assert set(body) <= {"verdict", "checked_at", "detail"}, body
        assert cert["guard_name"] not in json.dumps(body, ensure_ascii=False)


def test_key_compromise_end_to_end(stack: Any, tmp_path: Path) -> None:
    rt, client, clock = stack
    reg = make_principal(rt, client, "regulator")
    officer = make_principal(rt, client, "checkpoint_officer")
    company = reg.make_company()
    g1 = make_issuable_guard(reg, company["id"])
    g2 = make_issuable_guard(reg, company["id"])
    c1 = reg.post(f"/v1/guards/{g1['id']}/certificate").json()
    c2 = reg.post(f"/v1/guards/{g2['id']}/certificate").json()
    assert reg.post(f"/v1/certificates/{c2['number']}/suspend",
                    json={"reason": "investigation"}).status_code == 200
    kid = rt.certs.keyring.active("certificate").kid
    # The thief's certificate: back-dated (before the key is retired), level 1.
    forged = _forge(rt, c1["text"], guard_name="冒名顶替", skill_level=1,
                    issued_at=(clock.now - dt.timedelta(minutes=2)).replace(microsecond=0))
    cache = tmp_path / "cache"
    app = client.app
    with serve(app) as base:
        assert _sync(base, cache, "--anchor", _anchor(rt)).exit_code == 0
        # Before the compromise is declared, offline verification cannot tell.
        assert _offline(forged, cache)["verdict"] == "valid"

        since = clock.now - dt.timedelta(days=1)
        refused = officer.post(f"/v1/keys/{kid.hex()}/compromise",
                               json={"compromised_since": since.isoformat()})
        assert refused.status_code == 403
        declared = reg.post(f"/v1/keys/{kid.hex()}/compromise",
                            json={"compromised_since": since.isoformat()})
        assert declared.status_code == 200, declared.text
        body = declared.json()
        assert body["purpose"] == "certificate" and body["live_certificates"] == 2
        assert body["replacement_kid"] not in (None, kid.hex())
        assert reg.post(f"/v1/keys/{kid.hex()}/compromise",  # idempotent
                        json={"compromised_since": since.isoformat()}).status_code == 200

        # Refused online, and offline after a sync, whatever the certificate's dates.
        for text in (forged, c1["text"]):
            assert officer.post("/v1/verifications", json={"text": text}).json()["verdict"] \
                == "key-compromised"
        sync = _sync(base, cache)
        assert sync.exit_code == 0, sync.output
        assert _offline(forged, cache)["verdict"] == "key-compromised"
        assert _offline(c1["text"], cache)["verdict"] == "key-compromised"

        # Re-issue every live certificate of that key, one batch at a time (resumable).
        reissued = 0
        for _ in range(5):
            step = reg.post(f"/v1/keys/{kid.hex()}/reissue?limit=1").json()
            reissued += step["reissued"]
            if step["remaining"] == 0:
                break
        assert reissued == 2 and step["remaining"] == 0
        assert reg.post(f"/v1/keys/{kid.hex()}/reissue").json()["reissued"] == 0

        # The holders see it on their guard page: a new current certificate.
        guard1 = make_principal(rt, client, "guard", guard_id=g1["id"])
        mine = guard1.get("/v1/me/certificate").json()
        assert mine["number"] != c1["number"] and mine["status"] == "valid"
        assert mine["replaces"] == {"number": c1["number"], "reason": "key-compromised"}
        assert mine["guard_name"] == c1["guard_name"] and mine["expires_at"] == c1["expires_at"]
        assert inspect(mine["text"])[0].kid == bytes.fromhex(body["replacement_kid"])
        assert guard1.get("/v1/me/certificate/qr.png").headers["content-type"] == "image/png"
        new2 = [c for c in reg.get(f"/v1/guards/{g2['id']}/certificates").json()["items"]
                if c["number"] != c2["number"]]
        assert [c["status"] for c in new2] == ["suspended"]  # the suspension carries over
        old1 = reg.get(f"/v1/certificates/{c1['number']}").json()
        assert old1["status"] == "revoked" and old1["status_reason"] == "key-compromised"

        assert officer.post("/v1/verifications", json={"text": mine["text"]}).json()[
            "verdict"] == "valid"
        assert _sync(base, cache).exit_code == 0
        assert _offline(mine["text"], cache)["verdict"] == "valid"
        assert _offline(forged, cache)["verdict"] == "key-compromised"

    # The report: what the key signed since it may have leaked, and the checks a
    # forgery left behind; the audit log has every step.
    rt.verification_log.flush()
    report = reg.get(f"/v1/keys/{kid.hex()}/compromise-report").json()
    assert {c["number"] for c in report["certificates"]} == {c1["number"], c2["number"]}
    assert report["live_remaining"] == 0
    verdicts = {s["verdict"]: s["count"] for s in report["suspicious_checks"]}
    assert verdicts.get("key-compromised", 0) >= 2
    cli_report = CLI.invoke(main, ["keys", "report", kid.hex()])
    assert cli_report.exit_code == 0, cli_report.output
    assert json.loads(cli_report.output)["signed_since"] == 2
    with rt.db.transaction(readonly=True) as cur:
        cur.execute("SELECT action, count(*) AS n FROM registry_audit_event WHERE action IN"
                    " ('key.compromise', 'key.replace', 'certificate.reissue')"
                    " GROUP BY action")
        actions = {r["action"]: r["n"] for r in cur.fetchall()}
    assert actions["certificate.reissue"] == 2 and actions["key.replace"] == 1
    assert actions["key.compromise"] == 2  # declared twice (idempotent, audited each time)


def test_cli_keys_revoke_marks_reissues_with_progress_and_resumes(stack: Any) -> None:
    rt, client, clock = stack
    reg = make_principal(rt, client, "regulator")
    company = reg.make_company()
    certs = [reg.post(f"/v1/guards/{make_issuable_guard(reg, company['id'])['id']}"
                      "/certificate").json() for _ in range(3)]
    kid = rt.certs.keyring.active("certificate").kid.hex()
    bad = CLI.invoke(main, ["keys", "revoke", kid, "--compromised-since", "yesterday"])
    assert bad.exit_code == 2
    marked = CLI.invoke(main, ["keys", "revoke", kid, "--no-reissue", "--compromised-since",
                               (clock.now - dt.timedelta(hours=6)).isoformat()])
    assert marked.exit_code == 0, marked.output
    assert "marked compromised" in marked.output and "live left under it: 3" in marked.output
    resumed = CLI.invoke(main, ["keys", "reissue", kid, "--batch", "2"])
    assert resumed.exit_code == 0, resumed.output
    assert "re-issued 2/3" in resumed.output and "re-issued 3/3" in resumed.output
    listing = CLI.invoke(main, ["keys", "list"])
    assert f"{kid}  certificate  ES256  COMPROMISED" in listing.output
    for cert in certs:
        row = reg.get(f"/v1/certificates/{cert['number']}").json()
        assert row["status_reason"] == "key-compromised"


def test_status_list_key_compromise_resigns_every_list(stack: Any, tmp_path: Path) -> None:
    rt, client, clock = stack
    reg = make_principal(rt, client, "regulator")
    company = reg.make_company()
    cert = reg.post(f"/v1/guards/{make_issuable_guard(reg, company['id'])['id']}"
                    "/certificate").json()
    old_kid = rt.certs.keyring.active("status-list").kid
    old_token = client.get("/v1/status-lists/0").content
    declared = reg.post(f"/v1/keys/{old_kid.hex()}/compromise",
                        json={"compromised_since": clock.now.isoformat()})
    assert declared.status_code == 200, declared.text
    assert declared.json()["status_lists_resigned"] >= 1
    cache = tmp_path / "cache"
    with serve(client.app) as base:
        assert _sync(base, cache, "--anchor", _anchor(rt)).exit_code == 0
    assert _offline(cert["text"], cache)["verdict"] == "valid"
    store = OfflineCache(cache)
    trust, _ = store.load_verifier_inputs(now=dt.datetime.now(dt.UTC))
    with pytest.raises(VerificationError) as info:  # the old key's lists are refused
        store.accept_status_list(old_token, trust=trust, now=dt.datetime.now(dt.UTC))
    assert info.value.reason is Reason.KEY_COMPROMISED


def test_trust_list_key_rolls_forward_to_its_announced_successor_only(stack: Any,
                                                                      tmp_path: Path) -> None:
    rt, client, clock = stack
    reg = make_principal(rt, client, "regulator")
    company = reg.make_company()
    cert = reg.post(f"/v1/guards/{make_issuable_guard(reg, company['id'])['id']}"
                    "/certificate").json()
    ring = rt.certs.keyring
    old = ring.active("trust-list")
    successor = ring.successor("trust-list")
    assert successor is not None
    cache = tmp_path / "cache"
    with serve(client.app) as base:
        assert _sync(base, cache, "--anchor", _anchor(rt)).exit_code == 0
        pins = OfflineCache(cache).pins()
        assert pins is not None and len(pins.successors) == 1
        declared = reg.post(f"/v1/keys/{old.kid.hex()}/compromise",
                            json={"compromised_since": clock.now.isoformat()}).json()
        assert declared["replacement_kid"] == successor.kid.hex()
        # A cron job that keeps passing the original --anchor does not undo the roll.
        rolled = _sync(base, cache, "--anchor", base64.b64encode(old.spki).decode())
        assert rolled.exit_code == 0, rolled.output
        assert "rolled forward" in rolled.output
        again = _sync(base, cache, "--anchor", base64.b64encode(old.spki).decode())
        assert again.exit_code == 0 and "--anchor ignored" in again.output
        pins = OfflineCache(cache).pins()
        assert pins is not None and pins.anchors == (successor.spki,)
        assert _offline(cert["text"], cache)["verdict"] == "valid"
        # A trust-list key that was never announced (a thief's, or an operator's
        # mistake) is refused, and the cache stays as it was.
        ring.generate("trust-list", now=clock.now)
        rt.certs.forget()
        before = _snapshot(cache)
        refused = _sync(base, cache)
        assert refused.exit_code == 1
        assert "REFUSED the trust list (unknown-key" in refused.output
        assert _snapshot(cache) == before
        assert _offline(cert["text"], cache)["verdict"] == "valid"


@contextmanager
def _mitm(routes: dict[str, Callable[[], bytes]]) -> Iterator[str]:
    """A tiny HTTP server standing in for a man in the middle: it serves what it is told."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            make = routes.get(self.path)
            body = make() if make else b""
            self.send_response(200 if make else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with serve_http(Handler) as url:
        yield url


def test_a_status_list_rollback_served_to_sync_keeps_the_newer_list(stack: Any,
                                                                    tmp_path: Path) -> None:
    rt, client, clock = stack
    reg = make_principal(rt, client, "regulator")
    company = reg.make_company()
    cert = reg.post(f"/v1/guards/{make_issuable_guard(reg, company['id'])['id']}"
                    "/certificate").json()
    shard = 0
    old_list = client.get(f"/v1/status-lists/{shard}").content  # the certificate is valid
    cache = tmp_path / "cache"
    with serve(client.app) as base:
        assert _sync(base, cache, "--anchor", _anchor(rt)).exit_code == 0
        assert _offline(cert["text"], cache)["verdict"] == "valid"
        clock.advance(seconds=30)
        assert reg.post(f"/v1/certificates/{cert['number']}/revoke",
                        json={"reason": "misconduct"}).status_code == 200
        assert _sync(base, cache).exit_code == 0
        assert _offline(cert["text"], cache)["verdict"] == "revoked"
        before = _snapshot(cache)
        routes = {"/v1/trust-list": lambda: client.get("/v1/trust-list").content,
                  "/v1/status-lists": lambda: client.get("/v1/status-lists").content,
                  f"/v1/status-lists/{shard}": lambda: old_list}
        with _mitm(routes) as evil:
            replay = _sync(evil, cache)
    assert replay.exit_code == 1
    assert "REFUSED status list" in replay.output and "rollback" in replay.output
    assert "cached copy is kept" in replay.output
    after = _snapshot(cache)
    # The (same, valid) trust list was accepted again; the status list was not touched.
    assert {k: v for k, v in after.items() if k != "index.json"} == \
        {k: v for k, v in before.items() if k != "index.json"}
    assert json.loads(after["index.json"])["status_lists"] == \
        json.loads(before["index.json"])["status_lists"]
    verdict = _offline(cert["text"], cache)
    assert verdict["verdict"] == "revoked"
    assert 0 <= verdict["data_age_s"] <= 120  # from the list's own iat


def test_verify_and_cose_verify_take_long_arguments_as_text(tmp_path: Path) -> None:
    """A long argument is text (or base64), never tried as a file name."""
    long_text = "SG1:" + "6BF" * 1700
    out = CLI.invoke(main, ["verify", "--offline", "--cache", str(tmp_path), "--json",
                            long_text])
    assert "File name too long" not in out.output
    assert json.loads(out.output)["verdict"] == "oversized"
    base45ish = "6BFOXN" * 60  # no prefix, not a file: verified as text, refused as such
    out = CLI.invoke(main, ["verify", "--offline", "--cache", str(tmp_path), "--json",
                            base45ish])
    assert json.loads(out.output)["verdict"] == "malformed"

    cert_der, text = _dcc_signed(tmp_path)
    b64 = base64.b64encode(cert_der).decode()
    assert len(b64) > 255  # longer than any file name may be
    at = dt.datetime.now(dt.UTC).isoformat()
    ok = CLI.invoke(main, ["cose", "verify", "--cert", b64, "--at", at, text])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["valid"] is True
    path = tmp_path / "signer.der"
    path.write_bytes(cert_der)
    assert CLI.invoke(main, ["cose", "verify", "--cert", str(path), "--at", at, text]
                      ).exit_code == 0
    neither = CLI.invoke(main, ["cose", "verify", "--cert", "x" * 300, "--at", at, text])
    assert neither.exit_code == 2 and "File name too long" not in neither.output


def _dcc_signed(tmp_path: Path) -> tuple[bytes, str]:
    """A self-signed ES256 signer certificate and an HC1 text it signs."""
    import hashlib
    import zlib

    import cbor2
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from certificates import base45
    from certificates.cose import encode_sign1
    from certificates.signing import SoftwareSigner

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DSC test " + "x" * 40)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    kid = hashlib.sha256(der).digest()[:8]
    signer = SoftwareSigner(key, kid=kid, alg="ES256", purpose="certificate")
    claims = {1: "CN", 6: int(now.timestamp()) - 60, 4: int(now.timestamp()) + 86400,
              -260: {1: {"ver": "1.3.0", "v": [{"dn": 1}]}}}
    cose = encode_sign1(cbor2.dumps(claims), alg="ES256", kid=kid, sign=signer.sign)
    return der, "HC1:" + base45.encode(zlib.compress(cose, 9))


_ = Api  # re-exported factory type (keeps the import for readers of the fixtures)


def test_high_s_certificates_of_before_the_upgrade_are_rewritten_low_s(stack: Any) -> None:
    from certificates.cose import P256_ORDER, decode_sign1, es256_is_high_s
    from certificates.envelope import decode_text, encode_text

    rt, client, _ = stack
    reg = make_principal(rt, client, "regulator")
    officer = make_principal(rt, client, "checkpoint_officer")
    company = reg.make_company()
    cert = reg.post(f"/v1/guards/{make_issuable_guard(reg, company['id'])['id']}"
                    "/certificate").json()
    cose = decode_text(cert["text"])
    sig = decode_sign1(cose).signature
    high = encode_text(cose[:-64] + sig[:32] + (
        P256_ORDER - int.from_bytes(sig[32:], "big")).to_bytes(32, "big"))
    with rt.db.transaction() as cur:  # as an issuance before low-s signing left it
        cur.execute("UPDATE certificates_certificate SET text = %s WHERE number = %s",
                    (high, cert["number"]))
    assert officer.post("/v1/verifications", json={"text": high}).json()["verdict"] == \
        "bad-signature"
    out = CLI.invoke(main, ["keys", "normalize-signatures", "--batch", "1"])
    assert out.exit_code == 0, out.output
    assert "1 of 1 live certificate(s) rewritten" in out.output
    now_text = reg.get(f"/v1/certificates/{cert['number']}").json()["text"]
    assert now_text != high and not es256_is_high_s(decode_sign1(decode_text(now_text)).signature)
    assert officer.post("/v1/verifications", json={"text": now_text}).json()["verdict"] == \
        "valid"
    again = CLI.invoke(main, ["keys", "normalize-signatures"])
    assert "0 of 1" in again.output


def test_compromise_endpoints_refuse_bad_input_with_4xx(stack: Any) -> None:
    rt, client, clock = stack
    reg = make_principal(rt, client, "regulator")
    kid = rt.certs.keyring.active("certificate").kid.hex()
    cases = [
        (f"/v1/keys/{kid}/compromise", {"compromised_since": "2026-01-01T00:00:00"}, 422),
        (f"/v1/keys/{kid}/compromise", {"compromised_since": "0001-01-01T00:00:00Z"}, 422),
        (f"/v1/keys/{kid}/compromise",
         {"compromised_since": (clock.now + dt.timedelta(days=1)).isoformat()}, 422),
        ("/v1/keys/00000000000000ff/compromise", {"compromised_since": clock.now.isoformat()},
         404),
        ("/v1/keys/xyz/compromise", {"compromised_since": clock.now.isoformat()}, 422),
    ]
    for path, body, status in cases:
        resp = reg.post(path, json=body)
        assert resp.status_code == status, (path, body, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert rt.certs.keyring.get(bytes.fromhex(kid)).compromised_since is None
    assert reg.post(f"/v1/keys/{kid}/reissue").status_code == 400  # not compromised
    assert reg.get(f"/v1/keys/{kid}/compromise-report").status_code == 422
    assert reg.get("/v1/keys/00000000000000ff/compromise-report").status_code == 404


def test_the_readable_trust_list_shows_compromise_and_the_announced_successor(
        stack: Any) -> None:
    import hashlib

    rt, client, clock = stack
    reg = make_principal(rt, client, "regulator")
    ring = rt.certs.keyring
    successor = ring.successor("trust-list")
    assert successor is not None
    view = client.get("/v1/trust-list.json").json()
    assert view["next_trust_list_key_sha256"] == [hashlib.sha256(successor.spki).hexdigest()]
    kid = ring.active("status-list").kid
    assert reg.post(f"/v1/keys/{kid.hex()}/compromise",
                    json={"compromised_since": clock.now.isoformat()}).status_code == 200
    keys = {k["kid"]: k for k in client.get("/v1/trust-list.json").json()["keys"]}
    assert keys[kid.hex()]["compromised_since"] is not None
    assert sum(1 for k in keys.values() if k["compromised_since"]) == 1


def test_cli_offline_with_a_clock_set_back_says_clock_wrong(
        stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The trusted clock in `guardreg verify --offline`: the cache keeps the newest list
    iat as a floor; a device clock set back behind it gives clock-wrong."""
    import api.cli_certificates as cli_certs

    rt, client, _ = stack
    reg = make_principal(rt, client, "regulator")
    company = reg.make_company()
    cert = reg.post(f"/v1/guards/{make_issuable_guard(reg, company['id'])['id']}/certificate"
                    ).json()
    cache = tmp_path / "cache"
    with serve(client.app) as base:
        assert _sync(base, cache, "--anchor", _anchor(rt)).exit_code == 0
    floor = OfflineCache(cache).clock_floor()
    assert floor is not None
    monkeypatch.setattr(cli_certs, "_now", lambda: floor + dt.timedelta(minutes=1))
    assert _offline(cert["text"], cache)["verdict"] == "valid"
    monkeypatch.setattr(cli_certs, "_now", lambda: floor - dt.timedelta(days=1))
    out = _offline(cert["text"], cache)
    assert out["verdict"] == "clock-wrong", out
    assert out["reason"] == "clock-wrong"
