"""Session cookies for people signed in with an account (registry/accounts.py).

The cookie ``guardreg_session`` holds the session's secret: HttpOnly (scripts never see
it), SameSite=Strict, Path=/, Secure whenever the request came over HTTPS (directly or
through a proxy that says so in ``X-Forwarded-Proto``, when ``forwarded_allow_ips``
lets uvicorn trust it). State-changing requests authenticated by the cookie must carry
``X-CSRF-Token``, a value bound to the session that the sign-in answer returns and the
readable cookie ``guardreg_csrf`` repeats; a cross-site form can send the cookie but
can neither read nor forge that header. API keys (``Authorization``) need no CSRF token:
browsers never attach them on their own.
"""

from __future__ import annotations

import datetime as dt
import hmac

from fastapi import Request, Response

from api.runtime import Runtime
from registry import accounts
from registry.accounts import AccountKeys, SessionInfo, SessionPolicy
from registry.errors import Forbidden
from registry.settings import Settings

SESSION_COOKIE = "guardreg_session"
CSRF_COOKIE = "guardreg_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def account_keys(settings: Settings) -> AccountKeys:
    return AccountKeys(hmac_key=settings.derive_key("apikey_pepper", "account-hmac"),
                       totp_key=settings.derive_key("apikey_pepper", "account-totp"))


def session_policy(settings: Settings) -> SessionPolicy:
    return SessionPolicy(
        idle=dt.timedelta(minutes=settings.session_idle_minutes),
        max_age=dt.timedelta(hours=settings.session_max_hours),
        max_failures=settings.signin_max_failures,
        lock_for=dt.timedelta(minutes=settings.signin_lock_minutes),
        activation_ttl=dt.timedelta(hours=settings.activation_code_hours))


def session_of(request: Request, rt: Runtime, token: str, now: dt.datetime) -> SessionInfo:
    """The session behind the cookie (blocking: one read, a write once a minute); a
    state-changing request must also carry the session's CSRF token."""
    keys = account_keys(rt.settings)
    with rt.db.transaction() as cur:
        info = accounts.session(cur, token=token, now=now, keys=keys,
                                policy=session_policy(rt.settings))
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), accounts.csrf_token(keys, token).encode()):
            raise Forbidden("this request needs the session's X-CSRF-Token header",
                            reason="csrf")
    request.state.session = info
    return info


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookies(response: Response, request: Request, signed: accounts.SignedIn) -> None:
    secure = is_https(request)
    max_age = max(1, int((signed.expires_at - dt.datetime.now(dt.UTC)).total_seconds()))
    response.set_cookie(SESSION_COOKIE, signed.token, max_age=max_age, path="/",
                        httponly=True, samesite="strict", secure=secure)
    response.set_cookie(CSRF_COOKIE, signed.csrf_token, max_age=max_age, path="/",
                        httponly=False, samesite="strict", secure=secure)


def clear_cookies(response: Response, request: Request) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", samesite="strict", secure=is_https(request),
                               httponly=name == SESSION_COOKIE)
