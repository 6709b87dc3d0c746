"""``guardreg biometrics``: maintenance of stored biometric data."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing

import click

from api.runtime import Runtime, open_runtime
from registry.db import Cursor
from registry.settings import get_settings


def _in_batches(rt: Runtime, batch: int, step: Callable[[Cursor], int]) -> int:
    """Run ``step`` in one transaction after another until it handles fewer than
    ``batch`` rows; returns how many rows it handled in all."""
    total = 0
    while True:
        with rt.db.transaction() as cur:
            done = step(cur)
        total += done
        if done < batch:
            return total


def _remind_face_index(rt: Runtime) -> None:
    """The projection index is fitted in one key's and one model's vector space."""
    from biometrics.repository import face_index_shards

    with rt.db.transaction(readonly=True) as cur:
        installed = face_index_shards(cur) > 0
    if installed:
        click.echo("the 1:N face index was fitted on the vectors as they were before: run "
                   "`guardreg biometrics face-index` again (search stays exact but finds "
                   "fewer true neighbours until then)")


@click.group()
def biometrics() -> None:
    """Maintenance of stored biometric data."""


@biometrics.command("portraits")
@click.option("--batch", type=click.IntRange(1, 1000), default=100, show_default=True,
              help="faces per transaction")
def portraits(batch: int) -> None:
    """Make the checkpoint portrait of faces enrolled before portraits existed."""
    from api.biometric_context import sealer
    from biometrics import enrollment

    settings = get_settings()
    with closing(open_runtime(settings)) as rt:
        total = _in_batches(rt, batch, lambda cur: enrollment.backfill_portraits(
            cur, sealer=sealer(settings), limit=batch))
    click.echo(f"{total} portraits made")


@biometrics.command("reencode")
@click.option("--batch", type=click.IntRange(1, 500), default=50, show_default=True,
              help="faces per transaction")
def reencode(batch: int) -> None:
    """Re-encode faces stored under an older face model with the current one.

    Run it after an upgrade that changes the face model id: until then 1:N search and
    1:1 checks skip (or refuse) the older templates."""
    import datetime as dt

    from api.biometric_context import sealer, vector_key
    from biometrics import enrollment
    from registry.audit import Actor

    settings = get_settings()
    failed: list[str] = []

    def step(cur: Cursor) -> int:
        report = enrollment.reencode_faces(
            cur, actor=Actor("cli"), now=dt.datetime.now(dt.UTC), sealer=sealer(settings),
            vector_key=vector_key(settings), limit=batch, skip=failed)
        failed.extend(report.failed)
        return report.done + len(report.failed)

    with closing(open_runtime(settings)) as rt:
        done = _in_batches(rt, batch, step) - len(failed)
        click.echo(f"{done} faces re-encoded; {len(failed)} photos without a usable face")
        if done:
            _remind_face_index(rt)
    for subject in failed:
        click.echo(f"  no usable face: subject {subject} (re-capture the photo)")


@biometrics.command("rotate-secret")
@click.option("--batch", type=click.IntRange(1, 1000), default=200, show_default=True,
              help="rows per transaction")
def rotate_secret(batch: int) -> None:
    """Re-seal every photo, portrait and template and re-key every face vector from the
    old biometric secret (GUARDREG_BIOMETRIC_SECRET_OLD) to the current one
    (GUARDREG_BIOMETRIC_SECRET). Stop the service first; start it again afterwards with
    the new secret only."""
    import datetime as dt
    import os

    from api.biometric_context import biometric_keys
    from biometrics.rotation import BiometricKeys, rotate_faces, rotate_fingers
    from registry import audit

    settings = get_settings()
    old_secret = os.environ.get("GUARDREG_BIOMETRIC_SECRET_OLD", "")
    if not old_secret:
        raise click.UsageError("set GUARDREG_BIOMETRIC_SECRET_OLD to the secret in use so far")
    if old_secret == settings.biometric_secret.get_secret_value():
        raise click.UsageError("GUARDREG_BIOMETRIC_SECRET must be the NEW secret (it equals "
                               "the old one)")
    old = BiometricKeys(*biometric_keys(old_secret, settings.biometric_cipher))
    new = BiometricKeys(*biometric_keys(settings.biometric_secret.get_secret_value(),
                                        settings.biometric_cipher))
    with closing(open_runtime(settings)) as rt:
        faces = _in_batches(rt, batch, lambda cur: rotate_faces(cur, old=old, new=new,
                                                                limit=batch))
        fingers = 0
        after: tuple[str, int] | None = None
        while True:
            with rt.db.transaction() as cur:
                done, after = rotate_fingers(cur, old=old.sealer, new=new.sealer, after=after,
                                             limit=batch)
            fingers += done
            if after is None:
                break
        with rt.db.transaction() as cur:
            audit.record(cur, actor=audit.Actor("cli"), action="biometrics.rotate-secret",
                         target_type="biometrics", data={
                             "faces": faces, "fingers": fingers,
                             "transform_kid": new.vectors.key_id},
                         now=dt.datetime.now(dt.UTC))
        click.echo(f"{faces} faces and {fingers} finger templates moved to the new secret")
        if faces:
            _remind_face_index(rt)


@biometrics.command("face-index")
@click.option("--shards", type=click.IntRange(1, 16), default=2, show_default=True,
              help="partial indexes searched at the same time, one connection each; about "
              "the cores of the database host that one search may use")
@click.option("--m", "m", type=click.IntRange(4, 100), default=32, show_default=True,
              help="HNSW links per node")
@click.option("--ef-construction", type=click.IntRange(8, 1000), default=128,
              show_default=True, help="HNSW build candidate list (at least 2 x m)")
@click.option("--sample", type=click.IntRange(500, 2_000_000), default=200_000,
              show_default=True, help="templates the projection axes are fitted on")
@click.option("--maintenance-work-mem", default="1GB", show_default=True,
              help="memory for the build; an index that fits builds much faster")
def face_index(shards: int, m: int, ef_construction: int, sample: int,
               maintenance_work_mem: str) -> None:
    """Fit the 48-d projection on enrolled faces and (re)build the 1:N search index.

    Run it once a few thousand faces are enrolled, and again after `rotate-secret` or a
    face-model change (`reencode`). Face enrollment waits while the index builds
    (about 14 minutes for 1M faces on 2 cores)."""
    import datetime as dt

    from biometrics.face import projection
    from biometrics.face.pipeline import MODEL_ID
    from registry import audit

    if ef_construction < 2 * m:
        raise click.UsageError("--ef-construction must be at least twice --m")
    settings = get_settings()
    with closing(open_runtime(settings)) as rt:
        try:
            with rt.db.transaction() as cur:
                done = projection.install(
                    cur, model=MODEL_ID, shards=shards, m=m, ef_construction=ef_construction,
                    sample=sample, maintenance_work_mem=maintenance_work_mem)
                audit.record(cur, actor=audit.Actor("cli"), action="biometrics.face-index",
                             target_type="biometrics", data={
                                 "model": MODEL_ID, "shards": shards, "m": m,
                                 "ef_construction": ef_construction,
                                 "fitted_on": done.projection.fitted_on},
                             now=dt.datetime.now(dt.UTC))
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"projection fitted on {done.projection.fitted_on} faces (keeps "
               f"{100 * done.projection.variance_kept:.1f}% of the variance); {shards} "
               f"shard(s), m={m}, ef_construction={ef_construction}: built in "
               f"{done.build_seconds:.1f} s, {done.index_bytes / 2**20:.1f} MiB")


@biometrics.command("finger-index")
@click.option("--batch", type=click.IntRange(1, 5000), default=500, show_default=True,
              help="fingers per transaction")
@click.option("--rebuild", is_flag=True,
              help="drop the whole index first (compacts the postings re-enrollments left "
              "behind); without it, only fingers not yet indexed are indexed")
def finger_index(batch: int, rebuild: bool) -> None:
    """Index enrolled fingers for 1:N search (MCC codes in PostgreSQL).

    Run it once after upgrading to migrations 0110/0111 (fingers enrolled before them are
    not searchable until then), after a change of the index scheme, and with --rebuild
    from time to time to compact. Each batch is one transaction that stages its
    postings; the end of the run writes every posting list once (into an empty index:
    lists loaded first, primary key built after). An interrupted run resumes where it
    stopped and merges what earlier runs staged. Enrollment keeps working meanwhile (it
    indexes its own fingers), waiting only while the final merge holds the lists."""
    import datetime as dt

    from api.biometric_context import sealer
    from biometrics.finger_repository import clear_finger_index, finger_index_status
    from biometrics.finger_search import index_fingers, merge_staged
    from biometrics.fingerprint.index import SCHEME
    from registry import audit

    settings = get_settings()
    with closing(open_runtime(settings)) as rt:
        if rebuild:
            with rt.db.transaction() as cur:
                clear_finger_index(cur)
        with rt.db.transaction(readonly=True) as cur:
            todo = finger_index_status(cur, scheme=SCHEME)
        total = int(todo["fingers"]) - int(todo["indexed"])
        done, failed = 0, 0
        after: tuple[str, int] | None = None
        while True:
            with rt.db.transaction() as cur:
                report = index_fingers(cur, sealer=sealer(settings), after=after, limit=batch,
                                       staged=True)
            done += report.indexed
            failed += len(report.failed)
            for subject, position in report.failed:
                click.echo(f"  unreadable template: subject {subject} position {position}",
                           err=True)
            click.echo(f"{done}/{total} fingers indexed", err=True)
            after = report.last
            if after is None:
                break
        with rt.db.transaction() as cur:
            lists = merge_staged(cur)
        click.echo(f"{lists} posting lists written", err=True)
        with rt.db.transaction() as cur:
            status = finger_index_status(cur, scheme=SCHEME)
            audit.record(cur, actor=audit.Actor("cli"), action="biometrics.finger-index",
                         target_type="biometrics", data={
                             "scheme": SCHEME, "rebuild": rebuild, "indexed": done,
                             "failed": failed}, now=dt.datetime.now(dt.UTC))
    click.echo(f"{done} fingers indexed ({failed} unreadable); index: {status['indexed']} of "
               f"{status['fingers']} fingers, {status['codes']} codes, "
               f"{int(status['bytes']) / 2**20:.1f} MiB")
