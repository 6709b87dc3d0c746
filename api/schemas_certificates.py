"""Response bodies of the certificate routes (api/routers/certificates.py, checkpoint.py,
keys.py): issuance, requests, status changes, key compromise, the public lists and
online verification.

Each is an :class:`api.schemas.Output`: the declared fields are the documented contract;
anything else a view carries passes through unchanged. Times are written as
``datetime.isoformat()`` writes them (``+00:00``), as these routes always have.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, PlainSerializer

from api.schemas import Output

# A time in a response, written as the encoder the routes used before their models wrote
# it (``+00:00``, not pydantic's ``Z``): clients comparing strings see no change.
Instant = Annotated[dt.datetime, PlainSerializer(lambda v: v.isoformat(), return_type=str,
                                                 when_used="json")]


class StatusRefOut(Output):
    uri: str = Field(description="the status list holding the certificate's entry")
    idx: int = Field(description="the entry's index in that list")


class CertificateOut(Output):
    number: str
    status: str = Field(description="pending, valid, suspended, revoked, expired or failed")
    guard_id: str | None = Field(description="the guard's public id")
    guard_name: str | None
    skill_level: int
    employer_id: int | None
    employer_name: str | None
    issued_at: Instant
    expires_at: Instant
    status_reason: str | None
    status_changed_at: Instant | None
    status_ref: StatusRefOut | None
    text: str | None = Field(default=None, description="the QR text (SG1:...)")


class CertificateListOut(Output):
    items: list[CertificateOut] = Field(description="newest last")


class ReplacedOut(Output):
    number: str
    reason: str | None


class MyCertificateOut(CertificateOut):
    replaces: ReplacedOut | None = Field(
        description="the certificate this one superseded (e.g. after a key compromise): "
                    "its QR no longer verifies")


class CertificateRequestOut(Output):
    id: str = Field(description="the request's public id")
    guard_id: str = Field(description="the guard's public id")
    status: str = Field(description="pending, approved or rejected")
    note: str | None
    created_at: Instant


class DecisionOut(Output):
    request_id: str
    approved: bool
    certificate: CertificateOut | None = Field(description="issued on approval")


class StatusChangeOut(Output):
    number: str
    status: str
    changed: bool = Field(description="false: it already had that status")
    reason: str | None


class CompromiseOut(Output):
    kid: str
    purpose: str
    compromised_since: Instant
    replacement_kid: str | None
    live_certificates: int
    status_lists_resigned: int | None = Field(
        default=None, description="a status-list key: the shards re-signed at once")


class ReissuedOut(Output):
    old: str
    new: str


class ReissueBatchOut(Output):
    reissued: int
    remaining: int
    numbers: list[ReissuedOut]


class SignedCertificateOut(Output):
    number: str
    guard_id: str | None = Field(description="the guard's public id")
    status: str
    status_reason: str | None
    issued_at: Instant
    expires_at: Instant


class SuspiciousCheckOut(Output):
    verdict: str
    count: int
    first_at: Instant
    last_at: Instant


class CompromiseReportOut(Output):
    kid: str
    purpose: str
    compromised_since: Instant
    declared_at: Instant | None
    note: str
    signed_since: int | None = Field(default=None, description="certificate keys only")
    certificates: list[SignedCertificateOut] | None = Field(
        default=None, description="certificate keys only: what the registry signed since")
    live_remaining: int | None = Field(default=None, description="certificate keys only")
    suspicious_checks: list[SuspiciousCheckOut]


class TrustedKeyOut(Output):
    kid: str = Field(description="key id (hex)")
    alg: str
    purpose: str
    spki: str = Field(description="SubjectPublicKeyInfo, base64")
    not_before: Instant
    not_after: Instant | None
    retired_at: Instant | None
    compromised_since: Instant | None


class TrustListOut(Output):
    issuer: str
    issued_at: Instant
    expires_at: Instant
    keys: list[TrustedKeyOut]
    next_trust_list_key_sha256: list[str] = Field(
        description="hashes of the announced next trust-list keys (hex)")


class StatusShardOut(Output):
    shard: int
    uri: str
    capacity: int
    version: int
    published_at: Instant | None


class StatusListsOut(Output):
    items: list[StatusShardOut]


class VerifiedCertificateOut(Output):
    number: str
    guard_name: str
    skill_level: int
    employer_id: int | str | None = Field(description="as signed in the claims")
    employer_name: str | None
    issued_at: Instant
    expires_at: Instant
    card: int | None = Field(description="the printed card's serial, if a card was shown")


class EmployerOut(Output):
    id: int
    name: str
    licence_status: str
    matches_certificate: bool


class VerificationOut(Output):
    verdict: str = Field(description="valid, card, or the reason it is not (revoked, ...)")
    checked_at: Instant
    detail: str | None = None
    certificate: VerifiedCertificateOut | None = Field(
        default=None, description="the signed claims (absent when the signature failed)")
    live_status: str | None = None
    status_reason: str | None = None
    employer: EmployerOut | None = None
    employer_note: str | None = None
    skill_level: int | None = Field(default=None, description="the live record's level")
    permitted_services: list[str] | None = None
    photo: str | None = Field(default=None, description="data: URL of the enrolled photo")
    photo_note: str | None = None

