"""Accounts for people: password (Argon2id), TOTP second factor, sessions, activation.

API keys stay for machines (registry/auth.py). A person signs in with a username and a
password, regulator accounts also with a TOTP code (RFC 6238) or a one-time recovery
code, and gets a session: a random token in an HttpOnly cookie, stored only as an HMAC.
Each account acts through a principal of its own, so roles, company scope and audit
labels work exactly as for keys.

Rules (docs/SECURITY.md "Accounts and sessions"):
- a failed sign-in answers the same whatever failed (unknown name, wrong password,
  wrong code, locked, disabled); ``signin_max_failures`` failures in a row lock the
  account for ``signin_lock_minutes``; a correct password resets the count;
- new and reset passwords are one-time: they must be changed before anything else;
- a TOTP code is accepted once (the last used time step is stored), within one step
  of skew; recovery codes are single-use and stored as HMACs;
- sessions expire after ``session_idle_minutes`` without use and ``session_max_hours``
  after sign-in; a password change or reset ends the account's other sessions;
- a guard activates their own account with a one-time code from the regulator or
  their current employer; an employer's code cannot replace an account the guard
  already has (only the regulator's can).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import struct
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry import accounts_repository as repo
from registry import audit, repository
from registry.audit import Actor
from registry.auth import COMPANY_BOUND, Principal, Role
from registry.db import Cursor
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated

SIGN_IN_REFUSED = "sign-in refused: wrong username, password or code, or the account is " \
                  "locked for a while after repeated failures"
TOTP_STEP_S = 30
TOTP_DIGITS = 6
RECOVERY_CODES = 10
_HASHER = PasswordHasher()  # Argon2id, the library's current recommended parameters
# Verified for unknown usernames, so that a miss costs what a hit costs.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed


@dataclass(frozen=True)
class AccountKeys:
    """Keys derived from the API-key pepper (Settings.derive_key), one per purpose."""

    hmac_key: bytes     # session tokens, recovery and activation codes
    totp_key: bytes     # seals TOTP secrets at rest


@dataclass(frozen=True)
class SessionPolicy:
    idle: dt.timedelta = dt.timedelta(minutes=30)
    max_age: dt.timedelta = dt.timedelta(hours=12)
    max_failures: int = 5
    lock_for: dt.timedelta = dt.timedelta(minutes=15)
    activation_ttl: dt.timedelta = dt.timedelta(hours=72)


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    role: Role
    principal_id: int
    company_id: int | None
    guard_id: int | None
    must_change_password: bool
    second_factor: bool
    locked: bool
    disabled: bool
    created_at: dt.datetime

    @classmethod
    def of(cls, row: dict[str, object], now: dt.datetime) -> Account:
        locked_until = row["locked_until"]
        return cls(
            id=int(row["id"]), username=str(row["username"]), role=Role(str(row["role"])),  # type: ignore[call-overload]
            principal_id=int(row["principal_id"]),  # type: ignore[call-overload]
            company_id=row["company_id"], guard_id=row["guard_id"],  # type: ignore[arg-type]
            must_change_password=bool(row["must_change_password"]),
            second_factor=row["totp_sealed"] is not None,
            locked=isinstance(locked_until, dt.datetime) and locked_until > now,
            disabled=row["disabled_at"] is not None,
            created_at=row["created_at"],  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class Credentials:
    """What a new or reset account is given, shown once."""

    account: Account
    password: str
    totp_uri: str | None = None
    totp_secret: str | None = None
    recovery_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignedIn:
    token: str
    csrf_token: str
    session_id: str
    expires_at: dt.datetime
    principal: Principal
    must_change_password: bool


@dataclass(frozen=True)
class SessionInfo:
    principal: Principal
    account_id: int
    session_id: str
    must_change_password: bool


# -- helpers -------------------------------------------------------------------------------
def _actor(principal: Principal) -> Actor:
    return Actor(principal.role.value, principal.id, principal.company_id)


def _mac(keys: AccountKeys, purpose: str, value: str) -> bytes:
    return hmac.new(keys.hmac_key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()


def csrf_token(keys: AccountKeys, token: str) -> str:
    """The CSRF token bound to a session token (sent back in ``X-CSRF-Token``)."""
    return base64.urlsafe_b64encode(_mac(keys, "csrf", token)).decode().rstrip("=")


def normalise_username(username: str) -> str:
    name = unicodedata.normalize("NFKC", username).strip().lower()
    if not (3 <= len(name) <= 40) or not all(c.isascii() and (c.isalnum() or c in "._-")
                                             for c in name) or not name[0].isalnum():
        raise InvalidInput("a username is 3-40 letters, digits, '.', '_' or '-', starting "
                           "with a letter or digit", field="username")
    return name


def check_password_policy(password: str, username: str) -> None:
    if not isinstance(password, str) or not (10 <= len(password) <= 256):
        raise InvalidInput("a password has 10 to 256 characters", field="password",
                           reason="weak-password")
    if len(set(password)) < 5 or username.lower() in password.lower():
        raise InvalidInput("the password is too easy to guess (few distinct characters, or "
                           "it contains the username)", field="password",
                           reason="weak-password")


def _one_time_password() -> str:
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4))


def _code(groups: int = 3) -> str:
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(groups))


def _clean_code(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


# -- TOTP (RFC 6238, HMAC-SHA1, 6 digits, 30 s) ----------------------------------------------
def totp_at(secret: bytes, step: int) -> str:
    digest = hmac.new(secret, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** TOTP_DIGITS).zfill(TOTP_DIGITS)


def totp_step(now: dt.datetime) -> int:
    return int(now.timestamp()) // TOTP_STEP_S


def _seal_totp(keys: AccountKeys, username: str, secret: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(keys.totp_key).encrypt(nonce, secret, f"totp:{username}".encode())


def _open_totp(keys: AccountKeys, username: str, sealed: bytes) -> bytes | None:
    try:
        return AESGCM(keys.totp_key).decrypt(sealed[:12], sealed[12:],
                                             f"totp:{username}".encode())
    except InvalidTag:  # a changed pepper, or a tampered row: no code can match
        return None


def _new_second_factor(cur: Cursor, keys: AccountKeys, account_id: int, username: str,
                       issuer: str) -> tuple[str, str, tuple[str, ...]]:
    secret = secrets.token_bytes(20)
    repo.update_account(cur, account_id, {"totp_sealed": _seal_totp(keys, username, secret),
                                          "totp_last_step": None})
    b32 = base64.b32encode(secret).decode().rstrip("=")
    uri = (f"otpauth://totp/{quote(issuer)}:{quote(username)}?secret={b32}"
           f"&issuer={quote(issuer)}&digits={TOTP_DIGITS}&period={TOTP_STEP_S}")
    codes = tuple(_code(3) for _ in range(RECOVERY_CODES))
    repo.replace_recovery_codes(cur, account_id,
                                [_mac(keys, "recovery", _clean_code(c)) for c in codes])
    return uri, b32, codes


# -- accounts ------------------------------------------------------------------------------
def create_account(cur: Cursor, *, actor: Actor, now: dt.datetime, keys: AccountKeys,
                   username: str, role: Role, company_id: int | None = None,
                   guard_id: int | None = None, issuer: str = "guardreg",
                   password: str | None = None) -> Credentials:
    """A new account with a one-time password (or ``password``, for activation); a
    regulator account also gets its TOTP secret and recovery codes."""

    name = normalise_username(username)
    if repo.get_account_by_username(cur, name) is not None:
        raise Conflict("this username is taken", reason="username-taken")
    if role in COMPANY_BOUND and company_id is None:
        raise InvalidInput("a company or training-unit account needs its company",
                           field="company_id")
    if role is Role.GUARD and guard_id is None:
        raise InvalidInput("a guard account needs its guard", field="guard_id")
    if role not in COMPANY_BOUND:
        company_id = None
    if role is not Role.GUARD:
        guard_id = None
    if company_id is not None and repository.get_company(cur, company_id) is None:
        raise NotFound("no such company")
    if guard_id is not None and repository.get_guard(cur, guard_id) is None:
        raise NotFound("no such guard")
    if password is not None:
        check_password_policy(password, name)
    initial = password if password is not None else _one_time_password()
    # The account's principal has no usable key: random bytes no key hashes to.
    principal_id = repository.insert_principal(
        cur, name=name, role=role.value, company_id=company_id, guard_id=guard_id,
        key_prefix="acct-" + secrets.token_hex(8), key_hash=secrets.token_bytes(32))
    account_id = repo.insert_account(cur, {
        "username": name, "principal_id": principal_id,
        "password_hash": _HASHER.hash(initial), "must_change_password": password is None,
        "created_by": actor.label})
    uri = b32 = None
    codes: tuple[str, ...] = ()
    if role is Role.REGULATOR:
        uri, b32, codes = _new_second_factor(cur, keys, account_id, name, issuer)
    audit.record(cur, actor=actor, action="account.create", target_type="account",
                 target_id=account_id, data={"role": role.value, "company_id": company_id,
                                             "guard_id": guard_id}, now=now)
    return Credentials(get(cur, account_id, now=now), initial, uri, b32, codes)


def get(cur: Cursor, account_id: int, *, now: dt.datetime) -> Account:
    row = repo.get_account(cur, account_id)
    if row is None:
        raise NotFound("no such account")
    return Account.of(row, now)


def list_accounts(cur: Cursor, *, now: dt.datetime, company_id: int | None = None
                  ) -> list[Account]:
    return [Account.of(r, now) for r in repo.list_accounts(cur, company_id=company_id)]


def _manageable(cur: Cursor, manager: Principal, account_id: int, now: dt.datetime) -> Account:
    """The account, if ``manager`` may manage it: the regulator any; a company operator the
    accounts of its own company (another company's is a 404, as for guards)."""
    account = get(cur, account_id, now=now)
    if manager.role is Role.REGULATOR:
        return account
    if manager.role is Role.COMPANY_OPERATOR and account.role is Role.COMPANY_OPERATOR \
            and account.company_id == manager.company_id:
        return account
    raise NotFound("no such account")


def reset(cur: Cursor, *, actor: Actor, manager: Principal, now: dt.datetime,
          keys: AccountKeys, account_id: int, issuer: str = "guardreg") -> Credentials:
    """A new one-time password, the lock lifted, every session ended; a regulator account
    also gets a new second factor (a reset is what a lost phone needs)."""
    account = _manageable(cur, manager, account_id, now)
    password = _one_time_password()
    repo.update_account(cur, account.id, {
        "password_hash": _HASHER.hash(password), "must_change_password": True,
        "failed_attempts": 0, "locked_until": None, "password_changed_at": now})
    repo.revoke_sessions_of(cur, account.id, now)
    uri = b32 = None
    codes: tuple[str, ...] = ()
    if account.role is Role.REGULATOR:
        uri, b32, codes = _new_second_factor(cur, keys, account.id, account.username, issuer)
    audit.record(cur, actor=actor, action="account.reset", target_type="account",
                 target_id=account.id, now=now)
    return Credentials(get(cur, account.id, now=now), password, uri, b32, codes)


def disable(cur: Cursor, *, actor: Actor, manager: Principal, now: dt.datetime,
            account_id: int) -> Account:
    account = _manageable(cur, manager, account_id, now)
    if account.principal_id == manager.id:
        raise Conflict("you cannot disable your own account", reason="own-account")
    if not account.disabled:
        repo.update_account(cur, account.id, {"disabled_at": now})
        repo.revoke_sessions_of(cur, account.id, now)
        repository.revoke_principal(cur, account.principal_id)
        audit.record(cur, actor=actor, action="account.disable", target_type="account",
                     target_id=account.id, now=now)
    return get(cur, account.id, now=now)


# -- sign-in and sessions --------------------------------------------------------------------
def sign_in(cur: Cursor, *, now: dt.datetime, keys: AccountKeys, policy: SessionPolicy,
            username: str, password: str, code: str | None = None, user_agent: str = "",
            address: str = "") -> SignedIn | None:
    """A new session, or None when refused: the caller commits (a failure is counted and
    may lock the account) and answers SIGN_IN_REFUSED, whatever failed."""
    try:
        name = normalise_username(username)
    except InvalidInput:
        name = ""
    row = repo.get_account_by_username(cur, name, for_update=True) if name else None
    if row is None:
        _burn(password)
        return None
    account = Account.of(row, now)
    if account.disabled or account.locked:
        _burn(password)
        return None
    ok = _verify(str(row["password_hash"]), password)
    if ok and row["totp_sealed"] is not None:
        ok = _second_factor(cur, keys, row, code, now)
    if not ok:
        repo.record_failure(cur, account.id, limit=policy.max_failures, now=now,
                            lock_for=policy.lock_for)
        return None
    changes: dict[str, object] = {"failed_attempts": 0, "locked_until": None}
    if _HASHER.check_needs_rehash(str(row["password_hash"])):
        changes["password_hash"] = _HASHER.hash(password)
    repo.update_account(cur, account.id, changes)
    token = secrets.token_urlsafe(32)
    session = repo.insert_session(cur, {
        "public_id": secrets.token_urlsafe(9), "account_id": account.id,
        "token_hash": _mac(keys, "session", token), "created_at": now, "last_seen_at": now,
        "expires_at": now + policy.max_age, "user_agent": user_agent[:200],
        "address": address[:64]})
    principal = Principal(account.principal_id, account.username, account.role,
                          account.company_id, account.guard_id)
    audit.record(cur, actor=_actor(principal), action="account.sign-in",
                 target_type="account", target_id=account.id,
                 data={"session": session["public_id"]}, now=now)
    return SignedIn(token, csrf_token(keys, token), str(session["public_id"]),
                    session["expires_at"], principal, account.must_change_password)


def _burn(password: str) -> None:
    """Spend what a real verification spends, so that timing does not tell."""
    _verify(_DUMMY_HASH, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return bool(_HASHER.verify(stored, password if isinstance(password, str) else ""))
    except (VerificationError, InvalidHashError):
        return False


def _second_factor(cur: Cursor, keys: AccountKeys, row: dict[str, object], code: str | None,
                   now: dt.datetime) -> bool:
    if not code:
        return False
    clean = _clean_code(code)
    account_id = int(row["id"])  # type: ignore[call-overload]
    if clean.isdigit() and len(clean) == TOTP_DIGITS:
        secret = _open_totp(keys, str(row["username"]), bytes(row["totp_sealed"]))  # type: ignore[call-overload]
        if secret is None:
            return False
        current = totp_step(now)
        for step in (current, current - 1, current + 1):
            if hmac.compare_digest(totp_at(secret, step), clean):
                return repo.use_totp_step(cur, account_id, step)
        return False
    return repo.use_recovery_code(cur, account_id, _mac(keys, "recovery", clean), now)


def session(cur: Cursor, *, token: str, now: dt.datetime, keys: AccountKeys,
            policy: SessionPolicy) -> SessionInfo:
    row = repo.session_by_token(cur, _mac(keys, "session", token)) if token else None
    if row is None or row["revoked_at"] is not None or row["disabled_at"] is not None \
            or row["principal_revoked_at"] is not None or row["expires_at"] <= now \
            or row["last_seen_at"] + policy.idle <= now:
        raise Unauthenticated("the session has ended: sign in again")
    if now - row["last_seen_at"] > dt.timedelta(minutes=1):  # one write a minute at most
        repo.touch_session(cur, int(row["id"]), now)
    principal = Principal(int(row["principal_id"]), str(row["username"]), Role(row["role"]),
                          row["company_id"], row["guard_id"])
    return SessionInfo(principal, int(row["account_id"]), str(row["public_id"]),
                       bool(row["must_change_password"]))


def sign_out(cur: Cursor, *, info: SessionInfo, now: dt.datetime) -> None:
    repo.revoke_session(cur, info.account_id, info.session_id, now)
    audit.record(cur, actor=_actor(info.principal), action="account.sign-out",
                 target_type="account", target_id=info.account_id, now=now)


def change_password(cur: Cursor, *, info: SessionInfo, now: dt.datetime, current: str,
                    new: str) -> None:
    row = repo.get_account(cur, info.account_id, for_update=True)
    if row is None or not _verify(str(row["password_hash"]), current):
        raise Forbidden("the current password is wrong", reason="wrong-password")
    check_password_policy(new, str(row["username"]))
    if _verify(str(row["password_hash"]), new):
        raise InvalidInput("the new password must differ from the current one",
                           field="new_password", reason="weak-password")
    repo.update_account(cur, info.account_id, {
        "password_hash": _HASHER.hash(new), "must_change_password": False,
        "password_changed_at": now})
    # Whoever else holds a session (a stolen one) loses it; this one goes on.
    ended = _end_other_sessions(cur, info, now)
    audit.record(cur, actor=_actor(info.principal), action="account.password",
                 target_type="account", target_id=info.account_id,
                 data={"other_sessions_ended": ended}, now=now)


def _end_other_sessions(cur: Cursor, info: SessionInfo, now: dt.datetime) -> int:
    sessions = repo.list_sessions(cur, info.account_id, now)
    ended = 0
    for s in sessions:
        if s["public_id"] != info.session_id:
            ended += int(repo.revoke_session(cur, info.account_id, str(s["public_id"]), now))
    return ended


def sessions(cur: Cursor, *, info: SessionInfo, now: dt.datetime) -> list[dict[str, object]]:
    return [{**s, "current": s["public_id"] == info.session_id}
            for s in repo.list_sessions(cur, info.account_id, now)]


def end_session(cur: Cursor, *, info: SessionInfo, now: dt.datetime, public_id: str) -> None:
    if not repo.revoke_session(cur, info.account_id, public_id, now):
        raise NotFound("no such session")
    audit.record(cur, actor=_actor(info.principal), action="account.session-end",
                 target_type="account", target_id=info.account_id, now=now)


# -- guard activation ------------------------------------------------------------------------
def issue_activation_code(cur: Cursor, *, actor: Actor, issuer: Principal, now: dt.datetime,
                          keys: AccountKeys, policy: SessionPolicy, guard_id: int
                          ) -> tuple[str, dt.datetime]:
    """A one-time code (shown once) with which the guard creates their own account. The
    regulator may issue one for anyone; a company only for its own current employees,
    and not for a guard who already has an account."""
    guard = repository.get_guard(cur, guard_id)
    if guard is None:
        raise NotFound("no such guard")
    if issuer.role is Role.COMPANY_OPERATOR:
        employment = repository.active_employment(cur, guard_id)
        if employment is None or employment["company_id"] != issuer.company_id:
            raise NotFound("no such guard")
        if repo.account_of_guard(cur, guard_id) is not None:
            raise Conflict("this guard already has an account; only the regulator can issue "
                           "a code that replaces it", reason="account-exists")
    elif issuer.role is not Role.REGULATOR:
        raise Forbidden("only the regulator or the guard's employer issues activation codes")
    code = _code(4)
    row = repo.insert_activation_code(cur, {
        "guard_id": guard_id, "code_hash": _mac(keys, "activation", _clean_code(code)),
        "created_by": actor.label, "created_at": now,
        "expires_at": now + policy.activation_ttl})
    audit.record(cur, actor=actor, action="account.activation-code", target_type="guard",
                 target_id=guard_id, data={"expires_at": row["expires_at"].isoformat()},
                 now=now)
    return code, row["expires_at"]


def activate(cur: Cursor, *, now: dt.datetime, keys: AccountKeys, code: str, username: str,
             password: str) -> Account:
    """The guard's own account from an activation code; a regulator's code replaces an
    existing account of the guard (its sessions end)."""
    used = repo.use_activation_code(cur, _mac(keys, "activation", _clean_code(code)), now)
    if used is None:
        raise Unauthenticated("the activation code is unknown, used or expired")
    guard_id, created_by = used
    existing = repo.account_of_guard(cur, guard_id)
    if existing is not None:
        if not created_by.startswith(Role.REGULATOR.value + ":"):
            raise Conflict("this guard already has an account; only the regulator can issue "
                           "a code that replaces it", reason="account-exists")
        repo.update_account(cur, int(existing["id"]), {"disabled_at": now})
        repo.revoke_sessions_of(cur, int(existing["id"]), now)
        repository.revoke_principal(cur, int(existing["principal_id"]))
    created = create_account(cur, actor=Actor("activation-code"), now=now, keys=keys,
                             username=username, role=Role.GUARD, guard_id=guard_id,
                             password=password)
    return created.account
