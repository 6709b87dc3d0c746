"""``guardreg eval fingerprint-gate``: false accepts and rejects of the fingerprint-ness gate.

Positives are folders of fingerprint images (every one must pass), negatives are any
folders of images (none may pass); both are searched recursively. The resolution
assumed for each image is the capture path's rule. ``--json`` prints strict JSON
(``null`` for a missing figure, never a bare ``NaN``); progress goes to stderr.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click


def finite(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, +-inf) replaced by None, numpy scalars
    and arrays turned into Python values, so that ``json.dumps(allow_nan=False)`` holds."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return finite(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def strict_json(obj: Any, **kwargs: Any) -> str:
    """JSON text that every strict parser accepts (see :func:`finite`)."""
    return json.dumps(finite(obj), allow_nan=False, default=str, **kwargs)


@click.command("fingerprint-gate")
@click.option("--positives", "positives", multiple=True, required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="folder of fingerprint images (repeatable; searched recursively)")
@click.option("--negatives", "negatives", multiple=True, required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="folder of images that are not fingerprints (repeatable; recursive)")
@click.option("--json", "as_json", is_flag=True)
def eval_fingerprint_gate(positives: tuple[Path, ...], negatives: tuple[Path, ...],
                          as_json: bool) -> None:
    """Fingerprint-ness gate: false accepts over negatives, false rejects over positives."""
    from biometrics.fingerprint.extraction import image_dpi
    from biometrics.fingerprint.gate import evaluate_folders

    def progress(done: int, total: int) -> None:
        if done % 250 == 0 or done == total:
            click.echo(f"  gated {done}/{total} images", err=True)

    result = evaluate_folders(list(positives), list(negatives), dpi_for=image_dpi,
                              progress=progress)
    if as_json:
        click.echo(strict_json(result, indent=2))
        return
    click.echo(f"Fingerprint-ness gate {result['gate']}")
    click.echo(f"False accepts: {result['false_accepts']} of {result['negatives']} negatives")
    click.echo(f"False rejects: {result['false_rejects']} of {result['positives']} positives")
    for d in result["directories"]:
        wrong = d.get("false_accepts", d.get("false_rejects"))
        click.echo(f"  {d['kind']:8s} {d['path']}: {d['images']} images, {wrong} wrong, "
                   f"{d['unreadable']} unreadable")
    for row in result["false_accept_files"] + result["false_reject_files"]:
        click.echo(f"  wrong: {row['dir']}/{row['file']} ({', '.join(row['failed'])})")
    t = result["gate_ms_per_image"]
    click.echo(f"Gate time per image: mean {t['mean']} ms, p95 {t['p95']} ms")
