"""``guardreg eval fingerprint-gate`` and the strict JSON of ``guardreg eval face``."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from api.cli import main
from api.cli_eval_gate import finite, strict_json
from tests.biometrics.fingerprint import negatives
from tests.conftest import FINGERS, PEOPLE

FACES = Path(__file__).parents[1] / "fixtures" / "faces"


def _no_constants(name: str) -> Any:
    raise AssertionError(f"bare {name} in the JSON output")


def _strict(text: str) -> Any:
    return json.loads(text, parse_constant=_no_constants)


def test_gate_command_counts_on_fixture_folders(tmp_path: Path) -> None:
    made = tmp_path / "made"
    negatives.write_all(made)
    nested = tmp_path / "faces" / "deeper"
    nested.mkdir(parents=True)
    for p in sorted(PEOPLE.glob("*.jpg"))[:2]:
        shutil.copy(p, nested / p.name)
    result = CliRunner().invoke(main, [
        "eval", "fingerprint-gate", "--positives", str(FINGERS),
        "--negatives", str(PEOPLE), "--negatives", str(made),
        "--negatives", str(tmp_path / "faces"), "--json"])
    assert result.exit_code == 0, result.output
    body = _strict(result.stdout)
    n_fingers = len(list(FINGERS.glob("*.png")))
    n_neg = len(list(PEOPLE.glob("*.jpg"))) + len(negatives.MAKERS) + 2
    assert {k: body[k] for k in ("false_accepts", "false_rejects", "positives",
                                 "negatives")} == {"false_accepts": 0, "false_rejects": 0,
                                                   "positives": n_fingers,
                                                   "negatives": n_neg}
    assert "gated" in result.stderr and "gated" not in result.stdout
    assert body["margins"]["positives_worst"]["ridge-area"] > 0


def test_gate_command_reports_wrong_folders(tmp_path: Path) -> None:
    # the folders swapped: every fingerprint is a false accept, every face a false reject
    result = CliRunner().invoke(main, [
        "eval", "fingerprint-gate", "--positives", str(FACES),
        "--negatives", str(FINGERS), "--json"])
    assert result.exit_code == 0, result.output
    body = _strict(result.stdout)
    assert body["false_accepts"] == body["negatives"] == len(list(FINGERS.glob("*.png")))
    assert body["false_rejects"] == body["positives"] == len(list(FACES.glob("*.jpg")))
    assert sorted(r["file"] for r in body["false_accept_files"]) == sorted(
        p.name for p in FINGERS.glob("*.png"))
    text = CliRunner().invoke(main, ["eval", "fingerprint-gate", "--positives", str(FACES),
                                     "--negatives", str(FINGERS)])
    assert f"False accepts: {body['false_accepts']} of {body['negatives']}" in text.stdout


def test_strict_json_has_no_bare_nan() -> None:
    data = {"a": float("nan"), "b": [math.inf, -math.inf, 1.5], "c": np.float64("nan"),
            "d": np.array([1.0, np.nan]), "e": np.int64(3)}
    assert finite(data) == {"a": None, "b": [None, None, 1.5], "c": None, "d": [1.0, None],
                            "e": 3}
    assert _strict(strict_json(data)) == finite(data)


@pytest.mark.slow
def test_eval_face_json_is_strict_with_progress_on_stderr(tmp_path: Path) -> None:
    images = tmp_path / "images"
    for f in FACES.glob("*.jpg"):
        person = f.stem.rsplit("_", 1)[0]
        (images / person).mkdir(parents=True, exist_ok=True)
        (images / person / f.name).write_bytes(f.read_bytes())
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("2\t1\nJiang_Zemin\t1\t3\nJiang_Zemin\t1\tZhang_Ziyi\t1\n"
                     "Hu_Jintao\t1\t2\nHu_Jintao\t2\tLucy_Liu\t2\n")
    subset = tmp_path / "subset.txt"
    subset.write_text("Jiang_Zemin\n")  # only same-person pairs: its FAR is undefined
    result = CliRunner().invoke(main, ["eval", "face", "--pairs", str(pairs), "--images",
                                       str(images), "--subset", str(subset), "--json"])
    assert result.exit_code == 0, result.output
    body = _strict(result.stdout)
    assert body["subset_pairs"]["genuine"] == 1
    assert body["subset_pairs"]["at_default"]["far"] is None
    assert "encoded 6/6 images" in result.stderr
