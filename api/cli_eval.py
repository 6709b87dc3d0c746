"""``guardreg eval face|fingerprint``: calibration and evaluation on public data sets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.group("eval")
def eval_group() -> None:
    """Evaluate the biometric pipelines on labelled data."""


@eval_group.command("face")
@click.option("--pairs", "pairs", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--images", "images", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--subset", "subset", type=click.Path(exists=True, dir_okay=False),
              help="file of identity names (one per line) to report separately")
@click.option("--json", "as_json", is_flag=True)
def eval_face(pairs: str, images: str, subset: str | None, as_json: bool) -> None:
    """LFW protocol through guardreg's own face pipeline."""
    from biometrics.face.evaluation import evaluate_lfw, format_report

    names = None
    if subset:
        names = {line.strip() for line in Path(subset).read_text().splitlines()
                 if line.strip() and not line.startswith("#")}

    def progress(done: int, total: int) -> None:
        if not as_json and (done % 200 == 0 or done == total):
            click.echo(f"  encoded {done}/{total} images", err=True)

    result = evaluate_lfw(pairs, images, subset_names=names, progress=progress)
    click.echo(json.dumps(result, default=str, indent=2) if as_json else format_report(result))


@eval_group.command("fingerprint")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True)
def eval_fingerprint(directory: str, as_json: bool) -> None:
    """FVC protocol (and the extended impostor set) on <finger>_<impression> files."""
    from biometrics.fingerprint.evaluation import evaluate_folder, format_report

    result = evaluate_folder(Path(directory))
    click.echo(format_report(result, as_json=as_json))
    sys.exit(0)
import api.cli_eval_synth  # noqa: E402, F401  (registers `eval synth-fingers`; imports eval_group above)
