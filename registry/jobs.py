"""Scheduled jobs that run once per cluster, on a database lease.

Every API host runs a :class:`JobRunner`. On each tick it tries to take the lease of
each due job with ONE conditional ``UPDATE`` (registry/jobs_repository.py): whoever
takes it runs the job, the other hosts skip it. The lease ends when the run finishes,
or at ``lease_until`` if the host died mid-run, after which another host may take the
job over: jobs must therefore be idempotent and resumable (each does bounded batches).
The ``registry_job`` row is the job's status: runs, last result or error, next run.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from registry import jobs_repository as repo
from registry.db import Database

log = logging.getLogger("guardreg.jobs")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Job:
    name: str
    interval: dt.timedelta
    run: Callable[[Database, dt.datetime], dict[str, Any]]
    # Longest a run may hold the job before another host may take it over.
    lease: dt.timedelta = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class JobStatus:
    name: str
    interval_s: int
    next_run_at: dt.datetime
    running_on: str | None
    runs: int
    last_owner: str | None
    last_started_at: dt.datetime | None
    last_finished_at: dt.datetime | None
    last_status: str | None
    last_result: dict[str, Any] | None
    last_error: str | None


def status(db: Database) -> list[JobStatus]:
    with db.transaction(readonly=True) as cur:
        rows = repo.list_jobs(cur)
    return [JobStatus(name=r["name"], interval_s=int(r["interval_s"]),
                      next_run_at=r["next_run_at"],
                      running_on=r["lease_owner"] if r["lease_until"] else None,
                      runs=int(r["runs"]), last_owner=r["last_owner"],
                      last_started_at=r["last_started_at"],
                      last_finished_at=r["last_finished_at"], last_status=r["last_status"],
                      last_result=r["last_result"], last_error=r["last_error"])
            for r in rows]


class JobRunner:
    def __init__(self, db: Database, jobs: Sequence[Job], *, owner: str | None = None,
                 clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self.db = db
        self.jobs = {j.name: j for j in jobs}
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._registered = False

    def register(self) -> None:
        now = self.clock()
        with self.db.transaction() as cur:
            for job in self.jobs.values():
                repo.ensure_job(cur, job.name, max(1, int(job.interval.total_seconds())), now)
        self._registered = True

    def tick(self) -> list[str]:
        """Run every due job whose lease this host takes; the names of those it ran."""
        if not self._registered:
            self.register()
        return [name for name in self.jobs if self._run(name, force=False)]

    def run_now(self, name: str) -> bool:
        """Run ``name`` now unless another host holds its lease (``guardreg jobs run``)."""
        if name not in self.jobs:
            raise KeyError(name)
        if not self._registered:
            self.register()
        return self._run(name, force=True)

    def _run(self, name: str, *, force: bool) -> bool:
        job = self.jobs[name]
        now = self.clock()
        with self.db.transaction() as cur:
            if not repo.take_lease(cur, name, self.owner, now, job.lease, force=force):
                return False
        result: dict[str, Any] | None = None
        error: str | None = None
        try:
            result = job.run(self.db, now)
        except Exception as exc:  # a job's failure is its status, not the runner's end
            # The exception's type only: messages may carry personal data (an ID number).
            error = type(exc).__name__
            log.warning("job %s failed: %s", name, error)
        with self.db.transaction() as cur:
            repo.finish(cur, name, self.owner, self.clock(), ok=error is None, result=result,
                        error=error)
        return True

    # -- background thread ---------------------------------------------------------------
    def start(self, every: dt.timedelta = dt.timedelta(seconds=15)) -> None:
        def loop() -> None:
            # Jittered (0.75-1.25 x): hosts started together would otherwise tick in a
            # fixed order, and one of them would take every job for ever.
            while not self._stop.wait(every.total_seconds()
                                      * (0.75 + secrets.randbelow(501) / 1000)):
                try:
                    self.tick()
                except Exception as exc:  # the database may be away; try again next tick
                    log.warning("job runner tick failed: %s", type(exc).__name__)

        self._thread = threading.Thread(target=loop, name="guardreg-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
