"""Scheduled jobs run once per cluster: two hosts (runners) on one database."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

from click.testing import CliRunner

from registry import jobs
from registry.db import Database
from registry.jobs import Job, JobRunner
from registry.settings import reset_settings_cache
from tests.conftest import Api, Clock


def _name() -> str:
    return f"test.{uuid.uuid4().hex[:8]}"


def test_a_job_runs_once_with_two_hosts_up(runtime: Any) -> None:
    clock = Clock()
    started, release = threading.Event(), threading.Event()
    runs: list[str] = []

    def slow(db: Database, now: dt.datetime) -> dict[str, Any]:
        runs.append(threading.current_thread().name)
        started.set()
        assert release.wait(30)
        return {"done": len(runs)}

    name = _name()
    job = Job(name, dt.timedelta(minutes=5), slow)
    host_a = JobRunner(runtime.db, [job], owner="host-a", clock=clock)
    host_b = JobRunner(runtime.db, [job], owner="host-b", clock=clock)
    ran_a: list[list[str]] = []
    thread = threading.Thread(target=lambda: ran_a.append(host_a.tick()), name="a")
    thread.start()
    assert started.wait(30)
    # Host B ticks while A is running the job: it sees the lease and skips it.
    assert host_b.tick() == []
    running = {j.name: j for j in jobs.status(runtime.db)}[name]
    assert running.running_on == "host-a"
    release.set()
    thread.join(30)
    assert ran_a == [[name]] and runs == ["a"]
    # Not due again until its interval has passed, on either host.
    assert host_b.tick() == [] and host_a.tick() == []
    clock.advance(minutes=6)
    assert host_b.tick() == [name]
    assert host_a.tick() == []
    status = {j.name: j for j in jobs.status(runtime.db)}[name]
    assert status.runs == 2 and status.last_owner == "host-b" and status.last_status == "ok"
    assert status.last_result == {"done": 2} and status.running_on is None


def test_a_failed_job_is_recorded_and_a_dead_hosts_lease_runs_out(runtime: Any) -> None:
    clock = Clock()
    def boom(db: Database, now: dt.datetime) -> dict[str, Any]:
        raise ValueError("11010519491231002X is not shown")  # personal data in a message

    name = _name()
    job = Job(name, dt.timedelta(minutes=5), boom, lease=dt.timedelta(minutes=2))
    host_a = JobRunner(runtime.db, [job], owner="host-a", clock=clock)
    assert host_a.tick() == [name]
    failed = {j.name: j for j in jobs.status(runtime.db)}[name]
    assert failed.last_status == "failed" and failed.last_error == "ValueError"
    # A host takes the lease and dies before finishing.
    from registry import jobs_repository

    clock.advance(minutes=6)
    with runtime.db.transaction() as cur:
        assert jobs_repository.take_lease(cur, name, "dead-host", clock(), job.lease)
    host_b = JobRunner(runtime.db, [job], owner="host-b", clock=clock)
    assert host_b.tick() == []  # the lease still holds
    clock.advance(minutes=3)
    assert host_b.tick() == [name]  # taken over after the lease ran out


def test_jobs_are_listed_and_run_from_the_cli_and_the_api(
        runtime: Any, regulator: Api, monkeypatch: Any) -> None:
    from api.cli import main

    monkeypatch.setenv("DATABASE_URL", runtime.db.dsn)
    monkeypatch.setenv("GUARDREG_MODE", "test")
    monkeypatch.setenv("GUARDREG_DATA_DIR", str(runtime.settings.data_dir))
    reset_settings_cache()
    try:
        ran = CliRunner().invoke(main, ["jobs", "run", "certificates.resign-status-lists"])
        assert ran.exit_code == 0, ran.output
        listed = CliRunner().invoke(main, ["jobs", "list"])
        assert "certificates.resign-status-lists" in listed.output
        assert "accounts.purge-sessions" in listed.output
        unknown = CliRunner().invoke(main, ["jobs", "run", "no.such.job"])
        assert unknown.exit_code == 1 and "no job" in unknown.output
    finally:
        reset_settings_cache()
    regulator.make_company()  # an audited event for the log to take in
    ran = CliRunner().invoke(main, ["jobs", "run", "transparency.checkpoint"],
                             env={"DATABASE_URL": runtime.db.dsn, "GUARDREG_MODE": "test",
                                  "GUARDREG_DATA_DIR": str(runtime.settings.data_dir)})
    assert ran.exit_code == 0, ran.output
    items = {j["name"]: j for j in regulator.get("/v1/jobs").json()["items"]}
    assert items["transparency.checkpoint"]["last_result"]["tree_size"] > 0
    resign = items["certificates.resign-status-lists"]
    assert resign["runs"] >= 1 and resign["last_status"] == "ok"
