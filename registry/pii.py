"""Personal fields at rest: the ID number and the phone number are sealed, and one keyed
blind index of the ID number serves every look-up, join, ban check and uniqueness rule.

Why: someone who can read the database (a backup, a replica, a DBA, an SQL injection)
should not get a list of ID numbers and phone numbers of every guard in the city. Names
stay searchable in clear (the regulator searches by name every day, and a name alone
identifies no one among 150,000); the birth date needed by the age rules is stored on
its own (docs/SECURITY.md).

- ``blind_index(id_number)``: HMAC-SHA256 with a key derived from ``GUARDREG_PII_SECRET``;
  equal ID numbers give equal indexes, so ``=`` joins and UNIQUE constraints work, and
  without the key nobody can test a guessed ID number against the table (an 18-character
  ID number has little entropy: a plain hash would be brute-forced in minutes).
- ``seal`` / ``open``: AES-256-GCM, the purpose and the row's blind index as associated
  data, so a ciphertext copied onto another person's row does not open.

Format of a sealed value: ``b"GRP1" | nonce (12) | ciphertext+tag``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry.errors import GuardregError

if TYPE_CHECKING:
    from registry.db import Database
    from registry.settings import Settings

log = logging.getLogger(__name__)

MAGIC = b"GRP1"


class PiiError(GuardregError):
    """A sealed personal field failed authentication (wrong key, tampered, moved)."""

    status = 500
    code = "pii-seal-error"


class PiiCodec:
    """Seals personal fields and computes the ID number's blind index."""

    def __init__(self, seal_key: bytes, index_key: bytes) -> None:
        if len(seal_key) != 32 or len(index_key) != 32:
            raise ValueError("the PII keys must be 32 bytes")
        if seal_key == index_key:
            raise ValueError("the sealing key and the index key must differ")
        self._aead = AESGCM(seal_key)
        self._index_key = index_key

    @classmethod
    def from_settings(cls, settings: Settings) -> PiiCodec:
        return cls(settings.derive_key("pii_secret", "pii-at-rest-v1"),
                   settings.derive_key("pii_secret", "pii-blind-index-v1"))

    def blind_index(self, id_number: str) -> bytes:
        """The keyed look-up value of an ID number (upper-case X, no spaces)."""
        normal = id_number.strip().upper()
        return hmac.new(self._index_key, b"id-number\x00" + normal.encode(),
                        hashlib.sha256).digest()

    def code_index(self, code: str) -> bytes:
        """The keyed hash a one-time code (an exam registration code) is stored as: the
        code is shown once and never kept (a database reader cannot use it)."""
        normal = code.strip().upper().replace("-", "").replace(" ", "")
        return hmac.new(self._index_key, b"exam-code\x00" + normal.encode(),
                        hashlib.sha256).digest()

    def keyed_hash(self, purpose: str, *parts: bytes) -> bytes:
        """A keyed hash of a one-time secret and what it is bound to (an enrollment
        confirmation code, registry/enroll_consent.py): a database reader cannot test
        guesses against it without the key."""
        mac = hmac.new(self._index_key, purpose.encode() + b"\x00", hashlib.sha256)
        for part in parts:
            mac.update(len(part).to_bytes(4, "big") + part)
        return mac.digest()

    def seal(self, value: str, *, purpose: str, bound_to: bytes) -> bytes:
        nonce = os.urandom(12)
        return MAGIC + nonce + self._aead.encrypt(nonce, value.encode(),
                                                  purpose.encode() + b"\x00" + bound_to)

    def open(self, sealed: bytes | memoryview, *, purpose: str, bound_to: bytes) -> str:
        blob = bytes(sealed)
        if len(blob) < len(MAGIC) + 12 + 16 or not blob.startswith(MAGIC):
            raise PiiError("a sealed personal field is damaged")
        nonce, body = blob[4:16], blob[16:]
        try:
            return self._aead.decrypt(nonce, body,
                                      purpose.encode() + b"\x00" + bound_to).decode()
        except InvalidTag as exc:
            raise PiiError("a sealed personal field does not open (wrong key or moved)"
                           ) from exc

    # -- rows --------------------------------------------------------------------------
    def seal_person(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` for an INSERT/UPDATE of registry_guard with ``id_number`` and
        ``phone`` replaced by their sealed columns (and the blind index). An update that
        changes the phone but not the ID number passes ``_bidx`` (the row's index)."""
        out = dict(values)
        bidx: bytes | None = out.pop("_bidx", None)
        if "id_number" in out:
            number = out.pop("id_number")
            bidx = self.blind_index(number)
            out["id_number_bidx"] = bidx
            out["id_number_sealed"] = self.seal(number.strip().upper(), purpose="id_number",
                                                bound_to=bidx)
        if "phone" in out:
            phone = out.pop("phone")
            if bidx is None:
                raise ValueError("sealing a phone number needs the row's blind index")
            out["phone_sealed"] = (None if phone is None else
                                   self.seal(phone, purpose="phone", bound_to=bidx))
        return out

    def open_person(self, row: dict[str, Any]) -> dict[str, Any]:
        """A row read with the sealed columns, given back with ``id_number`` and
        ``phone`` in clear (the sealed columns and the blind index removed: views never
        see bytes, and the index is recomputed from the number where needed)."""
        if "id_number_sealed" not in row:
            return row
        bidx = bytes(row.pop("id_number_bidx"))
        sealed_id = row.pop("id_number_sealed")
        if sealed_id is None:  # purged at the end of the retention period (migration 0084)
            row["id_number"] = None
            if "phone_sealed" in row:
                row.pop("phone_sealed")
                row["phone"] = None
            return row
        row["id_number"] = self.open(sealed_id, purpose="id_number", bound_to=bidx)
        if "phone_sealed" in row:
            sealed = row.pop("phone_sealed")
            row["phone"] = (None if sealed is None else
                            self.open(sealed, purpose="phone", bound_to=bidx))
        return row


def seal_legacy_rows(db: Database, *, batch: int = 500) -> int:
    """Seal the ID numbers and phones written before migration 0080 (resumable, in
    batches, safe to run on several hosts at once), then validate the constraints that
    forbid clear values. Returns the number of rows sealed now."""
    from registry import pii_repository as repo

    codec = db.pii
    sealed = 0
    while True:
        with db.transaction() as cur:
            guards = repo.legacy_guards(cur, batch)
            for g in guards:
                v = codec.seal_person({"id_number": g["legacy_id_number"],
                                       "phone": g["legacy_phone"]})
                repo.seal_guard(cur, g["id"], v["id_number_bidx"], v["id_number_sealed"],
                                v["phone_sealed"])
            bans = repo.legacy_bans(cur, batch)
            for b in bans:
                v = codec.seal_person({"id_number": b["legacy_id_number"]})
                repo.seal_ban(cur, b["id"], v["id_number_bidx"], v["id_number_sealed"])
        sealed += len(guards) + len(bans)
        if not guards and not bans:
            break
    with db.transaction() as cur:
        if repo.clear_pii_constraints_pending(cur):
            repo.validate_clear_pii_constraints(cur)
    if sealed:
        log.info("sealed the personal fields of %d rows written before migration 0080",
                 sealed)
    return sealed
