"""`guardreg eval fingerprint`: sources kept apart, strict JSON, leave-one-set-out, and
records of the first extractor version still matching the current one."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from api.cli_eval import eval_group
from biometrics import finger_capture
from biometrics.fingerprint import evaluation, matcher
from biometrics.fingerprint.extraction import extract_from_bytes

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "fingerprints"


def _strict_loads(text: str) -> object:
    def refuse(token: str) -> object:
        raise AssertionError(f"non-standard JSON constant {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Images of DB1 101_1, 101_2, 102_1 and SecuGen templates named the same."""
    for n in ("101_1", "101_2", "102_1"):
        shutil.copy(FIX / f"db1_{n}.png", tmp_path / f"{n}.png")
    for p in (FIX / "secugen").glob("*.iso"):
        shutil.copy(p, tmp_path / p.name)
    return tmp_path


def test_images_and_templates_of_the_same_finger_are_evaluated_apart(mixed: Path) -> None:
    r = evaluation.evaluate_folder(mixed)
    assert set(r["sources"]) == {"image", "template"}
    img, tpl = r["sources"]["image"], r["sources"]["template"]
    assert img["images"] == 3 and tpl["images"] == 4  # nothing replaced by its twin
    assert img["genuine_pairs"] == 1 and tpl["genuine_pairs"] == 2
    assert img["mean_extraction_ms"] > 0
    only = evaluation.evaluate_folder(mixed, source="template")
    assert only["source"] == "template" and only["images"] == 4
    text = evaluation.format_report(r)
    assert "[image]" in text and "[template]" in text


def test_cached_minutiae_give_the_same_scores_and_are_not_timed(
    mixed: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = evaluation.evaluate_folder(mixed, source="image", cache_dir=cache)
    again = evaluation.evaluate_folder(mixed, source="image", cache_dir=cache)
    assert len(list(cache.glob("*.npy"))) == 3
    assert first["genuine_scores"] == again["genuine_scores"]
    assert first["mean_extraction_ms"] > 0 and math.isnan(again["mean_extraction_ms"])
    assert "n/a ms" not in evaluation.format_report(again)
    assert "Mean extraction: n/a" in evaluation.format_report(again)


def test_two_images_of_one_impression_are_refused(tmp_path: Path) -> None:
    shutil.copy(FIX / "db1_101_1.png", tmp_path / "101_1.png")
    shutil.copy(FIX / "db1_101_2.png", tmp_path / "101_1.tif")
    with pytest.raises(ValueError, match="two images"):
        evaluation.evaluate_folder(tmp_path)


def test_json_is_strict_when_rates_are_undefined(tmp_path: Path) -> None:
    # one finger only: no impostor pair, so every rate is undefined (NaN internally)
    for p in (FIX / "secugen").glob("101_*.iso"):
        shutil.copy(p, tmp_path / p.name)
    r = evaluation.evaluate_folder(tmp_path)
    assert math.isnan(r["fvc"]["eer"])
    doc = _strict_loads(evaluation.format_report(r, as_json=True))
    assert isinstance(doc, dict) and doc["fvc"]["eer"] is None
    assert doc["genuine_pairs"] == 1
    assert evaluation.strict_json({"a": [float("inf"), np.float32(0.5)]}) == {"a": [None, 0.5]}


def test_cli_prints_strict_json_and_progress_on_stderr(mixed: Path) -> None:
    res = CliRunner().invoke(
        eval_group, ["fingerprint", str(mixed), "--json"])
    assert res.exit_code == 0, res.output
    doc = _strict_loads(res.stdout)
    assert isinstance(doc, dict)
    assert doc["sources"]["template"]["images"] == 4
    assert "genuine_scores" not in res.stdout
    assert "4/7" in res.stderr  # progress over the 7 files, on stderr only
    quiet = CliRunner().invoke(
        eval_group, ["fingerprint", str(mixed), "--json", "--quiet", "--source", "image"])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert _strict_loads(quiet.stdout)["images"] == 3  # type: ignore[index]


def test_leave_one_set_out_chooses_parameters_without_the_held_out_set(
    tmp_path: Path,
) -> None:
    # three tiny sets of DB1 images: A = fingers 101/102, B = 101/103, C = 101/104
    sets = []
    for name, other in (("A", "102"), ("B", "103"), ("C", "104")):
        d = tmp_path / name
        d.mkdir()
        for n in ("101_1", "101_2", f"{other}_1"):
            shutil.copy(FIX / f"db1_{n}.png", d / f"{n}.png")
        sets.append(d)
    grid = {"MAX_NP": [8.0, 12.0]}
    before = matcher.current_parameters()
    msgs: list[str] = []
    r = evaluation.evaluate_loso(sets, grid=grid, cache_dir=tmp_path / "cache",
                                 progress=msgs.append)
    assert [f["held_out"] for f in r["folds"]] == ["A", "B", "C"]
    for f in r["folds"]:
        assert f["held_out"] not in f["trained_on"] and len(f["trained_on"]) == 2
        assert f["parameters"]["MAX_NP"] in (8.0, 12.0)
    assert r["loso_mean"]["fvc"]["eer"] == pytest.approx(
        np.mean([f["fvc"]["eer"] for f in r["folds"]]))
    assert any("parameters 2/" in m for m in msgs)
    # 101_1 and 101_2 are in every set but extracted once: 5 distinct images
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 5
    # the tuning override is undone afterwards
    assert matcher.current_parameters() == before
    _strict_loads(evaluation.dumps(r))
    assert "LOSO mean" in evaluation.format_loso(r)
    with pytest.raises(ValueError, match="unknown parameters"):
        evaluation.evaluate_loso(sets, grid={"RADIUS": [60.0]})
    res = CliRunner().invoke(eval_group, ["fingerprint", "--loso", "--grid", "[1]",
                                          *map(str, sets)])
    assert res.exit_code == 2 and "--grid" in res.output


def test_parameters_override_is_scoped_and_checked() -> None:
    before = matcher.current_parameters()
    with matcher.parameters(DIST_TOL=0.2, MAX_NP=6):
        assert matcher.DIST_TOL == 0.2 and matcher.MAX_NP == 6
    assert matcher.current_parameters() == before
    with pytest.raises(ValueError), matcher.parameters(RADIUS=10):
        pass


def test_records_of_the_first_extractor_version_still_match() -> None:
    """Stored records cannot be re-extracted: an ISO record made by extractor v1
    (``guardreg-mcc@1``) must still match a new extraction of another impression of the
    same finger, and still not match other fingers."""
    old = {n: matcher.prepare((FIX / "mcc1" / f"db1_{n}.iso").read_bytes())
           for n in ("101_1", "101_2", "102_1", "103_1")}
    new = {n: matcher.prepare(extract_from_bytes((FIX / f"db1_{n}.png").read_bytes()))
           for n in ("101_1", "101_2", "102_1", "103_1")}
    assert finger_capture.MODEL_ID != "guardreg-mcc@1"  # the extractor did change
    genuine = [matcher.match(old["101_1"], new["101_2"]),
               matcher.match(new["101_1"], old["101_2"])]
    impostor = [matcher.match(old[a], new[b]) for a in old for b in new
                if a[:3] != b[:3]]
    assert min(genuine) >= matcher.THRESHOLD_FMR_01, genuine
    assert max(impostor) < matcher.THRESHOLD_FMR_01, impostor
    # and an old record against a new record of the same impression scores high
    same = matcher.match(old["102_1"], new["102_1"])
    assert same > max(genuine + impostor) * 0.9 and same >= matcher.THRESHOLD_FMR_001
