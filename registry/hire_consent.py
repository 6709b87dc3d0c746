"""A guard's consent to be hired by another company (issue 14, takeover by re-hire).

A company that enrolls a person who works, or has worked, for another company takes over
a record it did not create: their photo, history, certificates. It needs the person's
consent: a one-time hire code the guard reads on their own page and gives to the new
employer (or the regulator enrolls them). Only a hash of the code is stored, bound to the
guard's public id; a code is consumed by the hire it allows and expires after
:data:`CODE_TTL`. 8 characters of a 32-letter alphabet: 40 bits, against guesses that
must also name the ID number and pass the enroll rate limit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from registry import audit, repository
from registry.audit import Actor
from registry.db import Cursor

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or typed from a phone
CODE_LENGTH = 8
CODE_TTL = dt.timedelta(hours=72)


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch not in " -")


def _hash(public_id: str, code: str) -> bytes:
    return hashlib.sha256(b"guardreg-hire-consent\x00" + public_id.encode() + b"\x00"
                          + _normalise(code).encode()).digest()


def issue(cur: Cursor, *, actor: Actor, now: dt.datetime, guard_id: int,
          public_id: str) -> tuple[str, dt.datetime]:
    """A new hire code for the guard (the previous one, if any, stops working)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    expires = now + CODE_TTL
    repository.put_hire_consent(cur, guard_id, _hash(public_id, raw), now, expires)
    audit.record(cur, actor=actor, action="guard.hire_code", target_type="guard",
                 target_id=guard_id, data={"expires_at": expires.isoformat()}, now=now)
    return f"{raw[:4]}-{raw[4:]}", expires


def consume(cur: Cursor, *, guard_id: int, public_id: str, code: str | None,
            now: dt.datetime) -> bool:
    """True (and the code is used up) when ``code`` is the guard's current, unexpired code."""
    if not code or len(_normalise(code)) != CODE_LENGTH:
        return False
    return repository.take_hire_consent(cur, guard_id, _hash(public_id, code), now)
