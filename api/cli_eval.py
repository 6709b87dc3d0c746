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
    from api.cli_eval_gate import strict_json
    from biometrics.face.evaluation import evaluate_lfw, format_report

    names = None
    if subset:
        names = {line.strip() for line in Path(subset).read_text().splitlines()
                 if line.strip() and not line.startswith("#")}

    def progress(done: int, total: int) -> None:
        if done % 200 == 0 or done == total:
            click.echo(f"  encoded {done}/{total} images", err=True)

    result = evaluate_lfw(pairs, images, subset_names=names, progress=progress)
    click.echo(strict_json(result, indent=2) if as_json else format_report(result))


@eval_group.command("fingerprint")
@click.argument("directories", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False))
@click.option("--loso", is_flag=True,
              help="leave-one-set-out over the given sets: parameters chosen on the others")
@click.option("--baseline", type=click.Choice(["nbis"]), default=None,
              help="run a peer matcher on the same images and protocol, side by side")
@click.option("--source", type=click.Choice(["image", "template"]), default=None,
              help="evaluate only images or only templates (default: each apart)")
@click.option("--cache", "cache", type=click.Path(file_okay=False), default=None,
              help="cache extracted minutiae per image in this folder")
@click.option("--grid", "grid", default=None,
              help='LOSO parameter grid as JSON, e.g. {"MAX_NP": [8, 12], '
                   '"extract.FIT_MIN": [0.05, 0.07]} (default: evaluation.DEFAULT_GRID)')
@click.option("--quiet", is_flag=True, help="no progress on stderr")
@click.option("--json", "as_json", is_flag=True, help="strict JSON on stdout")
def eval_fingerprint(directories: tuple[str, ...], loso: bool, baseline: str | None,
                     source: str | None, cache: str | None, grid: str | None, quiet: bool,
                     as_json: bool) -> None:
    """FVC protocol (and the extended impostor set) on <finger>_<impression> files.

    One report per DIRECTORY; with --loso, a leave-one-set-out run over all of them.
    """
    from biometrics.fingerprint import evaluation as ev

    def progress(msg: str) -> None:
        if not quiet:
            click.echo(f"  {msg}", err=True)

    cache_dir = Path(cache) if cache else None
    try:
        if loso:
            try:
                grid_d = json.loads(grid) if grid else None
            except json.JSONDecodeError as exc:
                raise ValueError(f"--grid is not JSON: {exc}") from exc
            if grid_d is not None and not (
                isinstance(grid_d, dict) and all(
                    isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v)
                    for v in grid_d.values())):
                raise ValueError("--grid must map parameter names to non-empty number lists")
            result = ev.evaluate_loso(list(directories), grid=grid_d, cache_dir=cache_dir,
                                      progress=progress)
            if baseline:
                result["baseline"] = ev.evaluate_nbis(list(directories), progress=progress)
            click.echo(ev.dumps(result) if as_json else ev.format_loso(result))
            sys.exit(0)
        reports = {}
        for d in directories:
            rep = ev.evaluate_folder(Path(d), progress=progress, source=source,
                                     cache_dir=cache_dir)
            if baseline:
                rep["baseline"] = ev.evaluate_nbis([d], progress=progress)
            reports[d] = rep
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        only = next(iter(reports.values())) if len(reports) == 1 else reports
        click.echo(ev.format_report(only, as_json=True))
    else:
        for rep in reports.values():
            click.echo(ev.format_report(rep))
            if "baseline" in rep:
                for name, r in rep["baseline"]["per_set"].items():
                    click.echo(f"Peer {rep['baseline']['matcher']} ({name}): FVC EER "
                               f"{ev._pct(r['fvc']['eer'])}, extended EER "
                               f"{ev._pct(r['extended']['eer'])}")
    sys.exit(0)


from api.cli_eval_gate import eval_fingerprint_gate  # noqa: E402

eval_group.add_command(eval_fingerprint_gate)
__import__("api.cli_eval_dedup", fromlist=["register"]).register(eval_group)
import api.cli_eval_synth  # noqa: E402, F401  (registers `eval synth-fingers`; imports eval_group above)
