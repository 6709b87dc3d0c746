"""Fingerprint-ness gate: real prints pass, faces and other images do not."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from biometrics.errors import NotAFingerprint, QualityRejected
from biometrics.fingerprint import gate
from tests.biometrics.fingerprint import negatives

FIX = Path(__file__).resolve().parents[2] / "fixtures"
FINGER_FILES = sorted((FIX / "fingers").glob("*.png")) + sorted(
    (FIX / "fingerprints").glob("*.png"))
FACE_FILES = sorted((FIX / "people").glob("*.jpg")) + sorted((FIX / "faces").glob("*.jpg"))


def _grey(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("path", FINGER_FILES, ids=lambda p: p.name)
def test_fixture_fingerprints_pass(path: Path) -> None:
    report = gate.require_fingerprint(_grey(path), 500.0)
    assert report.accepted and report.failed == []
    assert report.measures["ridge_area_mm2"] > gate.LIMITS.min_ridge_area_mm2
    assert 5.0 <= report.measures["period"] <= 15.0
    assert all(m > 0 for m in report.margins().values())


@pytest.mark.parametrize("path", FACE_FILES, ids=lambda p: p.name)
def test_face_photos_are_refused_even_in_grey(path: Path) -> None:
    in_colour = gate.assess(_grey(path), 500.0, _rgb(path))
    assert not in_colour.accepted
    assert "colour" in in_colour.failed
    # without the colour cue the ridge measures alone refuse it
    in_grey = gate.assess(_grey(path), 500.0)
    assert not in_grey.accepted
    assert in_grey.failed[0] == "ridge-area"
    assert "colour" not in in_grey.failed


@pytest.mark.parametrize("name", sorted(negatives.MAKERS))
def test_made_negatives_are_refused(name: str) -> None:
    arr = negatives.MAKERS[name]()
    grey = arr if arr.ndim == 2 else cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY)
    with pytest.raises(NotAFingerprint) as err:
        gate.require_fingerprint(grey, 500.0, arr if arr.ndim == 3 else None)
    exc = err.value
    assert isinstance(exc, QualityRejected) and exc.status == 422
    assert exc.code == "not-a-fingerprint"
    assert exc.extra["reason"] == "not-a-fingerprint"
    assert exc.extra["check"] == exc.extra["failed"][0]
    report = gate.assess(grey, 500.0)  # even without colour
    assert not report.accepted


def test_each_check_has_its_own_failure() -> None:
    assert gate.assess(negatives.uniform_grey(), 500.0).failed[0] == "ridge-area"
    # band-pass noise has ridge-like spectra everywhere but no ridge flow
    noise = gate.assess(negatives.ridge_band_noise(), 500.0)
    assert noise.measures["ridge_area_mm2"] > gate.LIMITS.min_ridge_area_mm2
    assert noise.failed == ["ridge-flow"]
    # a straight grating at a ridge period: perfect ridges, no curvature
    y, x = np.mgrid[0:374, 0:388]
    grating = (128 + 60 * np.sin(2 * np.pi * (x + 0.3 * y) / 9.0)).astype(np.uint8)
    straight = gate.assess(grating, 500.0)
    assert straight.failed == ["straight-lines"]
    # a real print tinted in colour fails on colour only
    finger = _grey(FINGER_FILES[0])
    tinted = np.stack([finger, (finger * 0.6).astype(np.uint8), (finger * 0.3).astype(np.uint8)],
                      axis=2)
    assert gate.assess(finger, 500.0, tinted).failed == ["colour"]


def test_resolution_is_taken_into_account() -> None:
    finger = _grey(FINGER_FILES[0])
    assert gate.assess(finger, 500.0).accepted
    # the same pixels said to be at 250 or 1200 dpi have ridges twice (or 0.4 times) a
    # finger's ridge spacing apart: not a fingerprint at that resolution
    for dpi in (250.0, 1200.0):
        assert not gate.assess(finger, dpi).accepted
    # a print scanned at 569 dpi (FVC2002 DB2) is judged at its own resolution
    up = cv2.resize(finger, None, fx=569 / 500, fy=569 / 500, interpolation=cv2.INTER_LINEAR)
    at_569 = gate.assess(up, 569.0)
    assert at_569.accepted
    assert abs(at_569.measures["period"] - gate.assess(finger, 500.0).measures["period"]) < 1.5


def test_tiny_images_are_measured_not_crashed() -> None:
    report = gate.assess(np.zeros((20, 20), np.uint8), 500.0)
    assert not report.accepted and report.measures["ridge_area_mm2"] == 0.0


def _png(arr: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(arr).save(out, "PNG")
    return out.getvalue()


def test_colour_pixels_only_for_colour_uploads() -> None:
    assert gate.colour_pixels((FINGER_FILES[0]).read_bytes()) is None
    rgb = gate.colour_pixels(FACE_FILES[0].read_bytes())
    assert rgb is not None and rgb.ndim == 3 and rgb.shape[2] == 3
    grey_as_rgb = np.repeat(_grey(FINGER_FILES[0])[..., None], 3, axis=2)
    pixels = gate.colour_pixels(_png(grey_as_rgb))
    assert pixels is not None and gate.assess(_grey(FINGER_FILES[0]), 500.0, pixels).accepted


def test_evaluate_folders_counts_and_lists_failures(tmp_path: Path) -> None:
    pos = tmp_path / "pos"
    (pos / "sub").mkdir(parents=True)
    for p in FINGER_FILES[:3]:
        shutil.copy(p, pos / "sub" / p.name)
    shutil.copy(FACE_FILES[0], pos / FACE_FILES[0].name)  # mislabelled: a false reject
    (pos / "notes.txt").write_text("not an image")  # ignored: not an image file
    neg = tmp_path / "neg"
    negatives.write_all(neg / "made")
    shutil.copy(FINGER_FILES[4], neg / "stray.png")  # a print among negatives: false accept
    (neg / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")  # unreadable: rejected
    seen: list[int] = []
    result = gate.evaluate_folders([pos], [neg], dpi_for=lambda w, h, d: 500.0,
                                   progress=lambda done, total: seen.append(total))
    n_made = len(negatives.MAKERS)
    assert result["positives"] == 4
    assert result["negatives"] == n_made + 2
    assert result["false_rejects"] == 1
    assert result["false_accepts"] == 1
    assert [r["file"] for r in result["false_reject_files"]] == [FACE_FILES[0].name]
    assert [r["file"] for r in result["false_accept_files"]] == ["stray.png"]
    by_kind = {d["kind"]: d for d in result["directories"]}
    assert by_kind["negative"]["unreadable"] == 1
    assert by_kind["negative"]["false_accepts"] == 1
    assert by_kind["positive"]["false_rejects"] == 1
    assert result["margins"]["positives_worst"]["ridge-area"] < 0  # the face among them
    assert seen and seen[-1] == 4 + n_made + 2


def test_image_files_follow_linked_folders_once(tmp_path: Path) -> None:
    real = tmp_path / "real" / "Person"
    real.mkdir(parents=True)
    shutil.copy(FACE_FILES[0], real / "a.jpg")
    (real / "b.JPG").write_bytes(FACE_FILES[1].read_bytes())
    (real / "readme.txt").write_text("x")
    top = tmp_path / "top"
    top.mkdir()
    (top / "Person").symlink_to(real, target_is_directory=True)
    (real / "loop").symlink_to(real.parent, target_is_directory=True)  # a cycle
    assert [p.name for p in gate.image_files(top)] == ["a.jpg", "b.JPG"]
