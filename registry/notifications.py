"""The company's inbox and webhooks (issue 15: "the company told at every step").

``notify`` writes a notification for a company in the caller's transaction and queues one
delivery per active webhook; the job ``notifications.webhooks`` (api/webhooks.py) POSTs
them. Payloads are signed: ``X-Guardreg-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>" under the webhook's secret>``; the secret is shown once when the webhook is
made and kept sealed. Failed deliveries are retried with back-off (1, 5, 30 minutes,
2, 6, 24 hours) and then given up; every attempt is in the delivery log.

Webhook URLs are https (http in development mode). Outside development mode a URL whose
host is, or resolves to, a loopback, private, link-local, multicast or otherwise reserved
address is refused, at registration and again before each delivery (a name can be
re-pointed after it was checked).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import secrets
import socket
import urllib.parse
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry import audit, repository
from registry import notifications_repository as repo
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import Conflict, InvalidInput, NotFound
from registry.queries import page_of

KINDS = ("guard.cleared-out", "certificate.suspended", "certificate.revoked",
         "certificate.reinstated", "certificate.reissued", "enrollment.held",
         "training.rotation-due", "request.decided", "annual-report.due")
BACKOFF = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30),
           dt.timedelta(hours=2), dt.timedelta(hours=6), dt.timedelta(hours=24))
MAX_WEBHOOKS = 5


def notify(cur: Cursor, *, company_id: int, kind: str, subject: str, now: dt.datetime,
           guard_id: int | None = None, data: dict[str, Any] | None = None) -> int:
    """One notification for the company's inbox, and a delivery per active webhook.
    ``subject`` and ``data`` must carry no more personal data than the company already
    holds about its own guards (a name, never an ID number or a phone)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    nid = repo.insert_notification(cur, {"company_id": company_id, "kind": kind,
                                          "guard_id": guard_id, "subject": subject[:300],
                                          "data": data or {}, "created_at": now})
    repo.queue_deliveries(cur, company_id, nid, now)
    return nid


def notify_employer(cur: Cursor, *, guard_id: int, kind: str, subject: str, now: dt.datetime,
                    data: dict[str, Any] | None = None, company_id: int | None = None) -> None:
    """Tell the guard's current employer (or ``company_id``), if there is one."""
    if company_id is None:
        employment = repository.active_employment(cur, guard_id)
        if employment is None:
            return
        company_id = int(employment["company_id"])
    notify(cur, company_id=company_id, kind=kind, subject=subject, now=now, guard_id=guard_id,
           data=data)


# -- the inbox and the webhooks, as the company reads them ----------------------------------
@dataclass(frozen=True)
class Inbox:
    items: list[dict[str, Any]]  # newest first
    unread: int  # in the whole inbox, not only this page
    next_before: int | None  # the id to go below for the next page; None: the last page


def inbox(cur: Cursor, *, company_id: int, unread_only: bool, before_id: int | None,
          limit: int) -> Inbox:
    rows = repo.inbox(cur, company_id, unread_only=unread_only, before_id=before_id,
                      limit=limit)
    return Inbox(rows, repo.unread_count(cur, company_id), page_of(rows, limit).next_cursor)


def mark_read(cur: Cursor, *, company_id: int, notification_id: int, now: dt.datetime) -> None:
    """Read stays read: marking again keeps the first time. Another company's is a 404."""
    if not repo.mark_read(cur, company_id, notification_id, now):
        raise NotFound("no such notification")


def webhooks(cur: Cursor, company_id: int) -> list[dict[str, Any]]:
    """The company's webhooks, disabled ones included (never their secrets)."""
    return repo.webhooks(cur, company_id)


def deliveries(cur: Cursor, *, company_id: int, webhook_id: int,
               limit: int) -> list[dict[str, Any]]:
    """A webhook's delivery log, newest first; empty for another company's webhook."""
    return repo.deliveries(cur, company_id, webhook_id, limit=limit)


# -- webhooks --------------------------------------------------------------------------------
@dataclass(frozen=True)
class WebhookKeys:
    seal_key: bytes


def _blocked(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast
                or ip.is_reserved or ip.is_unspecified or not ip.is_global)


def check_url(url: str, *, development: bool, resolve: bool = True) -> str:
    """The URL, if a company may have guardreg call it; raise InvalidInput otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in (("https", "http") if development else ("https",)):
        raise InvalidInput("a webhook URL is https", field="url", reason="webhook-url")
    if not parts.hostname or parts.username or parts.password:
        raise InvalidInput("a webhook URL names a host and no credentials", field="url",
                           reason="webhook-url")
    if development:
        return url
    try:
        addresses = [str(ipaddress.ip_address(parts.hostname))]
    except ValueError:
        if not resolve:
            return url
        try:
            infos = socket.getaddrinfo(parts.hostname, parts.port or 443,
                                       proto=socket.IPPROTO_TCP)
        except OSError as exc:
            raise InvalidInput("the webhook's host does not resolve", field="url",
                               reason="webhook-url") from exc
        addresses = [str(info[4][0]) for info in infos]
    if not addresses or any(_blocked(a) for a in addresses):
        raise InvalidInput("a webhook may not point at a loopback, private or reserved "
                           "address", field="url", reason="webhook-url")
    return url


def _aad(company_id: int) -> bytes:
    return f"webhook:{company_id}".encode()


def open_secret(keys: WebhookKeys, sealed: bytes, company_id: int) -> bytes | None:
    try:
        return AESGCM(keys.seal_key).decrypt(sealed[:12], sealed[12:], _aad(company_id))
    except InvalidTag:
        return None


def add_webhook(cur: Cursor, *, actor: Actor, now: dt.datetime, keys: WebhookKeys,
                company_id: int, url: str, development: bool) -> tuple[dict[str, Any], str]:
    """A webhook and its signing secret (hex, returned once)."""
    if repository.get_company(cur, company_id) is None:
        raise NotFound("no such company")
    check_url(url, development=development)
    if len(repo.webhooks(cur, company_id, active_only=True)) >= MAX_WEBHOOKS:
        raise Conflict(f"at most {MAX_WEBHOOKS} active webhooks", reason="too-many-webhooks")
    secret = secrets.token_bytes(32)
    nonce = secrets.token_bytes(12)
    row = repo.insert_webhook(cur, {
        "company_id": company_id, "url": url,
        "secret_sealed": nonce + AESGCM(keys.seal_key).encrypt(nonce, secret, _aad(company_id)),
        "created_by": actor.label, "created_at": now})
    audit.record(cur, actor=actor, action="webhook.add", target_type="company",
                 target_id=company_id, data={"webhook_id": row["id"]}, now=now)
    return row, secret.hex()


def remove_webhook(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int,
                   webhook_id: int) -> None:
    if not repo.disable_webhook(cur, company_id, webhook_id, now):
        raise NotFound("no such active webhook")
    audit.record(cur, actor=actor, action="webhook.remove", target_type="company",
                 target_id=company_id, data={"webhook_id": webhook_id}, now=now)


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def next_attempt(attempts_done: int, now: dt.datetime) -> dt.datetime | None:
    """When to try again after ``attempts_done`` failed attempts; None: give up."""
    if attempts_done > len(BACKOFF):
        return None
    return now + BACKOFF[attempts_done - 1]
