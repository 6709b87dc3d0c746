"""`guardreg biometrics finger-index`: indexes fingers enrolled before migrations 0110/0111."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from api.biometric_context import sealer
from api.cli import main
from biometrics.finger_search import search_fingers
from biometrics.fingerprint import matcher
from biometrics.fingerprint.extraction import extract_from_bytes
from registry.settings import reset_settings_cache
from tests.conftest import FINGERS, isolated_stack, make_principal


def test_finger_index_makes_older_fingers_searchable_in_resumable_batches(
        pg_server: str, template_db: str, data_dir: Path, clock: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with isolated_stack(pg_server, template_db, data_dir, clock) as (rt, client):
        reg = make_principal(rt, client, "regulator")
        company = reg.make_company()
        for position, name in ((2, "101_1.png"), (3, "102_1.png"), (4, "103_1.png")):
            guard = reg.make_guard(company["id"])
            resp = reg.post(f"/v1/guards/{guard['id']}/fingers/{position}",
                            files={"image": (name, (FINGERS / name).read_bytes(), "image/png")})
            assert resp.status_code == 201, resp.text
        probe = matcher.prepare(extract_from_bytes((FINGERS / "101_2.png").read_bytes()))

        def best() -> float:
            with rt.db.transaction(readonly=True) as cur:
                hits = search_fingers(cur, probe, sealer=sealer(rt.settings), limit=1)
            return hits[0].score if hits else 0.0

        assert best() >= matcher.THRESHOLD_FMR_01
        with rt.db.transaction() as cur:  # as enrolled before migration 0110
            cur.execute("TRUNCATE biometrics_finger_posting, biometrics_finger_index")
        assert best() == 0.0
        monkeypatch.setenv("DATABASE_URL", rt.db.dsn)
        monkeypatch.setenv("GUARDREG_MODE", "test")
        monkeypatch.setenv("GUARDREG_DATA_DIR", str(rt.settings.data_dir))
        reset_settings_cache()
        try:
            result = CliRunner().invoke(main, ["biometrics", "finger-index", "--batch", "2"])
            assert result.exit_code == 0, result.output
            assert "3 fingers indexed (0 unreadable)" in result.output
            assert "3 of 3 fingers" in result.output
            assert best() >= matcher.THRESHOLD_FMR_01
            with rt.db.transaction(readonly=True) as cur:
                # the batches were staged and merged once: nothing left in the stage,
                # one list per code, the primary key rebuilt after the load
                cur.execute("SELECT (SELECT count(*) FROM biometrics_finger_posting_stage)"
                            " AS staged, (SELECT count(*) - count(DISTINCT code) FROM"
                            " biometrics_finger_posting) AS duplicates,"
                            " (SELECT count(*) FROM pg_indexes WHERE indexname ="
                            " 'biometrics_finger_posting_pkey') AS pkey")
                assert dict(cur.fetchone()) == {"staged": 0, "duplicates": 0, "pkey": 1}
            again = CliRunner().invoke(main, ["biometrics", "finger-index"])
            assert "0 fingers indexed" in again.output
            rebuilt = CliRunner().invoke(main, ["biometrics", "finger-index", "--rebuild"])
            assert "3 fingers indexed" in rebuilt.output
            assert best() >= matcher.THRESHOLD_FMR_01
        finally:
            reset_settings_cache()
        with rt.db.transaction(readonly=True) as cur:
            cur.execute("SELECT count(*) AS n FROM registry_audit_event"
                        " WHERE action = 'biometrics.finger-index'")
            assert cur.fetchone()["n"] == 3


def test_the_catch_up_job_makes_fingers_searchable_after_the_index_was_emptied(
        pg_server: str, template_db: str, data_dir: Path, clock: Any) -> None:
    """Migration 0111 empties the index; the scheduled job (once per cluster) indexes the
    fingers no posting names, so 1:N search is not left blind until someone runs the CLI."""
    from api.jobs import cluster_jobs

    with isolated_stack(pg_server, template_db, data_dir, clock) as (rt, client):
        reg = make_principal(rt, client, "regulator")
        company = reg.make_company()
        guard = reg.make_guard(company["id"])
        resp = reg.post(f"/v1/guards/{guard['id']}/fingers/2",
                        files={"image": ("101_1.png", (FINGERS / "101_1.png").read_bytes(),
                                         "image/png")})
        assert resp.status_code == 201, resp.text
        probe = matcher.prepare(extract_from_bytes((FINGERS / "101_2.png").read_bytes()))

        def best() -> float:
            with rt.db.transaction(readonly=True) as cur:
                hits = search_fingers(cur, probe, sealer=sealer(rt.settings), limit=1)
            return hits[0].score if hits else 0.0

        with rt.db.transaction() as cur:  # as after migration 0111
            cur.execute("TRUNCATE biometrics_finger_posting, biometrics_finger_index")
        assert best() == 0.0
        job = next(j for j in cluster_jobs(rt) if j.name == "biometrics.finger-index-catch-up")
        first = job.run(rt.db, clock())
        assert first == {"indexed": 1, "unreadable": 0, "more": False}
        assert best() >= matcher.THRESHOLD_FMR_01
        assert job.run(rt.db, clock())["indexed"] == 0  # nothing twice
