"""Webhook deliveries (the job ``notifications.webhooks``; rules in registry/notifications.py).

At least once: a delivery is recorded as delivered only after a 2xx answer; a host that
dies between the answer and the record leaves it pending, so receivers deduplicate by
``X-Guardreg-Delivery``. Redirects are not followed (they could lead anywhere), the URL is
checked again before each attempt, and each attempt has a short timeout. No request is
made while a database transaction is open.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from api.access import publicise_guards
from registry import notifications
from registry import notifications_repository as repo
from registry.db import Database
from registry.errors import InvalidInput
from registry.settings import Settings

TIMEOUT_S = 5.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def no_redirect_opener() -> urllib.request.OpenerDirector:
    """The opener of every call to a peer outside the system: redirects not followed."""
    return _OPENER


def webhook_keys(settings: Settings) -> notifications.WebhookKeys:
    return notifications.WebhookKeys(settings.derive_key("apikey_pepper", "webhook-secret"))


def post_once(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` once (no redirects, a short timeout); the HTTP status."""
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with _OPENER.open(req, timeout=TIMEOUT_S) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def deliver_due(db: Database, now: dt.datetime, settings: Settings, *, limit: int = 50,
                post: Callable[[str, bytes, dict[str, str]], int] = post_once) -> dict[str, int]:
    keys = webhook_keys(settings)
    development = settings.mode != "production"
    with db.transaction(readonly=True) as cur:
        # Receivers name guards as the API does: by public id.
        rows = publicise_guards(cur, repo.due_deliveries(cur, now, limit=limit))
    counts = {"delivered": 0, "retrying": 0, "gave_up": 0}
    for row in rows:
        code: int | None = None
        error: str | None = None
        secret = notifications.open_secret(keys, bytes(row["secret_sealed"]),
                                           int(row["company_id"]))
        body = json.dumps({"id": row["notification_id"], "kind": row["kind"],
                           "company_id": row["company_id"], "guard_id": row["guard_id"],
                           "subject": row["subject"], "data": row["data"],
                           "created_at": row["created_at"].isoformat()},
                          ensure_ascii=False, sort_keys=True).encode()
        if secret is None:
            error = "the webhook's secret cannot be opened (key changed)"
        else:
            try:
                notifications.check_url(str(row["url"]), development=development)
                stamp = int(now.timestamp())
                code = post(str(row["url"]), body, {
                    "Content-Type": "application/json", "User-Agent": "guardreg-webhook",
                    "X-Guardreg-Event": str(row["kind"]),
                    "X-Guardreg-Delivery": str(row["id"]),
                    "X-Guardreg-Signature": notifications.signature(secret, stamp, body)})
                if not 200 <= code < 300:
                    error = f"HTTP {code}"
            except InvalidInput as exc:
                error = exc.detail
            except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
                error = type(exc).__name__
        attempts = int(row["attempts"]) + 1
        if error is None:
            status, retry_at = "delivered", None
            counts["delivered"] += 1
        else:
            retry_at = notifications.next_attempt(attempts, now)
            status = "pending" if retry_at is not None else "gave-up"
            counts["retrying" if retry_at else "gave_up"] += 1
        with db.transaction() as cur:
            repo.record_attempt(cur, int(row["id"]), status=status, code=code, error=error,
                                next_attempt_at=retry_at, now=now)
    return counts
