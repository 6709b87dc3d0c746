"""Process-wide wiring: settings, the database (embedded or DATABASE_URL), migrations."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.principal_cache import PolicyCache, PrincipalCache
from api.rate_limits import RateLimits
from api.replicas import ReplicaPool, ReplicaSteward
from api.workpool import WorkPool
from biometrics.finger_search import TemplateCache
from registry import migrate
from registry.db import Database, EmbeddedPostgres
from registry.settings import Settings

log = logging.getLogger(__name__)

# Order matters only for readability: migration numbers give the real order.
MIGRATION_PACKAGES = ["registry", "biometrics", "certificates"]


@dataclass
class Runtime:
    settings: Settings
    db: Database
    embedded: EmbeddedPostgres | None
    certs: Any = None  # api.cert_context.CertContext, made by api.app.wire
    verification_log: Any = None  # api.verification_log.VerificationLog, made by api.app.wire
    jobs: Any = None  # registry.jobs.JobRunner, started by a serving app (api.app)
    work: WorkPool | None = None  # image workers, started on first use
    principals: PrincipalCache | None = None  # authenticated keys, LISTENing for changes
    policies: PolicyCache | None = None  # the service-scope policy, same listener
    # Prepared fingerprint templates of recent 1:N shortlists, per process and bounded
    # (about 150 KB each); the gallery itself stays in the database.
    finger_cache: TemplateCache = field(default_factory=lambda: TemplateCache(1024))
    limits: RateLimits | None = None  # shared rate limits (state in PostgreSQL)
    replicas: ReplicaPool | None = None  # where online verification reads (api/replicas.py)
    steward: ReplicaSteward | None = None  # read leases + synchronous set, started by a serving app
    _work_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def image_pool(self) -> WorkPool:
        """The pool that runs image work (QR, face, finger) under the CPU budget."""
        with self._work_lock:
            if self.work is None:
                from api import image_work

                self.work = WorkPool(workers=self.settings.image_workers,
                                     cpu_budget_s=self.settings.image_cpu_budget_s,
                                     warm=image_work.warm, preload=("api.image_work",))
            return self.work

    def principal_cache(self) -> PrincipalCache:
        cache = self.principals
        if cache is None:
            with self._work_lock:
                if self.principals is None:
                    principals = PrincipalCache(self.db.dsn)
                    # Watched before the listener starts, so that it LISTENs for both.
                    self.policies = PolicyCache(principals)
                    self.principals = principals
                cache = self.principals
        return cache

    def policy_cache(self) -> PolicyCache:
        """The checkpoint's service-scope policy, kept in step by the change listener."""
        self.principal_cache()
        assert self.policies is not None
        return self.policies

    def rate_limits(self) -> RateLimits:
        limits = self.limits
        if limits is None:
            with self._work_lock:
                if self.limits is None:
                    self.limits = RateLimits(
                        self.db, shared=self.settings.rate_limit_store == "database")
                limits = self.limits
        return limits

    def reads(self) -> ReplicaPool:
        """The read pool of online verification: leased replicas of DATABASE_READ_URL, or
        the primary (without replicas, or when none holds a lease)."""
        pool = self.replicas
        if pool is None:
            with self._work_lock:
                if self.replicas is None:
                    s = self.settings
                    self.replicas = ReplicaPool(
                        self.db, s.read_urls, lease_s=s.replica_lease_s,
                        pool_max=s.db_pool_max, statement_timeout_ms=s.db_statement_timeout_ms,
                        connect_timeout_s=s.db_connect_timeout_s)
                pool = self.replicas
        return pool

    def start_steward(self) -> None:
        """Run the replica steward on this host (only with DATABASE_READ_URL)."""
        s = self.settings
        if s.read_urls:
            self.reads().start()
        if self.steward is None and s.read_urls and s.replica_steward:
            self.steward = ReplicaSteward(self.db.dsn, self.reads().names,
                                          lease_s=s.replica_lease_s,
                                          max_lag_s=s.replica_max_lag_s)
            self.steward.start()

    def close(self) -> None:
        if self.jobs is not None:
            self.jobs.stop()
        if self.steward is not None:
            self.steward.stop()
            self.steward = None
        if self.replicas is not None:
            self.replicas.close()
            self.replicas = None
        if self.principals is not None:
            self.principals.close()
            self.principals = None
        with self._work_lock:
            if self.work is not None:
                self.work.close()
                self.work = None
        if self.verification_log is not None:
            self.verification_log.close()
        self.db.close()
        if self.embedded is not None:
            self.embedded.stop()


_lock = threading.Lock()


def resolve_dsn(settings: Settings) -> tuple[str, EmbeddedPostgres | None]:
    if settings.database_url:
        return settings.database_url, None
    embedded = EmbeddedPostgres(Path(settings.data_dir) / "pgdata")
    dsn = embedded.start()
    log.info("started the embedded PostgreSQL in %s", embedded.data_dir)
    return dsn, embedded


def open_runtime(settings: Settings, *, upgrade: bool = False) -> Runtime:
    settings.check_secrets()
    settings.check_peers()
    with _lock:
        dsn, embedded = resolve_dsn(settings)
        db = Database(
            dsn,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            statement_timeout_ms=settings.db_statement_timeout_ms,
            connect_timeout_s=settings.db_connect_timeout_s,
        )
        if upgrade:
            migrate.upgrade(db, MIGRATION_PACKAGES)
    return Runtime(settings=settings, db=db, embedded=embedded)
