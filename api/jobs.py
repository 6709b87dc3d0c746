"""The cluster's scheduled jobs (registry/jobs.py runs them once per cluster).

Jobs that span packages are assembled here, in the composition root. Each is bounded
and idempotent: a host that dies mid-run leaves the job to another after its lease.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from api.runtime import Runtime
from registry.db import Database
from registry.jobs import Job, JobRunner


def _resign_status_lists(rt: Runtime) -> Any:
    """Re-sign every status list whose signed copy is older than half its TTL, so that
    verifiers that sync find fresh lists even when nothing was revoked for a while."""
    from certificates import publication
    from certificates import repository as cert_repo

    def run(db: Database, now: dt.datetime) -> dict[str, Any]:
        certs = rt.certs
        if certs is None:
            return {"skipped": "no certificate context"}
        config = certs.issuance.status
        signer = certs.signer("status-list")
        resigned = 0
        with db.transaction() as cur:
            for row in cert_repo.list_shards(cur):
                current = publication.current_token(cur, shard=int(row["shard"]),
                                                    signer=signer, config=config, now=now)
                resigned += int(current is not None and current[1] == now)
        return {"resigned": resigned}

    return run


def _purge_sessions(db: Database, now: dt.datetime) -> dict[str, Any]:
    from registry import accounts_repository

    with db.transaction() as cur:
        removed = accounts_repository.purge_sessions(cur, before=now - dt.timedelta(days=30))
    return {"removed": removed}


def _annual_reports(db: Database, now: dt.datetime) -> dict[str, Any]:
    from registry import annual_reports

    with db.transaction() as cur:
        return annual_reports.list_overdue(cur, now=now)


def _annual_report_reminders(db: Database, now: dt.datetime) -> dict[str, Any]:
    from registry import annual_reports

    with db.transaction() as cur:
        return annual_reports.send_reminders(cur, now=now)


def _retention(rt: Runtime) -> Any:
    def run(db: Database, now: dt.datetime) -> dict[str, Any]:
        from api.usecases import retention

        return retention.run(db, rt.settings, now)

    return run


def _purge_complaints(db: Database, now: dt.datetime) -> dict[str, Any]:
    from registry import annual_reports, complaints

    with db.transaction() as cur:
        _, pol = annual_reports.policy(cur)
        purged = complaints.purge_closed(
            cur, now=now, retention=dt.timedelta(days=pol.complaint_retention_days))
    return {"purged": purged}


def _transparency_checkpoint(rt: Runtime) -> Any:
    """Sequence new audit events into the transparency log and sign a checkpoint, so that
    witnesses find a fresh one even when nobody else asked for it."""
    from certificates.transparency_log import log_origin, publish_checkpoint

    def run(db: Database, now: dt.datetime) -> dict[str, Any]:
        if rt.certs is None:
            return {"skipped": "no certificate context"}
        settings = rt.settings
        with db.transaction() as cur:
            published = publish_checkpoint(
                cur, signer=rt.certs.signer("log"), origin=log_origin(settings.issuer),
                now=now,
                min_interval=dt.timedelta(seconds=settings.transparency_checkpoint_interval_s),
                max_age=dt.timedelta(seconds=settings.transparency_checkpoint_max_age_s))
        return {"tree_size": published.tree_size}

    return run


def _webhooks(rt: Runtime) -> Any:
    def run(db: Database, now: dt.datetime) -> dict[str, Any]:
        from api.webhooks import deliver_due

        return dict(deliver_due(db, now, rt.settings))

    return run
def _psych_assessments(db: Database, now: dt.datetime) -> dict[str, Any]:
    from registry import armed_escort

    with db.transaction() as cur:
        return armed_escort.psych_alerts(cur, now=now)


FINGER_INDEX_BATCH = 500
FINGER_INDEX_BATCHES_PER_RUN = 40


def _finger_index_catch_up(rt: Runtime) -> Any:
    """Index enrolled fingers that no posting names under the current index scheme.

    Enrollment indexes its own fingers, so in normal running this finds nothing. After
    an upgrade that changes the scheme (migration 0111 empties the index) it makes every
    finger searchable again without waiting for someone to run ``guardreg biometrics
    finger-index``; 1:N duplicate search must never be silently blind. Bounded per run
    (resumes at the next), each batch one transaction, searchable at its commit."""

    def run(db: Database, now: dt.datetime) -> dict[str, Any]:
        from api.biometric_context import sealer
        from biometrics.finger_search import index_fingers

        seal = sealer(rt.settings)
        indexed, unreadable = 0, 0
        after: tuple[str, int] | None = None
        for _ in range(FINGER_INDEX_BATCHES_PER_RUN):
            with db.transaction() as cur:
                report = index_fingers(cur, sealer=seal, after=after,
                                       limit=FINGER_INDEX_BATCH)
            indexed += report.indexed
            unreadable += len(report.failed)
            after = report.last
            if after is None:
                break
        return {"indexed": indexed, "unreadable": unreadable, "more": after is not None}

    return run


def _sms_outbox(rt: Runtime) -> Any:
    def run(db: Database, now: dt.datetime) -> dict[str, Any]:
        from api.sms import deliver_due

        return dict(deliver_due(db, now, rt.settings))

    return run


def _sweep_rate_limits(rt: Runtime) -> Any:
    def run(db: Database, now: dt.datetime) -> dict[str, Any]:
        return {"forgotten": rt.rate_limits().sweep()}

    return run


def cluster_jobs(rt: Runtime) -> list[Job]:
    ttl = dt.timedelta(seconds=rt.settings.status_list_ttl_s)
    return [
        Job("certificates.resign-status-lists", max(ttl / 2, dt.timedelta(seconds=30)),
            _resign_status_lists(rt)),
        Job("notifications.webhooks", dt.timedelta(seconds=20), _webhooks(rt),
            lease=dt.timedelta(minutes=5)),
        Job("registry.sms-outbox", dt.timedelta(seconds=15), _sms_outbox(rt),
            lease=dt.timedelta(minutes=5)),
        Job("transparency.checkpoint", dt.timedelta(minutes=5), _transparency_checkpoint(rt)),
        Job("accounts.purge-sessions", dt.timedelta(hours=1), _purge_sessions),
        Job("api.sweep-rate-limits", dt.timedelta(hours=1), _sweep_rate_limits(rt)),
        Job("biometrics.finger-index-catch-up", dt.timedelta(minutes=5),
            _finger_index_catch_up(rt), lease=dt.timedelta(minutes=30)),
        Job("supervision.annual-reports", dt.timedelta(hours=6), _annual_reports),
        Job("supervision.annual-report-reminders", dt.timedelta(hours=6),
            _annual_report_reminders),
        Job("registry.retention", dt.timedelta(hours=12), _retention(rt),
            lease=dt.timedelta(minutes=30)),
        Job("supervision.purge-complaints", dt.timedelta(hours=12), _purge_complaints),
        Job("supervision.psych-assessments", dt.timedelta(hours=12), _psych_assessments),
    ]


def make_runner(rt: Runtime) -> JobRunner:
    return JobRunner(rt.db, cluster_jobs(rt))
