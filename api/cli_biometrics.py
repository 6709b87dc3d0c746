"""``guardreg biometrics``: maintenance of stored biometric data."""

from __future__ import annotations

import click

from api.runtime import open_runtime
from registry.settings import get_settings


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
    rt = open_runtime(settings)
    total = 0
    try:
        while True:
            with rt.db.transaction() as cur:
                done = enrollment.backfill_portraits(cur, sealer=sealer(settings), limit=batch)
            total += done
            if done < batch:
                break
    finally:
        rt.close()
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
    rt = open_runtime(settings)
    done = 0
    failed: list[str] = []
    try:
        while True:
            with rt.db.transaction() as cur:
                report = enrollment.reencode_faces(
                    cur, actor=Actor("cli"), now=dt.datetime.now(dt.UTC),
                    sealer=sealer(settings), vector_key=vector_key(settings), limit=batch,
                    skip=failed)
            done += report.done
            failed += report.failed
            if report.done + len(report.failed) < batch:
                break
    finally:
        rt.close()
    click.echo(f"{done} faces re-encoded; {len(failed)} photos without a usable face")
    for subject in failed:
        click.echo(f"  no usable face: subject {subject} (re-capture the photo)")
