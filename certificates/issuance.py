"""Issuing certificates: decide, write down the intent, sign, check, record.

``prepare`` runs in one transaction: eligibility (the registry's rules plus what the
caller adds, e.g. biometric capture), idempotency, number and status index, the exact
claims and payload, an intent row (``pending``) and an audit event. It commits before
anything is signed. ``complete`` runs in a second transaction: it signs the recorded
payload, checks that the signed bytes carry exactly that payload, supersedes the
previous certificate, republishes the affected status lists and audits again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from certificates import cards, publication, repository
from certificates.cose import SigningKey, decode_sign1
from certificates.credential import seal
from certificates.cwt import GuardClaims, StatusRef
from certificates.envelope import GUARD_PREFIX, decode_text
from certificates.errors import CertificateError
from certificates.numbers import make_number
from certificates.presentation import DeviceKey
from certificates.publication import StatusConfig
from registry import audit, service
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import Conflict, NotEligible, NotFound
from registry.records import GuardRecord

ABANDON_PENDING_AFTER = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class IssuanceConfig:
    issuer: str
    city_code: str
    validity: dt.timedelta
    status: StatusConfig


@dataclass(frozen=True)
class Prepared:
    certificate_id: int
    guard_id: int
    number: str
    payload: bytes
    supersedes: int | None
    existing: bool = False


def _same_content(cert: dict[str, Any], guard: GuardRecord,
                  device: DeviceKey | None = None) -> bool:
    return bool(cert["employer_id"] == guard.company_id
                and cert["skill_level"] == guard.skill_level
                and cert["claims"].get("guard_name") == guard.name
                and cert["claims"].get("device_key") == (device.to_json() if device else None))


def claims_json(claims: GuardClaims) -> dict[str, Any]:
    return {"issuer": claims.issuer, "issued_at": claims.issued_at.isoformat(),
            "expires_at": claims.expires_at.isoformat(),
            "certificate_number": claims.certificate_number, "guard_name": claims.guard_name,
            "skill_level": claims.skill_level, "employer_id": claims.employer_id,
            "employer_name": claims.employer_name,
            "status": {"uri": claims.status.uri, "idx": claims.status.idx},
            **({"device_key": claims.device_key.to_json()} if claims.device_key else {})}


def prepare(cur: Cursor, *, actor: Actor, now: dt.datetime, guard_id: int,
            config: IssuanceConfig, extra_reasons: list[dict[str, str]] | None = None) -> Prepared:
    guard = service.guard_record(cur, guard_id, for_update=True)
    if guard is None:
        raise NotFound("no such guard")
    repository.mark_failed_pending(cur, guard_id, now - ABANDON_PENDING_AFTER)
    if repository.pending_certificate(cur, guard_id) is not None:
        raise Conflict("an issuance for this guard is in progress", reason="issuance-in-progress")
    eligibility = service.guard_eligibility(cur, guard_id=guard_id, now=now)
    reasons = eligibility.reasons + list(extra_reasons or [])
    if reasons:
        raise NotEligible("the guard is not eligible for a certificate: "
                          + "; ".join(r["message"] for r in reasons),
                          reason="not-eligible", reasons=reasons)
    bound = repository.active_device_key(cur, guard_id)
    device = DeviceKey(bytes(bound["x"]), bytes(bound["y"])) if bound is not None else None
    live = repository.live_certificate(cur, guard_id, for_update=True)
    if live is not None:
        if live["status"] == "suspended":
            raise Conflict("the current certificate is suspended: reinstate or revoke it first",
                           reason="certificate-suspended", number=live["number"])
        if _same_content(live, guard, device) \
                and live["expires_at"] > now + config.validity / 12:
            # Idempotent: nothing changed, so the valid certificate is the answer.
            return Prepared(live["id"], guard_id, live["number"], bytes(live["payload"]),
                            None, existing=True)
    shard, idx, uri = publication.allocate(cur, config=config.status)
    number = make_number(config.city_code, now.year, repository.next_number_sequence(cur))
    issued = now.replace(microsecond=0)
    claims = GuardClaims(
        issuer=config.issuer, issued_at=issued, expires_at=issued + config.validity,
        certificate_number=number, guard_name=guard.name, skill_level=guard.skill_level,
        status=StatusRef(uri=uri, idx=idx),
        # The certificate is personal (issue 15): the employer is named only while there
        # is one.
        employer_id=guard.company_id,
        employer_name=guard.company_name if guard.employed else None,
        device_key=device)
    payload = claims.encode()
    cert_id = repository.insert_certificate(cur, {
        "number": number, "guard_id": guard_id, "status": "pending", "status_shard": shard,
        "status_idx": idx, "claims": claims_json(claims), "payload": payload,
        "employer_id": guard.company_id, "skill_level": guard.skill_level,
        "issued_at": claims.issued_at, "expires_at": claims.expires_at,
        "issued_by": actor.label,
    })
    audit.record(cur, actor=actor, action="certificate.issue.intent", target_type="certificate",
                 target_id=number, data={"guard_id": guard_id, "status_shard": shard,
                                         "supersedes": live["number"] if live else None}, now=now)
    return Prepared(cert_id, guard_id, number, payload, live["id"] if live else None)


def complete(cur: Cursor, *, actor: Actor, now: dt.datetime, prepared: Prepared,
             signer: SigningKey, status_signer: SigningKey,
             config: IssuanceConfig) -> dict[str, Any]:
    if not prepared.existing:
        _sign_and_record(cur, actor=actor, now=now, prepared=prepared, signer=signer,
                         status_signer=status_signer, config=config)
    cert = repository.get_by_id(cur, prepared.certificate_id)
    assert cert is not None
    return cert


def _sign_and_record(cur: Cursor, *, actor: Actor, now: dt.datetime, prepared: Prepared,
                     signer: SigningKey, status_signer: SigningKey,
                     config: IssuanceConfig) -> None:
    cert = repository.get_by_id(cur, prepared.certificate_id)
    if cert is None or cert["status"] != "pending" or bytes(cert["payload"]) != prepared.payload:
        raise Conflict("the recorded issuance changed before signing; retry",
                       reason="intent-changed")
    shards = {int(cert["status_shard"])}
    text = seal(GuardClaims.decode(prepared.payload), signer)
    signed = decode_sign1(decode_text(text, GUARD_PREFIX))
    if signed.payload != prepared.payload or signed.kid != signer.kid:
        raise CertificateError("the signed certificate does not carry the recorded payload")
    if prepared.supersedes is not None:
        old = repository.change_status(cur, prepared.supersedes, to="revoked",
                                       from_statuses=("valid",), reason="superseded", at=now,
                                       superseded_by=prepared.certificate_id)
        if old is None:
            raise Conflict("the previous certificate changed during re-issuance; retry",
                           reason="supersede-race")
        shards.add(int(old["status_shard"]))
        audit.record(cur, actor=actor, action="certificate.revoke", target_type="certificate",
                     target_id=old["number"],
                     data={"reason": "superseded", "by": prepared.number}, now=now)
        # Re-issue (level, employer, phone, key compromise): the old certificate's printed
        # card is revoked, not re-issued; a new card is printed (certificates/cards.py).
        shards |= cards.follow_certificate(cur, actor=actor, now=now,
                                           cert_id=prepared.supersedes, to="revoked",
                                           reason=cards.CARD_REISSUED)
    if not repository.mark_signed(cur, prepared.certificate_id, text=text, kid=signer.kid,
                                  alg=signer.alg):
        raise Conflict("the issuance was abandoned before signing; retry",
                       reason="intent-abandoned")
    for shard in sorted(shards):
        publication.publish(cur, shard=shard, signer=status_signer, config=config.status, now=now)
    audit.record(cur, actor=actor, action="certificate.issue.signed", target_type="certificate",
                 target_id=prepared.number,
                 data={"guard_id": prepared.guard_id, "kid": signer.kid.hex()}, now=now)
