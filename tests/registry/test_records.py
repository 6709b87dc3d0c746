"""Typed guard records for the other packages (issue 19)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from api.runtime import Runtime
from registry import service
from registry.records import GuardRecord
from tests.conftest import Api, internal_guard_id


def test_guard_record_carries_the_row_typed(runtime: Runtime, regulator: Api) -> None:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    gid = internal_guard_id(runtime, guard["id"])
    with runtime.db.transaction(readonly=True) as cur:
        record = service.guard_record(cur, gid)
        by_subject = service.guard_of_subject(cur, record.biometric_subject) if record else None
        missing = service.guard_record(cur, 2**62)
    assert isinstance(record, GuardRecord)
    assert record == by_subject
    assert missing is None
    assert record.public_id == guard["id"] and record.name == guard["name"]
    assert record.company_id == company["id"] and record.employed
    assert record.company_name == company["name"]
    assert isinstance(record.birth_date, dt.date)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.name = "x"  # type: ignore[misc]


def test_is_banned_follows_the_ban(runtime: Runtime, regulator: Api) -> None:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    gid = internal_guard_id(runtime, guard["id"])
    today = dt.date.today()
    with runtime.db.transaction(readonly=True) as cur:
        assert service.is_banned(cur, gid, today) is False
    full = regulator.get(f"/v1/guards/{guard['id']}").json()
    resp = regulator.post("/v1/bans", json={"id_number": full["id_number"],
                                            "reason": "test: fraud"})
    assert resp.status_code == 201, resp.text
    with runtime.db.transaction(readonly=True) as cur:
        assert service.is_banned(cur, gid, today) is True
