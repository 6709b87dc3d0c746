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
