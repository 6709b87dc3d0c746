"""Image-level synthetic fingers and the resumable gallery command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from api.cli import main as cli
from biometrics.fingerprint import matcher, synthetic_image
from biometrics.fingerprint.extraction import extract


def test_image_impressions_are_deterministic_fingerprints() -> None:
    master = synthetic_image.master_image(4)
    a = synthetic_image.impression_image(master, 0)
    assert a.dtype == np.uint8 and a.shape == (416, 320)
    np.testing.assert_array_equal(a, synthetic_image.impression_image(master, 0))
    assert not np.array_equal(a, synthetic_image.impression_image(master, 1))
    res = extract(a, 500.0)
    # a friction-ridge image: ridge period in band, minutiae found
    assert 7.0 <= res.ridge_period <= 12.0
    assert len(res.minutiae) >= 12
    mate = matcher.prepare(extract(synthetic_image.impression_image(master, 1), 500.0))
    other = synthetic_image.impression_image(synthetic_image.master_image(5), 0)
    non_mate = matcher.prepare(extract(other, 500.0))
    probe = matcher.prepare(res)
    assert matcher.match(probe, mate) > 2 * matcher.match(probe, non_mate)


def test_synth_fingers_gallery_resumes(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "g"
    args = ["eval", "synth-fingers", "--out", str(out), "--impressions", "2", "--seed", "998"]
    r = runner.invoke(cli, [*args, "--count", "3"])
    assert r.exit_code == 0, r.output
    files = sorted(p.name for p in out.rglob("*.iso"))
    assert files == ["1000_1.iso", "1000_2.iso", "998_1.iso", "998_2.iso",
                     "999_1.iso", "999_2.iso"]
    assert (out / "0000" / "998_1.iso").exists() and (out / "0001" / "1000_1.iso").exists()
    first = (out / "0000" / "998_1.iso").read_bytes()
    assert matcher.prepare(first).size > 5
    # a removed file is rebuilt byte for byte, the others are skipped
    (out / "0000" / "999_2.iso").unlink()
    r = runner.invoke(cli, [*args, "--count", "4"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output.strip().splitlines()[-1])
    assert summary["written"] == 2 and summary["skipped"] == 2
    assert (out / "0000" / "998_1.iso").read_bytes() == first
    assert (out / "0000" / "999_2.iso").exists()
    assert json.loads((out / "manifest.json").read_text())["count"] == 4
    # other settings in the same folder are refused
    r = runner.invoke(cli, ["eval", "synth-fingers", "--out", str(out), "--count", "2",
                            "--impressions", "3", "--seed", "998"])
    assert r.exit_code != 0 and "other settings" in r.output
    r = runner.invoke(cli, [*args, "--count", "1", "--window", "12x"])
    assert r.exit_code != 0
