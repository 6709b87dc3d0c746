"""Complaints and reports from the public (notice §2 §4; labour-rights reports, §11).

Anyone may complain, anonymously or with a contact; the answer is a tracking code with
about 100 bits of randomness, stored only as an HMAC, with which the complainant follows
the case. The regulator triages, assigns, investigates (internal notes) and closes it;
an upheld complaint may in the same transaction add a credit ledger entry, put the
company on a list, ban a person (which revokes their certificate through the registry
event) or order a guard's certificate suspended, each linked back to the case. Contact
details and attachments are sealed (AES-GCM) and purged, with the description and
notes, after the retention period of the supervision policy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry import audit, events, regulation, repository, service
from registry import complaints_repository as repo
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import Conflict, InvalidInput, NotFound

CATEGORIES = ("service-quality", "unlicensed-service", "guard-misconduct", "wage-arrears",
              "work-injury", "no-labour-contract", "no-social-insurance", "other")
PRIORITIES = ("low", "normal", "high")
OUTCOMES = ("upheld", "not-upheld", "referred")
ATTACHMENT_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png",
                    b"%PDF-": "application/pdf"}
MAX_ATTACHMENTS = 3
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PUBLIC_ACTOR = Actor("public")


@dataclass(frozen=True)
class ComplaintKeys:
    hmac_key: bytes   # tracking codes
    seal_key: bytes   # contact details and attachments at rest


@dataclass(frozen=True)
class Attachment:
    data: bytes

    @property
    def media_type(self) -> str:
        for magic, media in ATTACHMENT_TYPES.items():
            if self.data.startswith(magic):
                return media
        raise InvalidInput("attachments are JPEG, PNG or PDF files", field="attachments",
                           reason="attachment-type")


@dataclass(frozen=True)
class Submission:
    category: str
    description: str
    company_id: int | None = None
    company_text: str | None = None
    certificate_number: str | None = None
    contact: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Ban:
    id_number: str
    until_on: dt.date | None
    reason: str


@dataclass(frozen=True)
class Actions:
    """What an upheld complaint does, in the closing transaction."""

    credit_points: int | None = None
    list_name: str | None = None          # "black" or "abnormal"
    ban: Ban | None = None
    suspend_guard_id: int | None = None


def _text(value: str | None, field: str, *, low: int, high: int) -> str | None:
    if value is None:
        return None
    text = unicodedata.normalize("NFC", value).strip()
    if any(unicodedata.category(c) in ("Cc", "Cf") and c not in "\n\t" for c in text):
        raise InvalidInput(f"{field} holds control or direction characters", field=field)
    if not low <= len(text) <= high:
        raise InvalidInput(f"{field} is {low} to {high} characters", field=field)
    return text


def _mac(keys: ComplaintKeys, code: str) -> bytes:
    clean = "".join(c for c in code.upper() if c.isalnum())
    return hmac.new(keys.hmac_key, f"complaint:{clean}".encode(), hashlib.sha256).digest()


def _seal(keys: ComplaintKeys, data: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(keys.seal_key).encrypt(nonce, data, aad)


def _open(keys: ComplaintKeys, sealed: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(keys.seal_key).decrypt(sealed[:12], sealed[12:], aad)
    except InvalidTag as exc:
        raise Conflict("this record cannot be opened with the current key",
                       reason="sealed-key-mismatch") from exc


def _event(cur: Cursor, complaint_id: int, kind: str, actor: Actor, now: dt.datetime, *,
           public: bool = False, detail: str | None = None, ref: tuple[str, int] | None = None
           ) -> None:
    repo.add_event(cur, {"complaint_id": complaint_id, "kind": kind, "public": public,
                         "detail": detail, "ref_type": ref[0] if ref else None,
                         "ref_id": ref[1] if ref else None, "actor": actor.label,
                         "created_at": now})


def submit(cur: Cursor, *, now: dt.datetime, keys: ComplaintKeys, sub: Submission) -> str:
    """Record a complaint; returns its tracking code (shown once, never stored)."""
    if sub.category not in CATEGORIES:
        raise InvalidInput(f"category is one of {', '.join(CATEGORIES)}", field="category")
    description = _text(sub.description, "description", low=10, high=5000)
    company_text = _text(sub.company_text, "company", low=1, high=200)
    contact = _text(sub.contact, "contact", low=3, high=200)
    number = _text(sub.certificate_number, "certificate_number", low=4, high=40)
    if sub.company_id is not None and repository.get_company(cur, sub.company_id) is None:
        raise InvalidInput("no such company", field="company_id")
    if len(sub.attachments) > MAX_ATTACHMENTS:
        raise InvalidInput(f"at most {MAX_ATTACHMENTS} attachments", field="attachments")
    media = [a.media_type for a in sub.attachments]  # validates every file first
    code = "-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(4))
    tracking = _mac(keys, code)
    complaint_id = repo.insert_complaint(cur, {
        "tracking_hash": tracking, "category": sub.category, "company_id": sub.company_id,
        "company_text": company_text, "certificate_number": number,
        "description": description, "created_at": now,
        "contact_sealed": _seal(keys, contact.encode(), b"contact:" + tracking)
        if contact else None})
    for attachment, media_type in zip(sub.attachments, media, strict=True):
        digest = hashlib.sha256(attachment.data).digest()
        repo.add_attachment(cur, {
            "complaint_id": complaint_id, "media_type": media_type,
            "size": len(attachment.data), "sha256": digest,
            "sealed": _seal(keys, attachment.data, b"attachment:" + digest)})
    _event(cur, complaint_id, "received", PUBLIC_ACTOR, now, public=True)
    audit.record(cur, actor=PUBLIC_ACTOR, action="complaint.receive", target_type="complaint",
                 target_id=complaint_id, data={"category": sub.category,
                                               "company_id": sub.company_id,
                                               "attachments": len(media),
                                               "anonymous": contact is None}, now=now)
    return code


def track(cur: Cursor, *, keys: ComplaintKeys, code: str) -> dict[str, Any]:
    """What the complainant sees: status, public steps and the outcome's summary."""
    if not 10 <= len(code) <= 40:
        raise NotFound("no complaint with this tracking code")
    row = repo.by_tracking(cur, _mac(keys, code))
    if row is None:
        raise NotFound("no complaint with this tracking code")
    return {"status": row["status"], "category": row["category"],
            "received_at": row["created_at"], "closed_at": row["closed_at"],
            "outcome": row["outcome"], "summary": row["public_summary"],
            "steps": [{"kind": e["kind"], "at": e["created_at"], "detail": e["detail"]}
                      for e in repo.events(cur, int(row["id"]), public_only=True)]}


def list_cases(cur: Cursor, *, status: str | None, after_id: int, limit: int
               ) -> list[dict[str, Any]]:
    """The regulator's queue, oldest first (no contact, no description)."""
    return repo.list_cases(cur, status=status, after_id=after_id, limit=limit)


def case(cur: Cursor, *, keys: ComplaintKeys, complaint_id: int) -> dict[str, Any]:
    """The regulator's view: everything, the contact opened."""
    row = repo.get(cur, complaint_id)
    if row is None:
        raise NotFound("no such complaint")
    contact = None
    if row["contact_sealed"] is not None:
        tracking_aad = b"contact:" + repo.tracking_hash(cur, complaint_id)
        contact = _open(keys, bytes(row["contact_sealed"]), tracking_aad).decode()
    out = {k: v for k, v in row.items() if k != "contact_sealed"}
    out.update(contact=contact, events=repo.events(cur, complaint_id, public_only=False),
               attachments=[{"id": a["id"], "media_type": a["media_type"], "size": a["size"],
                             "sha256": bytes(a["sha256"]).hex()}
                            for a in repo.attachments(cur, complaint_id)])
    return out


def attachment(cur: Cursor, *, keys: ComplaintKeys, complaint_id: int, attachment_id: int
               ) -> tuple[str, bytes]:
    row = repo.attachment(cur, complaint_id, attachment_id)
    if row is None:
        raise NotFound("no such attachment")
    return str(row["media_type"]), _open(keys, bytes(row["sealed"]),
                                         b"attachment:" + bytes(row["sha256"]))


def _open_case(cur: Cursor, complaint_id: int) -> dict[str, Any]:
    row = repo.get(cur, complaint_id, for_update=True)
    if row is None:
        raise NotFound("no such complaint")
    if row["status"] == "closed":
        raise Conflict("the complaint is closed", reason="complaint-closed")
    return row


def triage(cur: Cursor, *, actor: Actor, now: dt.datetime, complaint_id: int, priority: str,
           category: str | None = None, company_id: int | None = None) -> None:
    row = _open_case(cur, complaint_id)
    if priority not in PRIORITIES:
        raise InvalidInput(f"priority is one of {', '.join(PRIORITIES)}", field="priority")
    changes: dict[str, Any] = {"priority": priority}
    if row["status"] == "received":
        changes["status"] = "triaged"
    if category is not None:
        if category not in CATEGORIES:
            raise InvalidInput("unknown category", field="category")
        changes["category"] = category
    if company_id is not None:
        if repository.get_company(cur, company_id) is None:
            raise InvalidInput("no such company", field="company_id")
        changes["company_id"] = company_id
    repo.update(cur, complaint_id, changes)
    _event(cur, complaint_id, "triaged", actor, now, public=row["status"] == "received")
    audit.record(cur, actor=actor, action="complaint.triage", target_type="complaint",
                 target_id=complaint_id, data={"priority": priority}, now=now)


def assign(cur: Cursor, *, actor: Actor, now: dt.datetime, complaint_id: int,
           assignee: str) -> None:
    _open_case(cur, complaint_id)
    who = _text(assignee, "assignee", low=1, high=100)
    repo.update(cur, complaint_id, {"assigned_to": who, "status": "investigating"})
    _event(cur, complaint_id, "assigned", actor, now, public=True)
    audit.record(cur, actor=actor, action="complaint.assign", target_type="complaint",
                 target_id=complaint_id, now=now)


def add_note(cur: Cursor, *, actor: Actor, now: dt.datetime, complaint_id: int,
             note: str) -> None:
    _open_case(cur, complaint_id)
    _event(cur, complaint_id, "note", actor, now,
           detail=_text(note, "note", low=1, high=5000))


def close(cur: Cursor, *, actor: Actor, now: dt.datetime, complaint_id: int, outcome: str,
          summary: str, actions: Actions) -> dict[str, Any]:
    row = _open_case(cur, complaint_id)
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome is one of {', '.join(OUTCOMES)}", field="outcome")
    public_summary = _text(summary, "summary", low=2, high=2000)
    wants = actions != Actions()
    if wants and outcome != "upheld":
        raise InvalidInput("only an upheld complaint has consequences", field="actions")
    company_id = row["company_id"]
    if (actions.credit_points or actions.list_name) and company_id is None:
        raise InvalidInput("name the company (triage) before a credit or list consequence",
                           field="actions")
    if actions.credit_points:
        entry = regulation.add_credit_event(
            cur, actor=actor, now=now, company_id=int(company_id),
            points=actions.credit_points, kind="complaint",
            reason=f"complaint {complaint_id} upheld", evidence=f"complaint:{complaint_id}",
            occurred_on=now.date())
        _event(cur, complaint_id, "action", actor, now, detail="credit",
               ref=("credit-entry", int(entry["id"])))
    if actions.list_name:
        if actions.list_name not in ("black", "abnormal"):
            raise InvalidInput("a complaint can put a company on the black or the "
                               "abnormal-operations list", field="list")
        listed = regulation.put_on_list(cur, actor=actor, now=now, company_id=int(company_id),
                                        lst=actions.list_name,
                                        reason=f"[complaint:{complaint_id}] upheld complaint")
        _event(cur, complaint_id, "action", actor, now, detail=f"list:{actions.list_name}",
               ref=("list-entry", int(listed["id"])))
    if actions.ban is not None:
        ban = service.ban_person(cur, actor=actor, now=now, id_number=actions.ban.id_number,
                                 reason=f"complaint {complaint_id}: {actions.ban.reason}",
                                 until_on=actions.ban.until_on, company_id=None)
        _event(cur, complaint_id, "action", actor, now, detail="ban",
               ref=("ban", int(ban["id"])))
    if actions.suspend_guard_id is not None:
        if repository.get_guard(cur, actions.suspend_guard_id) is None:
            raise InvalidInput("no such guard", field="suspend_guard_id")
        events.emit(cur, events.CERTIFICATE_SUSPENSION_ORDERED,
                    guard_id=actions.suspend_guard_id, actor=actor, now=now,
                    reason="investigation")
        _event(cur, complaint_id, "action", actor, now, detail="suspension",
               ref=("guard", actions.suspend_guard_id))
    repo.update(cur, complaint_id, {"status": "closed", "outcome": outcome,
                                    "public_summary": public_summary, "closed_at": now})
    _event(cur, complaint_id, "closed", actor, now, public=True, detail=outcome)
    audit.record(cur, actor=actor, action="complaint.close", target_type="complaint",
                 target_id=complaint_id, data={"outcome": outcome, "actions": wants}, now=now)
    return {"id": complaint_id, "status": "closed", "outcome": outcome,
            "actions": [e for e in repo.events(cur, complaint_id, public_only=False)
                        if e["kind"] == "action"]}


def purge_closed(cur: Cursor, *, now: dt.datetime, retention: dt.timedelta,
                 limit: int = 200) -> int:
    """Purge up to ``limit`` cases closed longer than ``retention`` ago (resumable)."""
    ids = repo.closed_before(cur, now - retention, limit=limit)
    for complaint_id in ids:
        repo.purge(cur, complaint_id, now)
        audit.record(cur, actor=audit.SYSTEM, action="complaint.purge",
                     target_type="complaint", target_id=complaint_id, now=now)
    return len(ids)
