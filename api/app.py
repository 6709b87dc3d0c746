"""The FastAPI application: the composition root of guardreg."""

from __future__ import annotations

import datetime as dt
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import problems
from api.middleware import BodyLimitMiddleware, ContainErrorsMiddleware, RequestContextMiddleware
from api.routers import (
    accounts,
    admin,
    biometrics,
    career,
    certificates,
    checkpoint,
    console,
    devices,
    docs,
    exams,
    keys,
    notifications,
    regulation,
    retention,
    supervision,
    supervision2,
    transparency,
    web,
)
from api.routers import registry as registry_router
from api.runtime import Runtime, open_runtime
from registry.settings import Settings, get_settings

log = logging.getLogger("guardreg.api")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None,
               clock: Callable[[], dt.datetime] = _utcnow, upgrade: bool = True) -> FastAPI:
    """Build the app. With ``runtime`` given (tests), the caller owns the database."""
    settings = settings or (runtime.settings if runtime else get_settings())
    settings.check_secrets()
    unchecked_phones = settings.check_peers()
    if unchecked_phones:
        log.warning(unchecked_phones)
    owned = runtime is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owned:
            app.state.runtime = open_runtime(settings, upgrade=upgrade)
        wire(app.state.runtime)
        if owned and settings.jobs_enabled:
            from api.jobs import make_runner

            # Every host runs the runner; each job runs once per cluster (registry/jobs.py).
            app.state.runtime.jobs = make_runner(app.state.runtime)
            app.state.runtime.jobs.start()
        # Everything loaded so far lives as long as the process: keep it out of the
        # cyclic collector's full passes (shorter pauses in request latency tails).
        if owned:
            # With DATABASE_READ_URL: learn the replicas' leases now; one host's steward
            # grants them (api/replicas.py).
            app.state.runtime.start_steward()
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if owned:
                app.state.runtime.close()

    app = FastAPI(
        title="guardreg",
        version="0.1.0",
        description="Registry of security companies and guards, their biometrics and signed "
        "electronic guard certificates. Authenticate with `Authorization: Bearer <API key>`.",
        lifespan=lifespan,
        # Swagger UI from this service's own assets (api/routers/docs.py), never a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.clock = clock
    app.state.settings = settings
    if runtime is not None:
        app.state.runtime = runtime
        wire(runtime)
    problems.install(app)
    app.include_router(admin.router)
    app.include_router(accounts.router)
    app.include_router(registry_router.router)
    app.include_router(biometrics.router)
    app.include_router(certificates.router)
    app.include_router(checkpoint.router)
    app.include_router(keys.router)
    app.include_router(devices.router)
    app.include_router(regulation.router)
    app.include_router(supervision.router)
    app.include_router(notifications.router)
    app.include_router(career.router)
    app.include_router(exams.router)
    app.include_router(retention.router)
    app.include_router(supervision2.router)
    app.include_router(transparency.router)
    app.include_router(console.router)  # webreg
    app.include_router(web.router)
    app.include_router(docs.router)
    app.add_middleware(ContainErrorsMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       max_json_bytes=settings.max_json_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app


def wire(runtime: Runtime) -> None:
    """Build the certificate context and register cross-package event handlers."""
    from api import wiring
    from api.cert_context import make_context
    from api.verification_log import VerificationLog

    if runtime.certs is None:
        runtime.certs = make_context(runtime.settings)
    if runtime.verification_log is None:
        runtime.verification_log = VerificationLog(runtime.db)
    wiring.register(runtime.db, runtime.certs)
