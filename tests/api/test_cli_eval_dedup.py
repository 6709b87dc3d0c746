"""``guardreg eval dedup`` on a tiny chimeric set built from the test fixtures."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from click.testing import CliRunner

from api.cli import main
from api.cli_eval_dedup import chimeric_identities, face_images, finger_files
from tests.conftest import FINGERS

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _folders(tmp: Path) -> tuple[Path, Path]:
    faces, fingers = tmp / "faces", tmp / "fingers"
    for name in ("Hu_Jintao_0001.jpg", "Hu_Jintao_0002.jpg", "Jiang_Zemin_0001.jpg",
                 "Jiang_Zemin_0003.jpg", "Zhang_Ziyi_0001.jpg"):
        person = name.rsplit("_", 1)[0]
        (faces / person).mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / "faces" / name, faces / person / name)
    fingers.mkdir()
    for src in (FINGERS / "101_1.png", FINGERS / "101_2.png", FINGERS / "102_1.png",
                FINGERS / "102_2.png", *sorted((FIXTURES / "dedup").glob("*.png"))):
        shutil.copy(src, fingers / src.name)
    return faces, fingers


def test_chimeric_identities_never_share_a_finger(tmp_path: Path) -> None:
    faces, fingers = _folders(tmp_path)
    ids = chimeric_identities(face_images(faces), {"S": finger_files(fingers)})
    assert len(ids) == 2  # two people with 2+ photos, four fingers
    used = [f for i in ids for f in i["fingers"]]
    assert len(used) == len(set(used)) == 4
    assert {i["face"] for i in ids} == {"Hu_Jintao", "Jiang_Zemin"}
    again = chimeric_identities(face_images(faces), {"S": finger_files(fingers)})
    assert again == ids  # deterministic


def test_eval_dedup_prints_strict_json_with_the_issue_keys(tmp_path: Path) -> None:
    faces, fingers = _folders(tmp_path)
    res = CliRunner().invoke(main, ["eval", "dedup", "--faces", str(faces), "--fingers",
                                    str(fingers), "--bootstrap", "5", "--cache",
                                    str(tmp_path / "cache"), "--json"])
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout, parse_constant=lambda c: (_ for _ in ()).throw(
        ValueError(c)))  # strict: no NaN / Infinity
    for key in ("fnir_150k", "fnir_1m", "face_only_fnir_150k", "fingers_only_fnir_150k",
                "fte"):
        assert 0.0 <= body[key] <= 1.0 and not math.isnan(body[key])
    assert body["identities"] == 2
    fused = body["figures"]["fused"]["fpir_0.01_150k"]
    assert fused["fmr_per_comparison"] < 1e-7
    assert body["samples"]["fused"]["genuine"] > 0
