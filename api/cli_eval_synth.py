"""``guardreg eval synth-fingers``: build (or resume) a gallery of synthetic fingers.

Layout of ``--out DIR``::

    DIR/manifest.json                  what was asked (refuses to mix other settings)
    DIR/<shard>/<finger>_<k>.iso       ISO/IEC 19794-2:2005 record, 500 dpi
    DIR/images/<shard>/<finger>_<k>.png  with --images: the rendered impression

``<finger>`` is the master seed (``--seed`` + i), ``<k>`` the impression 1..K (generator
impression ``k - 1``), ``<shard>`` = finger // 1000 on four digits, so each shard is an
FVC-style folder that ``guardreg eval fingerprint`` reads. Files are written to a
temporary name and renamed, and existing files are skipped: an interrupted run
continues where it stopped, and the same command extends a gallery to a larger
``--count``. Without ``--images`` the minutiae-level generator writes the templates
(under a millisecond each); with ``--images`` every impression is rendered by the
image-level generator and extracted by the project's extractor (about a second per
finger plus 0.15 s per impression).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from api.cli_eval import eval_group

_SHARD = 1000


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _parse_window(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise click.BadParameter("expected WIDTHxHEIGHT, e.g. 320x416") from None
    if not (96 <= w <= 2048 and 96 <= h <= 2048):
        raise click.BadParameter("width and height must be 96..2048 pixels")
    return w, h


@eval_group.command("synth-fingers")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="gallery folder (created; an existing one is resumed)")
@click.option("--count", "count", required=True, type=click.IntRange(1, 10_000_000),
              help="number of distinct fingers")
@click.option("--impressions", "impressions", default=1, show_default=True,
              type=click.IntRange(1, 64), help="impressions per finger")
@click.option("--seed", "seed", default=0, show_default=True, type=click.IntRange(0, 2**40),
              help="seed of the first finger (fingers are seed .. seed+count-1)")
@click.option("--images", "images", is_flag=True,
              help="render images (SFinGe-style) and extract them instead of the "
                   "minutiae-level generator; also keeps the PNGs")
@click.option("--window", "window", default="320x416", show_default=True,
              help="sensor window WIDTHxHEIGHT in pixels at 500 dpi")
def synth_fingers(out: str, count: int, impressions: int, seed: int, images: bool,
                  window: str) -> None:
    """Write a resumable gallery of synthetic fingers as ISO templates."""
    from biometrics.fingerprint import synthetic
    from biometrics.fingerprint.templates import build_record, encode_template

    win = _parse_window(window)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    manifest = {"generator": "images" if images else "minutiae", "seed": seed,
                "impressions": impressions, "window": list(win), "format": "ISO19794-2:2005"}
    mpath = root / "manifest.json"
    if mpath.exists():
        old = json.loads(mpath.read_text())
        old_count = old.pop("count", 0)
        if old != manifest:
            raise click.UsageError(f"{mpath} was written with other settings: {old}")
        count_on_disk = max(int(old_count), count)
    else:
        count_on_disk = count
    _atomic_write(mpath, json.dumps({**manifest, "count": count_on_disk}, indent=2).encode())

    done = skipped = 0
    t0 = last = time.monotonic()
    for i in range(count):
        finger = seed + i
        shard = f"{finger // _SHARD:04d}"
        folder = root / shard
        paths = [folder / f"{finger}_{k + 1}.iso" for k in range(impressions)]
        if all(p.exists() for p in paths):
            skipped += 1
            continue
        folder.mkdir(exist_ok=True)
        if images:
            _write_image_finger(root / "images" / shard, finger, paths, win)
        else:
            master = synthetic.master_finger(finger)
            for k, p in enumerate(paths):
                if p.exists():
                    continue
                mins = synthetic.impression(master, k, window=win)
                rec = build_record(mins, width=win[0], height=win[1], dpi=500.0)
                _atomic_write(p, encode_template(rec))
        done += 1
        now = time.monotonic()
        if now - last >= 2.0 or i == count - 1:
            last = now
            rate = done / max(now - t0, 1e-9)
            left = (count - i - 1) / rate if rate > 0 else 0.0
            click.echo(f"  {i + 1}/{count} fingers ({skipped} already there), "
                       f"{rate:.1f} fingers/s, about {left:.0f} s left", err=True)
    click.echo(json.dumps({"out": str(root), "fingers": count, "written": done,
                           "skipped": skipped, "impressions": impressions,
                           "seconds": round(time.monotonic() - t0, 1)}))
    sys.stdout.flush()


def _write_image_finger(img_dir: Path, finger: int, paths: list[Path],
                        win: tuple[int, int]) -> None:
    import cv2

    from biometrics.fingerprint import synthetic_image
    from biometrics.fingerprint.extraction import extract
    from biometrics.fingerprint.templates import build_record, encode_template

    img_dir.mkdir(parents=True, exist_ok=True)
    master = synthetic_image.master_image(finger)
    for k, p in enumerate(paths):
        if p.exists():
            continue
        img = synthetic_image.impression_image(master, k, window=win)
        ok, png = cv2.imencode(".png", img)
        if not ok:
            raise click.ClickException(f"could not encode image {p.stem}")
        _atomic_write(img_dir / f"{p.stem}.png", png.tobytes())
        res = extract(img, 500.0)
        rec = build_record(res.minutiae, width=res.width, height=res.height, dpi=500.0)
        _atomic_write(p, encode_template(rec))
