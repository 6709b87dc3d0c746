"""Revocation, suspension and reinstatement: conditional, idempotent, audited.

Reasons come from a closed list with an allow-list per role. Each change is an
``UPDATE ... WHERE status IN (...)``: zero rows means the certificate was already in
the target state (or cannot move there) and nothing changes; the audit event is
written either way. The shard's status list is republished in the same transaction.
Revocations for cause are also kept in the registry forever (Art. 17 bars).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from certificates import cards, publication, repository
from certificates.cose import SigningKey
from certificates.publication import StatusConfig
from registry import audit, events, notifications, service
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound


class RevocationReason(enum.StrEnum):
    BACKGROUND_CHECK_FAILED = "background-check-failed"
    INDUSTRY_BAN = "industry-ban"
    MISCONDUCT = "misconduct"
    SUPERSEDED = "superseded"
    LOST_DEVICE = "lost-device"
    EMPLOYER_LICENCE_REVOKED = "employer-licence-revoked"
    LEFT_INDUSTRY = "left-industry"
    ISSUED_IN_ERROR = "issued-in-error"
    LOST_CARD = "lost-card"  # the printed card only (certificates/cards.py)


class SuspensionReason(enum.StrEnum):
    INVESTIGATION = "investigation"
    LOST_DEVICE = "lost-device"
    PENDING_BACKGROUND_CHECK = "pending-background-check"


# Revocations that are sanctions and so count for the Art. 17 bars.
FOR_CAUSE = frozenset({RevocationReason.BACKGROUND_CHECK_FAILED, RevocationReason.INDUSTRY_BAN,
                       RevocationReason.MISCONDUCT})

REVOKE_ALLOWED: dict[str, frozenset[str]] = {
    "regulator": frozenset(RevocationReason) - {RevocationReason.SUPERSEDED},
    "company_operator": frozenset({RevocationReason.LOST_DEVICE,
                                   RevocationReason.LEFT_INDUSTRY,
                                   RevocationReason.LOST_CARD}),
    "system": frozenset(RevocationReason),
}
SUSPEND_ALLOWED: dict[str, frozenset[str]] = {
    "regulator": frozenset(SuspensionReason),
    "company_operator": frozenset({SuspensionReason.LOST_DEVICE}),
    "system": frozenset(SuspensionReason),
}


@dataclass(frozen=True)
class StatusChange:
    number: str
    status: str
    changed: bool
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "status": self.status, "changed": self.changed,
                "reason": self.reason}


def _check_role(table: dict[str, frozenset[str]], actor: Actor, reason: str) -> None:
    if reason not in table.get(actor.kind, frozenset()):
        raise Forbidden(f"the {actor.kind} role may not use the reason {reason!r}",
                        reason="reason-not-allowed")


_NOTICE = {"revoked": "certificate.revoked", "suspended": "certificate.suspended",
           "valid": "certificate.reinstated"}
_NOTICE_TEXT = {"revoked": "保安员证已吊销 certificate revoked",
                "suspended": "保安员证已暂停 certificate suspended",
                "valid": "保安员证已恢复 certificate reinstated"}


def _change(cur: Cursor, *, actor: Actor, now: dt.datetime, cert: dict[str, Any], to: str,
            from_statuses: tuple[str, ...], reason: str, action: str, status_signer: SigningKey,
            config: StatusConfig) -> StatusChange:
    publication_row = repository.lock_shard(cur, int(cert["status_shard"]))  # serialise shard
    row = repository.change_status(cur, cert["id"], to=to, from_statuses=from_statuses,
                                   reason=reason, at=now)
    changed = row is not None
    current = row or repository.get_by_id(cur, cert["id"])
    assert current is not None
    audit.record(cur, actor=actor, action=action, target_type="certificate",
                 target_id=cert["number"],
                 data={"reason": reason, "changed": changed, "status": current["status"]},
                 now=now)
    extra: set[int] = set()
    if changed and cert.get("kind", "certificate") == "certificate":
        # The printed card follows its certificate (certificates/cards.py).
        extra = cards.follow_certificate(cur, actor=actor, now=now, cert_id=int(cert["id"]),
                                         to=to, reason=reason)
    if changed and publication_row is not None:
        publication.publish(cur, shard=int(cert["status_shard"]), signer=status_signer,
                            config=config, now=now, locked=True)
    for shard in sorted(extra - {int(cert["status_shard"])}):
        publication.publish(cur, shard=shard, signer=status_signer, config=config, now=now)
    if changed and to in _NOTICE:
        notifications.notify_employer(
            cur, guard_id=int(cert["guard_id"]), kind=_NOTICE[to], now=now,
            subject=f"{cert['number']}: {_NOTICE_TEXT[to]} ({reason})",
            data={"number": cert["number"], "reason": reason})
    return StatusChange(cert["number"], current["status"], changed, current["status_reason"])


def revoke(cur: Cursor, *, actor: Actor, now: dt.datetime, number: str, reason: str,
           status_signer: SigningKey, config: StatusConfig) -> StatusChange:
    try:
        why = RevocationReason(reason)
    except ValueError as exc:
        raise InvalidInput(f"unknown revocation reason {reason!r}", field="reason") from exc
    _check_role(REVOKE_ALLOWED, actor, why)
    cert = repository.get_by_number(cur, number, for_update=True)
    if cert is None:
        raise NotFound("no such certificate")
    is_card = cert.get("kind") == "card"
    if is_card and why in FOR_CAUSE:
        raise InvalidInput("a sanction revokes the certificate (its card follows), not the "
                           "card alone", field="reason")
    if not is_card and why is RevocationReason.LOST_CARD:
        raise InvalidInput("lost-card revokes a printed card (number ...-C<n>)", field="reason")
    result = _change(cur, actor=actor, now=now, cert=cert, to="revoked",
                     from_statuses=("valid", "suspended"), reason=why.value,
                     action="certificate.revoke", status_signer=status_signer, config=config)
    if result.changed:
        events.emit(cur, events.CERTIFICATE_REVOKED, number=str(cert["number"]),
                    guard_id=int(cert["guard_id"]), kind=str(cert.get("kind", "certificate")),
                    reason=why.value, actor=actor, now=now)
    if result.changed and why in FOR_CAUSE:
        service.record_revocation(cur, guard_id=int(cert["guard_id"]), revoked_at=now,
                                  reason=why.value, certificate_number=number)
        # Clearing out (notice §6): a revocation for cause ends the employment too.
        service.clear_out(cur, actor=actor, now=now, guard_id=int(cert["guard_id"]),
                          reason=why.value)
    return result


def suspend(cur: Cursor, *, actor: Actor, now: dt.datetime, number: str, reason: str,
            status_signer: SigningKey, config: StatusConfig) -> StatusChange:
    try:
        why = SuspensionReason(reason)
    except ValueError as exc:
        raise InvalidInput(f"unknown suspension reason {reason!r}", field="reason") from exc
    _check_role(SUSPEND_ALLOWED, actor, why)
    cert = repository.get_by_number(cur, number, for_update=True)
    if cert is None:
        raise NotFound("no such certificate")
    if cert["status"] == "revoked":
        raise Conflict("a revoked certificate cannot be suspended", reason="already-revoked")
    return _change(cur, actor=actor, now=now, cert=cert, to="suspended",
                   from_statuses=("valid",), reason=why.value, action="certificate.suspend",
                   status_signer=status_signer, config=config)


def reinstate(cur: Cursor, *, actor: Actor, now: dt.datetime, number: str,
              status_signer: SigningKey, config: StatusConfig) -> StatusChange:
    if actor.kind not in ("regulator", "system"):
        raise Forbidden("only the regulator reinstates certificates")
    cert = repository.get_by_number(cur, number, for_update=True)
    if cert is None:
        raise NotFound("no such certificate")
    if cert["status"] not in ("suspended", "valid"):
        raise Conflict(f"only a suspended certificate can be reinstated (it is {cert['status']})",
                       reason="not-suspended")
    return _change(cur, actor=actor, now=now, cert=cert, to="valid",
                   from_statuses=("suspended",), reason="reinstated",
                   action="certificate.reinstate", status_signer=status_signer, config=config)


def revoke_guard(cur: Cursor, *, actor: Actor, now: dt.datetime, guard_id: int, reason: str,
                 status_signer: SigningKey, config: StatusConfig) -> StatusChange | None:
    """Revoke the guard's live certificate, if any (used by event handlers)."""
    live = repository.live_certificate(cur, guard_id)
    if live is None:
        return None
    return revoke(cur, actor=actor, now=now, number=live["number"], reason=reason,
                  status_signer=status_signer, config=config)
