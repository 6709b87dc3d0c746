"""ISO/IEC 19794-2 and ANSI INCITS 378 minutiae records: golden vectors, rejects, fuzzing."""

from __future__ import annotations

import contextlib
import json
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from biometrics.errors import TemplateRejected
from biometrics.fingerprint import templates as T

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "fingerprints"
GOLDEN = sorted((FIX / "golden").glob("*.dat"))
INVALID = sorted((FIX / "invalid").glob("*.iso"))
SECUGEN = sorted((FIX / "secugen").glob("*.iso"))
EXPECTED_FORMATS = {
    "ansi378v2004-sample.dat": T.FORMAT_ANSI_2004,
    "ansi378v2009-sample.dat": T.FORMAT_ANSI_2009,
    "ansi378v2009am1-sample.dat": T.FORMAT_ANSI_2009_AM1,
    "iso19794p2v2005-sample.dat": T.FORMAT_ISO_2005,
    "iso19794p2v2011-sample.dat": T.FORMAT_ISO_2011,
}


def test_fixtures_present() -> None:
    assert len(GOLDEN) == 5
    assert len(INVALID) == 3
    assert SECUGEN


def _compare(expected: object, actual: object, path: str) -> None:
    """Field-by-field comparison with a precise failure location."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        assert set(expected) == set(actual), f"{path}: keys {set(expected) ^ set(actual)}"
        for k in expected:
            _compare(expected[k], actual[k], f"{path}.{k}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), path
        assert len(expected) == len(actual), f"{path}: length"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            _compare(e, a, f"{path}[{i}]")
    else:
        assert expected == actual, f"{path}: expected {expected!r}, got {actual!r}"


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_golden_decodes_to_json_twin(path: Path) -> None:
    record = T.parse_template(path.read_bytes())
    assert record.format == EXPECTED_FORMATS[path.name]
    expected = json.loads(path.with_suffix(".json").read_text())
    _compare(expected, T.to_json_dict(record), path.name)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_golden_reencodes_to_same_bytes(path: Path) -> None:
    data = path.read_bytes()
    assert T.encode_template(T.parse_template(data)) == data


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_truncated_records_rejected(path: Path) -> None:
    with pytest.raises(TemplateRejected) as exc:
        T.parse_template(path.read_bytes())
    assert exc.value.extra["reason"] in {"length-mismatch", "truncated"}
    assert "bytes" in exc.value.detail or "truncated" in exc.value.detail


@pytest.mark.parametrize("path", SECUGEN, ids=lambda p: p.name)
def test_secugen_templates_parse_and_roundtrip(path: Path) -> None:
    data = path.read_bytes()
    rec = T.parse_template(data)
    assert rec.format == T.FORMAT_ISO_2005
    assert (rec.width, rec.height) == (300, 400)
    assert len(rec.views) == 1 and len(rec.views[0].minutiae) >= 10
    assert T.encode_template(rec) == data


def _iso_2005() -> bytes:
    return (FIX / "golden" / "iso19794p2v2005-sample.dat").read_bytes()


def test_length_disagreeing_with_header_rejected() -> None:
    data = bytearray(_iso_2005())
    struct.pack_into(">I", data, 8, len(data) + 1)
    with pytest.raises(TemplateRejected, match="declares"):
        T.parse_template(bytes(data))
    with pytest.raises(TemplateRejected):
        T.parse_template(_iso_2005() + b"\x00")


def test_minutiae_count_overflow_rejected() -> None:
    data = bytearray(_iso_2005())
    data[27] = 255  # first view's minutiae count
    with pytest.raises(TemplateRejected, match="minutiae"):
        T.parse_template(bytes(data))


def test_minutia_outside_image_rejected() -> None:
    rec = T.parse_template(_iso_2005())
    rec.width = 50  # many minutiae lie at x >= 50
    with pytest.raises(TemplateRejected, match="outside"):
        T.parse_template(T.encode_template(rec))


def test_oversized_record_rejected() -> None:
    with pytest.raises(TemplateRejected, match="limit"):
        T.parse_template(b"FMR\x00 20\x00" + b"\x00" * T.MAX_TEMPLATE_BYTES)


def test_wrong_magic_and_version_rejected() -> None:
    with pytest.raises(TemplateRejected, match="magic"):
        T.parse_template(b"XYZ\x00 20\x00" + b"\x00" * 40)
    with pytest.raises(TemplateRejected, match="version"):
        T.parse_template(b"FMR\x00 99\x00" + b"\x00" * 40)


def test_minutiae_array_units() -> None:
    rec = T.parse_template(_iso_2005())
    arr, dpi = T.minutiae_array(rec)
    assert arr.shape == (27, 5)
    assert dpi == pytest.approx(197 * 2.54)
    assert arr[0, 2] == pytest.approx(80 * 2 * 3.141592653589793 / 256)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_parse_or_reject(data: bytes) -> None:
    heads = (b"", b"FMR\x00 20\x00", b"FMR\x00030\x00", b"FMR\x00020\x00", b"FMR\x00035\x00")
    for blob in (h + data for h in heads):
        try:
            rec = T.parse_template(blob)
        except TemplateRejected:
            continue
        assert T.encode_template(rec) == blob


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_golden_parse_or_reject(data: st.DataObject) -> None:
    src = bytearray(data.draw(st.sampled_from(GOLDEN)).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(src) - 1))
        src[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(src)))
    with contextlib.suppress(TemplateRejected):
        T.parse_template(bytes(src[:cut]))


_minutia = st.builds(
    T.Minutia,
    kind=st.integers(0, 2),
    x=st.integers(0, 299),
    y=st.integers(0, 399),
    angle=st.integers(0, 179),
    quality=st.integers(0, 100),
)


@settings(max_examples=200, deadline=None)
@given(
    fmt=st.sampled_from(T.FORMATS),
    views=st.lists(st.lists(_minutia, max_size=40), min_size=1, max_size=3),
    position=st.integers(0, 10),
    ext=st.binary(max_size=20),
)
def test_generated_records_roundtrip(
    fmt: str, views: list[list[T.Minutia]], position: int, ext: bytes
) -> None:
    fvs = [
        T.FingerView(position=position, view=i, impression=0, quality=60, minutiae=m,
                     extended=[T.ExtendedBlock(0x0200, ext)] if ext else [], width=300,
                     height=400, resolution_x=197, resolution_y=197,
                     quality_records=[(60, 1, 2)])
        for i, m in enumerate(views)
    ]
    rec = T.MinutiaeRecord(format=fmt, views=fvs, width=300, height=400, resolution_x=197,
                           resolution_y=197, sensor_id=12)
    data = T.encode_template(rec)
    back = T.parse_template(data)
    assert back.format == fmt
    assert [v.minutiae for v in back.views] == views
    assert T.encode_template(back) == data


SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "fingerprints" / "iso19794-2"


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared evaluation data not mounted")
def test_all_shared_secugen_templates_parse_and_invalid_rejected() -> None:
    files = sorted((SHARED / "secugen-fvc2002").glob("DB*_B/*.iso"))
    assert len(files) == 320
    for p in files:
        data = p.read_bytes()
        assert T.encode_template(T.parse_template(data)) == data, p.name
    for p in sorted((SHARED / "invalid").glob("*")):
        with pytest.raises(TemplateRejected):
            T.parse_template(p.read_bytes())
