"""Enrollment confirmation codes with the clock injected (registry/enroll_consent.py):
a code expires after the policy's lifetime, and only a keyed hash of it is stored."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from api.runtime import Runtime
from registry import enroll_consent, service
from registry.audit import Actor
from tests.conftest import Api, random_id_number, texted_code

POLICY = enroll_consent.Policy(code_ttl=dt.timedelta(minutes=30))


def _enroll(runtime: Runtime, company: dict[str, Any], person: dict[str, str],
            now: dt.datetime, code: str | None = None) -> Any:
    actor = Actor("company_operator", 1, company["id"])
    with runtime.db.transaction() as cur:
        return service.enroll_guard(cur, actor=actor, now=now, company_id=company["id"],
                                    consent_code=code, consent_policy=POLICY, **person)


def test_a_code_expires_with_the_policy_lifetime(runtime: Runtime, regulator: Api) -> None:
    company = regulator.make_company()
    person = {"name": "期满", "id_number": random_id_number(),
              "phone": f"135{secrets.randbelow(10 ** 8):08d}"}
    now = dt.datetime.now(dt.UTC)
    first = _enroll(runtime, company, person, now)
    assert isinstance(first, enroll_consent.AwaitingConfirmation)
    assert first.view()["code_expires_in_s"] == 1800
    late = _enroll(runtime, company, person, now + dt.timedelta(minutes=30, seconds=1),
                   texted_code(runtime, person["phone"]))
    assert isinstance(late, enroll_consent.AwaitingConfirmation)
    again = now + dt.timedelta(minutes=31)
    assert isinstance(_enroll(runtime, company, person, again),
                      enroll_consent.AwaitingConfirmation)
    code = texted_code(runtime, person["phone"])
    hired = _enroll(runtime, company, person, again + dt.timedelta(minutes=29), code)
    assert isinstance(hired, dict) and hired["rehired"] is False
    # The table keeps a keyed hash, never the code.
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT code_hash FROM registry_enroll_code WHERE company_id = %s",
                    (company["id"],))
        hashes = [bytes(r["code_hash"]) for r in cur.fetchall()]
    assert len(hashes) == 2 and all(len(h) == 32 and code.encode() not in h for h in hashes)


def test_the_policy_comes_from_the_settings(runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(update={"enroll_code_ttl_minutes": 10,
                                                   "enroll_code_max_attempts": 2})
    policy = enroll_consent.Policy.from_settings(settings)
    assert (policy.code_ttl, policy.max_attempts) == (dt.timedelta(minutes=10), 2)
    assert policy.per_id_number_per_hour == settings.enroll_code_per_id_number_per_hour
