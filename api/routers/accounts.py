"""Accounts and sessions for people: sign-in, second factor, sessions, activation.

Parse -> call one use case in registry/accounts.py -> shape the view. The sign-in and
activation endpoints are public on purpose (they are how one gets credentials); the
session endpoints take the session cookie only (an API key has no session).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.access import GuardRef, actor_of, public_guard_id
from api.deps import clock, require, runtime
from api.schemas import Input
from api.sessions import (
    SESSION_COOKIE,
    account_keys,
    clear_cookies,
    session_of,
    session_policy,
    set_cookies,
)
from registry import accounts
from registry.accounts import Account, Credentials, SessionInfo
from registry.auth import Principal, Role
from registry.errors import Forbidden, Unauthenticated

router = APIRouter(tags=["accounts"])
Now = Annotated[dt.datetime, Depends(clock)]
Manager = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR))]


async def current_session(request: Request) -> SessionInfo:
    """The session behind the cookie (password change still pending is allowed here)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Unauthenticated("not signed in")
    info: SessionInfo = await run_in_threadpool(
        session_of, request, runtime(request), token, request.app.state.clock())
    return info


Session = Annotated[SessionInfo, Depends(current_session)]


# -- models --------------------------------------------------------------------------------
class SignInIn(Input):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=256)
    code: str | None = Field(default=None, max_length=40,
                             description="TOTP code, or a recovery code (regulator accounts)")


class PrincipalOut(BaseModel):
    id: int
    name: str
    role: Role
    company_id: int | None = None
    guard_id: str | None = None


class SignedInOut(BaseModel):
    principal: PrincipalOut
    csrf_token: str = Field(description="send it back as X-CSRF-Token on every change")
    session_id: str
    expires_at: dt.datetime
    must_change_password: bool


class WhoAmIOut(BaseModel):
    principal: PrincipalOut
    session_id: str
    must_change_password: bool


class PasswordIn(Input):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class SessionOut(BaseModel):
    public_id: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    user_agent: str
    address: str
    current: bool


class SessionsOut(BaseModel):
    items: list[SessionOut]


class AccountIn(Input):
    username: str = Field(min_length=3, max_length=40)
    role: Literal["regulator", "company_operator", "checkpoint_officer", "training_unit",
                  "skill_assessor", "exam_staff", "association", "market_regulation",
                  "human_resources", "tax"]
    company_id: int | None = Field(default=None, ge=1, le=2**62)


class AccountOut(BaseModel):
    id: int
    username: str
    role: Role
    company_id: int | None
    guard_id: str | None
    must_change_password: bool
    second_factor: bool
    locked: bool
    disabled: bool
    created_at: dt.datetime


class AccountsOut(BaseModel):
    items: list[AccountOut]


class CredentialsOut(BaseModel):
    """Shown once: the one-time password, and for a regulator the TOTP secret (as an
    otpauth URI for an authenticator app) and the recovery codes."""

    account: AccountOut
    one_time_password: str
    totp_uri: str | None = None
    totp_secret: str | None = None
    recovery_codes: list[str] = []


class ActivationCodeOut(BaseModel):
    code: str = Field(description="shown once; the guard types it on the guard page")
    expires_at: dt.datetime


class ActivateIn(Input):
    code: str = Field(min_length=4, max_length=40)
    username: str = Field(min_length=3, max_length=40)
    password: str = Field(min_length=1, max_length=256)


def _principal(request: Request, p: Principal) -> PrincipalOut:
    return PrincipalOut(id=p.id, name=p.name, role=p.role, company_id=p.company_id,
                        guard_id=public_guard_id(request, p.guard_id))


def _account(request: Request, a: Account) -> AccountOut:
    return AccountOut(id=a.id, username=a.username, role=a.role, company_id=a.company_id,
                      guard_id=public_guard_id(request, a.guard_id),
                      must_change_password=a.must_change_password,
                      second_factor=a.second_factor, locked=a.locked, disabled=a.disabled,
                      created_at=a.created_at)


def _credentials(request: Request, c: Credentials) -> CredentialsOut:
    return CredentialsOut(account=_account(request, c.account), one_time_password=c.password,
                          totp_uri=c.totp_uri, totp_secret=c.totp_secret,
                          recovery_codes=list(c.recovery_codes))


# -- sign-in and the session -----------------------------------------------------------------
@router.post("/v1/session", response_model=SignedInOut,
             summary="Sign in with username, password and (regulators) a TOTP code (public)")
def sign_in(body: SignInIn, request: Request, response: Response, now: Now) -> SignedInOut:
    rt = runtime(request)
    with rt.db.transaction() as cur:
        signed = accounts.sign_in(
            cur, now=now, keys=account_keys(rt.settings),
            policy=session_policy(rt.settings), username=body.username,
            password=body.password, code=body.code,
            user_agent=request.headers.get("user-agent", ""),
            address=request.client.host if request.client else "")
    if signed is None:  # refused; the failure count was committed with the transaction
        raise Unauthenticated(accounts.SIGN_IN_REFUSED)
    set_cookies(response, request, signed)
    return SignedInOut(principal=_principal(request, signed.principal),
                       csrf_token=signed.csrf_token, session_id=signed.session_id,
                       expires_at=signed.expires_at,
                       must_change_password=signed.must_change_password)


@router.get("/v1/session", response_model=WhoAmIOut, summary="Who is signed in (session)")
def who_am_i(info: Session, request: Request) -> WhoAmIOut:
    return WhoAmIOut(principal=_principal(request, info.principal),
                     session_id=info.session_id, must_change_password=info.must_change_password)


@router.delete("/v1/session", status_code=204, summary="Sign out (session)")
def sign_out(info: Session, request: Request, response: Response, now: Now) -> None:
    with runtime(request).db.transaction() as cur:
        accounts.sign_out(cur, info=info, now=now)
    clear_cookies(response, request)


@router.post("/v1/session/password", status_code=204,
             summary="Change the password (session); other sessions end")
def change_password(body: PasswordIn, info: Session, request: Request, now: Now) -> None:
    with runtime(request).db.transaction() as cur:
        accounts.change_password(cur, info=info, now=now, current=body.current_password,
                                 new=body.new_password)


@router.get("/v1/sessions", response_model=SessionsOut,
            summary="This account's open sessions (session)")
def list_sessions(info: Session, request: Request, now: Now) -> SessionsOut:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = accounts.sessions(cur, info=info, now=now)
    return SessionsOut(items=[SessionOut.model_validate(r) for r in rows])


@router.delete("/v1/sessions/{public_id}", status_code=204,
               summary="End one of this account's sessions (session)")
def end_session(public_id: Annotated[str, Path(max_length=40)], info: Session,
                request: Request, now: Now) -> None:
    with runtime(request).db.transaction() as cur:
        accounts.end_session(cur, info=info, now=now, public_id=public_id)


# -- managing accounts -----------------------------------------------------------------------
@router.post("/v1/accounts", status_code=201, response_model=CredentialsOut,
             summary="Create an account (regulator; a company for its own clerks)")
def create_account(body: AccountIn, request: Request, principal: Manager, now: Now
                   ) -> CredentialsOut:
    role = Role(body.role)
    company_id = body.company_id
    if principal.role is Role.COMPANY_OPERATOR:
        if role is not Role.COMPANY_OPERATOR:
            raise Forbidden("a company creates accounts for its own clerks only")
        company_id = principal.company_id
    rt = runtime(request)
    with rt.db.transaction() as cur:
        created = accounts.create_account(
            cur, actor=actor_of(principal), now=now, keys=account_keys(rt.settings),
            username=body.username, role=role, company_id=company_id,
            issuer=rt.settings.issuer)
    return _credentials(request, created)


@router.get("/v1/accounts", response_model=AccountsOut,
            summary="Accounts (regulator: all; a company: its own clerks)")
def list_accounts(request: Request, principal: Manager, now: Now) -> AccountsOut:
    company = principal.company_id if principal.role is Role.COMPANY_OPERATOR else None
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = accounts.list_accounts(cur, now=now, company_id=company)
    return AccountsOut(items=[_account(request, a) for a in rows])


@router.post("/v1/accounts/{account_id}/reset", response_model=CredentialsOut,
             summary="Reset an account: one-time password, sessions ended, lock lifted")
def reset_account(account_id: Annotated[int, Path(ge=1, le=2**62)], request: Request,
                  principal: Manager, now: Now) -> CredentialsOut:
    rt = runtime(request)
    with rt.db.transaction() as cur:
        done = accounts.reset(cur, actor=actor_of(principal), manager=principal, now=now,
                              keys=account_keys(rt.settings), account_id=account_id,
                              issuer=rt.settings.issuer)
    return _credentials(request, done)


@router.post("/v1/accounts/{account_id}/disable", response_model=AccountOut,
             summary="Disable an account: its sessions end at once")
def disable_account(account_id: Annotated[int, Path(ge=1, le=2**62)], request: Request,
                    principal: Manager, now: Now) -> AccountOut:
    with runtime(request).db.transaction() as cur:
        done = accounts.disable(cur, actor=actor_of(principal), manager=principal, now=now,
                                account_id=account_id)
    return _account(request, done)


# -- guards activate their own page -------------------------------------------------------------
@router.post("/v1/guards/{guard_id}/activation-codes", status_code=201,
             response_model=ActivationCodeOut,
             summary="A one-time code with which the guard creates their account")
def activation_code(guard_id: GuardRef, request: Request,
                    principal: Manager, now: Now) -> ActivationCodeOut:
    rt = runtime(request)
    with rt.db.transaction() as cur:
        code, expires = accounts.issue_activation_code(
            cur, actor=actor_of(principal), issuer=principal, now=now,
            keys=account_keys(rt.settings), policy=session_policy(rt.settings),
            guard_id=guard_id)
    return ActivationCodeOut(code=code, expires_at=expires)


@router.post("/v1/accounts/activate", status_code=201, response_model=AccountOut,
             summary="A guard creates their account with an activation code (public)")
def activate(body: ActivateIn, request: Request, now: Now) -> AccountOut:
    rt = runtime(request)
    with rt.db.transaction() as cur:
        account = accounts.activate(cur, now=now, keys=account_keys(rt.settings),
                                    code=body.code, username=body.username,
                                    password=body.password)
    return _account(request, account)
