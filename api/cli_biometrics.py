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
    rt = open_runtime(settings)
    faces = fingers = 0
    try:
        while True:
            with rt.db.transaction() as cur:
                done = rotate_faces(cur, old=old, new=new, limit=batch)
            faces += done
            if done < batch:
                break
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
    finally:
        rt.close()
    click.echo(f"{faces} faces and {fingers} finger templates moved to the new secret")
