"""The phone-ownership check: the telecom real-name check, a peer outside the system
(``GUARDREG_PHONE_OWNER_CHECK_URL``), asked "does this phone belong to the holder of this
ID number with this name?" (issue 14: the SMS side channel).

One POST of JSON ``{"id_number", "name", "phone"}`` (``Authorization: Bearer
GUARDREG_PHONE_OWNER_CHECK_TOKEN`` when set), no redirects, a short timeout; the answer
``{"match": true}`` confirms the phone. Anything else (``false``, another status, a body
that is not that JSON, a timeout, a refused connection) counts as "not confirmed": the
message is not sent. Only the job ``registry.sms-outbox`` asks it (api/sms.py), never a
request, so no answer's timing depends on it. Nothing here logs an ID number, a name or
a phone.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from api.webhooks import no_redirect_opener
from registry.settings import Settings

MAX_ANSWER_BYTES = 4096


@dataclass(frozen=True)
class Verdict:
    """The check's answer: ``confirmed``, or why not (a word or an HTTP status, never a
    value of the person) for the outbox's stored error."""

    confirmed: bool
    why: str = ""


def check(settings: Settings, *, id_number: str, name: str, phone: str) -> Verdict:
    """Ask the peer whether ``phone`` belongs to the holder of ``id_number`` and ``name``."""
    url = settings.phone_owner_check_url
    if not url:
        return Verdict(False, "no phone-ownership check configured")
    headers = {"Content-Type": "application/json", "User-Agent": "guardreg-phone-owner"}
    if settings.phone_owner_check_token is not None:
        headers["Authorization"] = (
            f"Bearer {settings.phone_owner_check_token.get_secret_value()}")
    body = json.dumps({"id_number": id_number, "name": name, "phone": phone},
                      ensure_ascii=False).encode()
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with no_redirect_opener().open(
                req, timeout=settings.phone_owner_check_timeout_s) as resp:
            status = int(resp.status)
            raw = resp.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:
        return Verdict(False, f"HTTP {exc.code}")
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        return Verdict(False, type(exc).__name__)
    if status != 200 or len(raw) > MAX_ANSWER_BYTES:
        return Verdict(False, f"HTTP {status}")
    try:
        answer = json.loads(raw)
    except ValueError:
        return Verdict(False, "not JSON")
    if isinstance(answer, dict) and answer.get("match") is True:
        return Verdict(True)
    return Verdict(False, "not the person's phone")
