"""Issue 18, the printed card as its own credential (certificates/cards.py): its own
number (-C<n>) and status entry, "card: compare the photo" at the checkpoint (or refused
by policy), never the guard page's live QR, revoked on its own, and following its
certificate through revocation and re-issue."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from certificates import qr
from certificates.credential import inspect
from tests.api.test_device_binding import _jwk
from tests.api.test_trust import _offline, _sync, stack  # noqa: F401
from tests.conftest import Api, make_issuable_guard, make_principal


@pytest.fixture
def carded(runtime: Any, client: Any, regulator: Api) -> dict[str, Any]:
    company = regulator.make_company()
    guard = make_issuable_guard(regulator, company["id"])
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    me = make_principal(runtime, client, "guard", guard_id=guard["id"])
    pdf = me.get("/v1/me/card.pdf")
    assert pdf.status_code == 200, pdf.text
    cards = me.get(f"/v1/guards/{guard['id']}/cards").json()["items"]
    assert len(cards) == 1
    card = regulator.get(f"/v1/certificates/{cards[0]['number']}").json()
    return {"guard": guard, "company": company, "cert": cert, "me": me, "pdf": pdf.content,
            "card": card, "listed": cards[0]}


def _verdict(officer: Api, text: str) -> dict[str, Any]:
    resp = officer.post("/v1/verifications", json={"text": text})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_the_card_is_its_own_credential_and_verifies_as_card(
        carded: dict[str, Any], officer: Api, tmp_path: Path) -> None:
    cert, card = carded["cert"], carded["card"]
    assert card["number"] == cert["number"] + "-C1"
    assert carded["listed"]["serial"] == 1
    assert carded["listed"]["certificate_number"] == cert["number"]
    assert card["status_ref"] != cert["status_ref"]  # its own status entry
    claims = inspect(card["text"])[1]
    assert claims.card == 1 and claims.device_key is None
    assert claims.certificate_number == card["number"]
    # The PDF's QR is the card's, and it verifies as a card: compare the photo.
    if shutil.which("pdftoppm"):
        path = tmp_path / "card.pdf"
        path.write_bytes(carded["pdf"])
        subprocess.run(["pdftoppm", "-r", "150", "-png", str(path), str(tmp_path / "p")],
                       check=True, timeout=60)
        buf = io.BytesIO()
        Image.open(next(tmp_path.glob("p*.png"))).save(buf, "PNG")
        assert qr.decode_image(buf.getvalue()) == card["text"]
    body = _verdict(officer, card["text"])
    assert body["verdict"] == "card"
    assert body["detail"] == "card: compare the photo"
    assert body["certificate"]["number"] == card["number"] and body["certificate"]["card"] == 1
    assert body["photo"] and body["photo"].startswith("data:image/jpeg;base64,")
    # The guard page never shows the card: /v1/me/certificate is the certificate.
    mine = carded["me"].get("/v1/me/certificate").json()
    assert mine["number"] == cert["number"] and mine["text"] == cert["text"]
    # A second download prints the same card (no new serial).
    again = carded["me"].get("/v1/me/card.pdf")
    assert again.status_code == 200
    assert len(carded["me"].get(f"/v1/guards/{carded['guard']['id']}/cards")
               .json()["items"]) == 1


def test_a_lost_card_is_revoked_on_its_own_and_replaced(
        carded: dict[str, Any], officer: Api, runtime: Any, client: Any,
        regulator: Api) -> None:
    card, cert = carded["card"], carded["cert"]
    operator = make_principal(runtime, client, "company_operator",
                              company_id=carded["company"]["id"])
    # A sanction is for the certificate, not the card alone; lost-card is for cards only.
    bad = regulator.post(f"/v1/certificates/{card['number']}/revoke",
                         json={"reason": "misconduct"})
    assert bad.status_code == 422, bad.text
    assert regulator.post(f"/v1/certificates/{cert['number']}/revoke",
                          json={"reason": "lost-card"}).status_code == 422
    done = operator.post(f"/v1/certificates/{card['number']}/revoke",
                         json={"reason": "lost-card"})
    assert done.status_code == 200, done.text
    assert _verdict(officer, card["text"])["verdict"] == "revoked"
    assert _verdict(officer, cert["text"])["verdict"] == "valid"
    # The public number check knows card numbers too; the guard list's capture summary
    # still shows the certificate's status, not the card's.
    public = client.get(f"/v1/public/certificates/{card['number'].lower()}").json()
    assert (public["status"], public["card"]) == ("revoked", True)
    assert client.get(f"/v1/public/certificates/{cert['number']}-CX").status_code == 422
    listed = operator.get("/v1/guards?include=capture&limit=200").json()["items"]
    mine = next(g for g in listed if g["id"] == carded["guard"]["id"])
    assert mine["capture"]["certificate"] == "valid"
    new = operator.post(f"/v1/guards/{carded['guard']['id']}/cards", json={})
    assert new.status_code == 201, new.text
    assert new.json()["number"] == cert["number"] + "-C2"
    text = regulator.get(f"/v1/certificates/{new.json()['number']}").json()["text"]
    assert _verdict(officer, text)["verdict"] == "card"
    # A third card supersedes the second.
    third = regulator.post(f"/v1/guards/{carded['guard']['id']}/cards", json={}).json()
    assert third["number"].endswith("-C3")
    assert _verdict(officer, text)["verdict"] == "revoked"


def test_the_card_follows_its_certificate(carded: dict[str, Any], officer: Api,
                                          regulator: Api) -> None:
    card, cert = carded["card"], carded["cert"]
    regulator.post(f"/v1/certificates/{cert['number']}/suspend",
                   json={"reason": "investigation"})
    assert _verdict(officer, card["text"])["verdict"] == "suspended"
    regulator.post(f"/v1/certificates/{cert['number']}/reinstate")
    assert _verdict(officer, card["text"])["verdict"] == "card"
    # Re-issue (here: a new phone bound, so a new certificate with cnf): the old card is
    # revoked with reason certificate-reissued, and the next download prints card C1 of
    # the new certificate.
    phone = ec.generate_private_key(ec.SECP256R1())
    assert regulator.post(f"/v1/guards/{carded['guard']['id']}/device-key",
                          json=_jwk(phone)).status_code == 200
    assert _verdict(officer, card["text"])["verdict"] == "revoked"
    old = regulator.get(f"/v1/certificates/{card['number']}").json()
    assert old["status_reason"] == "certificate-reissued"
    new_cert = carded["me"].get("/v1/me/certificate").json()
    assert carded["me"].get("/v1/me/card.pdf").status_code == 200
    cards = carded["me"].get(f"/v1/guards/{carded['guard']['id']}/cards").json()["items"]
    assert cards[-1]["number"] == new_cert["number"] + "-C1"
    new_card = regulator.get(f"/v1/certificates/{cards[-1]['number']}").json()
    assert inspect(new_card["text"])[1].device_key is None  # a card has no phone
    # Revoking the certificate for cause revokes its card too.
    regulator.post(f"/v1/certificates/{new_cert['number']}/revoke", json={"reason": "misconduct"})
    assert _verdict(officer, new_card["text"])["verdict"] == "revoked"


def test_the_checkpoint_policy_can_refuse_cards(carded: dict[str, Any], officer: Api,
                                                runtime: Any, client: Any) -> None:
    ctx = runtime.certs
    before = ctx.policy
    assert client.get("/v1/verifier-policy").json()["accept_cards"] is True
    ctx.policy = dataclasses.replace(before, accept_cards=False)
    try:
        assert client.get("/v1/verifier-policy").json()["accept_cards"] is False
        body = _verdict(officer, carded["card"]["text"])
        assert body["verdict"] == "card-not-accepted"
        assert body["certificate"]["number"] == carded["card"]["number"]
        # The certificate itself is unaffected.
        assert _verdict(officer, carded["cert"]["text"])["verdict"] == "valid"
    finally:
        ctx.policy = before


def test_cli_offline_says_card_and_applies_the_card_policy(
        stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """``guardreg verify --offline`` on a synced cache: "card", exit 0; with the regulator's
    setting off, card-not-accepted, exit 1 (its own stack: see test_device_binding)."""
    import base64

    import api.cli_certificates as cli_certs
    from registry.settings import reset_settings_cache
    from tests.api.live_server import serve

    rt, client, clock = stack
    reg = make_principal(rt, client, "regulator")
    guard = make_issuable_guard(reg, reg.make_company()["id"])
    assert reg.post(f"/v1/guards/{guard['id']}/certificate").status_code == 201
    made = reg.post(f"/v1/guards/{guard['id']}/cards", json={})
    assert made.status_code == 201, made.text
    text = reg.get(f"/v1/certificates/{made.json()['number']}").json()["text"]
    cache = tmp_path / "cache"
    with serve(client.app) as base:
        anchor = base64.b64encode(rt.certs.keyring.active("trust-list").spki).decode()
        assert _sync(base, cache, "--anchor", anchor).exit_code == 0
    monkeypatch.setattr(cli_certs, "_now", lambda: clock.now)
    out = _offline(text, cache)
    assert out["verdict"] == "card" and out["detail"] == "card: compare the photo"
    monkeypatch.setenv("GUARDREG_CHECKPOINT_ACCEPT_CARDS", "false")
    reset_settings_cache()
    assert _offline(text, cache)["verdict"] == "card-not-accepted"


def test_a_key_compromise_reissue_marks_the_card(stack: Any) -> None:  # noqa: F811
    """The re-issue after a signing-key compromise revokes the printed card (it is not
    counted or re-issued as a certificate); the next download prints -C1 of the new
    certificate, signed by the new key."""
    import datetime as dt

    rt, client, clock = stack
    reg = make_principal(rt, client, "regulator")
    guard = make_issuable_guard(reg, reg.make_company()["id"])
    cert = reg.post(f"/v1/guards/{guard['id']}/certificate").json()
    card = reg.post(f"/v1/guards/{guard['id']}/cards", json={}).json()
    kid = rt.certs.keyring.active("certificate").kid
    declared = reg.post(f"/v1/keys/{kid.hex()}/compromise",
                        json={"compromised_since": (clock.now - dt.timedelta(days=1))
                              .isoformat()})
    assert declared.status_code == 200, declared.text
    assert declared.json()["live_certificates"] == 1  # the certificate, not its card
    step = reg.post(f"/v1/keys/{kid.hex()}/reissue").json()
    assert step["reissued"] == 1 and step["remaining"] == 0
    old = reg.get(f"/v1/certificates/{card['number']}").json()
    assert (old["status"], old["status_reason"]) == ("revoked", "certificate-reissued")
    me = make_principal(rt, client, "guard", guard_id=guard["id"])
    new_cert = me.get("/v1/me/certificate").json()
    assert new_cert["number"] != cert["number"]
    assert me.get("/v1/me/card.pdf").status_code == 200
    newest = me.get(f"/v1/guards/{guard['id']}/cards").json()["items"][-1]
    assert newest["number"] == new_cert["number"] + "-C1" and newest["status"] == "valid"
    text = reg.get(f"/v1/certificates/{newest['number']}").json()["text"]
    assert inspect(text)[0].kid == bytes.fromhex(declared.json()["replacement_kid"])
