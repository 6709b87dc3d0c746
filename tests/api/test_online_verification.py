"""Online verification: the batched check log (api/verification_log.py) and the portrait."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import pytest

from api.runtime import Runtime
from api.verification_log import VerificationLog
from registry.db import Database
from registry.errors import Unavailable
from tests.conftest import Api, make_issuable_guard


def _rows_for(runtime: Runtime, location: str) -> list[dict[str, Any]]:
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT checked_at, principal_id, certificate_number, verdict, location,"
                    " channel FROM certificates_verification_log WHERE location = %s"
                    " ORDER BY id", (location,))
        return [dict(r) for r in cur.fetchall()]


def _add(log: VerificationLog, location: str, n: int) -> None:
    at = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
    for i in range(n):
        log.add(at=at + dt.timedelta(seconds=i), principal_id=None, number=f"N{i}",
                verdict="valid", location=location, channel="online-text")


def test_flush_writes_every_queued_row_in_order(runtime: Runtime) -> None:
    log = VerificationLog(runtime.db, max_delay_s=60)  # only an explicit flush writes
    loc = "flush-" + uuid.uuid4().hex
    _add(log, loc, 25)
    assert _rows_for(runtime, loc) == []  # queued, not written yet
    assert log.flush() == 25
    rows = _rows_for(runtime, loc)
    assert [r["certificate_number"] for r in rows] == [f"N{i}" for i in range(25)]
    assert rows[0]["verdict"] == "valid" and rows[0]["channel"] == "online-text"
    assert log.pending() == 0 and log.flush() == 0
    log.close()


def test_the_background_thread_writes_without_a_flush(runtime: Runtime) -> None:
    log = VerificationLog(runtime.db, max_delay_s=0.05)
    loc = "thread-" + uuid.uuid4().hex
    _add(log, loc, 3)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(_rows_for(runtime, loc)) < 3:
        time.sleep(0.05)
    assert len(_rows_for(runtime, loc)) == 3
    log.close()


def test_rows_survive_a_database_outage_and_are_written_later(runtime: Runtime) -> None:
    down = Database("postgresql://guardreg@127.0.0.1:1/none", connect_timeout_s=1)
    log = VerificationLog(down, max_delay_s=60)
    loc = "outage-" + uuid.uuid4().hex
    _add(log, loc, 7)
    with pytest.raises(Unavailable):
        log.flush()
    assert log.pending() == 7 and log.dropped == 0
    log.db = runtime.db  # the database is back
    assert log.flush() == 7
    assert len(_rows_for(runtime, loc)) == 7
    log.close()


def test_a_long_outage_drops_the_oldest_rows_and_counts_them(runtime: Runtime) -> None:
    down = Database("postgresql://guardreg@127.0.0.1:1/none", connect_timeout_s=1)
    log = VerificationLog(down, max_delay_s=60, max_pending=5)
    loc = "overflow-" + uuid.uuid4().hex
    _add(log, loc, 8)
    with pytest.raises(Unavailable):
        log.flush()
    assert log.pending() == 5 and log.dropped == 3
    log.db = runtime.db
    log.flush()
    assert [r["certificate_number"] for r in _rows_for(runtime, loc)] == [
        "N3", "N4", "N5", "N6", "N7"]
    log.close()


def test_close_writes_what_is_queued(runtime: Runtime) -> None:
    log = VerificationLog(runtime.db, max_delay_s=60)
    loc = "close-" + uuid.uuid4().hex
    _add(log, loc, 4)
    log.close()
    assert len(_rows_for(runtime, loc)) == 4


def test_an_online_verification_is_logged_with_its_verdict(runtime: Runtime, regulator: Api,
                                                            officer: Api) -> None:
    guard = make_issuable_guard(regulator, regulator.make_company()["id"])
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    loc = "gate-" + uuid.uuid4().hex[:8]
    answer = officer.post("/v1/verifications",
                          json={"text": cert["text"], "location": loc, "include_photo": False})
    assert answer.status_code == 200 and answer.json()["verdict"] == "valid"
    assert "photo" not in answer.json()
    regulator.post(f"/v1/certificates/{cert['number']}/revoke",
                   json={"reason": "misconduct"}).raise_for_status()
    answer = officer.post("/v1/verifications", json={"text": cert["text"], "location": loc})
    assert answer.json()["verdict"] == "revoked"
    runtime.verification_log.flush()
    rows = _rows_for(runtime, loc)
    assert [(r["certificate_number"], r["verdict"]) for r in rows] == [
        (cert["number"], "valid"), (cert["number"], "revoked")]
    assert all(r["principal_id"] is not None for r in rows)


def test_verification_shows_the_sealed_checkpoint_portrait(runtime: Runtime, regulator: Api,
                                                          officer: Api) -> None:
    import base64
    import io

    from PIL import Image

    from api.biometric_context import sealer
    from biometrics.enrollment import DISPLAY_SIZE, display_aad, photo_aad
    from biometrics.sealing import SealError

    guard = make_issuable_guard(regulator, regulator.make_company()["id"])
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    answer = officer.post("/v1/verifications", json={"text": cert["text"]}).json()
    prefix = "data:image/jpeg;base64,"
    assert answer["photo"].startswith(prefix)
    shown = base64.b64decode(answer["photo"][len(prefix):])
    assert Image.open(io.BytesIO(shown)).size == DISPLAY_SIZE
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT f.subject::text AS subject, f.photo_sealed, f.display_sealed"
                    " FROM biometrics_face f JOIN registry_guard g"
                    " ON g.biometric_subject = f.subject WHERE g.public_id = %s", (guard["id"],))
        row = cur.fetchone()
    assert row is not None and row["display_sealed"] is not None
    seal = sealer(runtime.settings)
    # Sealed at rest, bound to its subject and purpose: the photo's associated data
    # does not open the portrait.
    assert shown not in bytes(row["display_sealed"])
    assert seal.open(bytes(row["display_sealed"]), aad=display_aad(row["subject"])) == shown
    with pytest.raises(SealError, match="authentication"):
        seal.open(bytes(row["display_sealed"]), aad=photo_aad(row["subject"]))
    photo = seal.open(bytes(row["photo_sealed"]), aad=photo_aad(row["subject"]))
    assert len(shown) < len(photo) / 2
