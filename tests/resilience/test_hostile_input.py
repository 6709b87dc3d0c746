"""Hostile input: property tests of the image intake, and a corpus of hostile images
uploaded through POST /v1/guards/{id}/face in a subprocess whose peak RSS is measured.

(Property tests of the ISO/ANSI template parser already live in
tests/biometrics/fingerprint/test_fingerprint_templates.py; COSE and ID validators in
tests/certificates and tests/registry.)
"""

from __future__ import annotations

import io
import json
import resource
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from biometrics.errors import ImageRejected, ImageTooLarge, ImageTypeUnsupported
from biometrics.imaging import decode_image
from registry.errors import GuardregError
from tests.resilience.helpers import faces

ROOT = Path(__file__).resolve().parents[2]
RSS_LIMIT_MB = 500
INTAKE_ERRORS = (ImageRejected, ImageTooLarge, ImageTypeUnsupported)


# -- property tests of decode_image ------------------------------------------------------
def _encoded(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    rng = np.random.default_rng(7)
    img = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


SAMPLES = {fmt: _encoded(fmt) for fmt in ("JPEG", "PNG", "BMP", "TIFF", "WEBP")}


def _decode_or_reject(data: bytes, **kw: Any) -> None:
    error: GuardregError | None = None
    try:
        img = decode_image(data, max_bytes=2_000_000, max_pixels=4_000_000, **kw)
    except INTAKE_ERRORS as exc:
        error = exc
    if error is not None:
        assert 400 <= error.status < 500
        assert error.detail and len(error.detail) < 300
        return
    assert img.pixels.dtype == np.uint8
    assert img.pixels.shape[:2] == (img.height, img.width)
    assert img.width * img.height <= 4_000_000


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=2048))
def test_random_bytes_decode_or_reject(data: bytes) -> None:
    _decode_or_reject(data)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(sorted(SAMPLES)), st.data())
def test_mutated_real_images_decode_or_reject(fmt: str, data: st.DataObject) -> None:
    raw = bytearray(SAMPLES[fmt])
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(8, len(raw)))
    _decode_or_reject(bytes(raw[:cut]), mode=data.draw(st.sampled_from(["RGB", "L"])))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(sorted(SAMPLES)), st.binary(max_size=512))
def test_known_magic_with_garbage_decodes_or_rejects(fmt: str, tail: bytes) -> None:
    _decode_or_reject(SAMPLES[fmt][:16] + tail)


def test_non_bytes_are_rejected() -> None:
    with pytest.raises(ImageRejected):
        decode_image("not bytes")  # type: ignore[arg-type]


# -- the hostile corpus ------------------------------------------------------------------
def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _png(width: int, height: int, idat: bytes, *, color: int = 0,
         extra: tuple[bytes, ...] = ()) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + b"".join(extra)
            + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))


def _zeros_compressed(row: int, rows: int) -> bytes:
    comp = zlib.compressobj(9)
    line = b"\x00" * row
    out = [comp.compress(line) for _ in range(rows)]
    out.append(comp.flush())
    return b"".join(out)


def png_bomb_over_pixel_limit() -> bytes:
    return _png(20000, 20000, _zeros_compressed(20001, 400))  # rows claimed, few sent


def png_bomb_within_pixel_limit() -> bytes:
    # 6000 x 6600 grey = 39.6 Mpixel, just under the 40 Mpixel limit, ~40 kB on the wire
    return _png(6000, 6600, _zeros_compressed(6001, 6600))


def png_huge_dimensions_tiny_file() -> bytes:
    return _png(65535, 65535, zlib.compress(b"\x00" * 1024, 9))


def png_zero_width() -> bytes:
    return _png(0, 100, zlib.compress(b"\x00" * 100))


def png_truncated() -> bytes:
    return _encoded("PNG", (400, 400))[:3000]


def _face_png() -> bytes:
    out = io.BytesIO()
    Image.open(faces()[0]).save(out, "PNG")
    return out.getvalue()


def png_face_with_huge_itxt() -> bytes:
    raw = _face_png()
    itxt = b"Comment\x00\x00\x00\x00\x00" + b"A" * (8 * 1024 * 1024)
    return raw[:33] + _chunk(b"iTXt", itxt) + raw[33:]


def png_face_with_compressed_itxt_bomb() -> bytes:
    raw = _face_png()
    bomb = zlib.compress(b"\x00" * (256 * 1024 * 1024), 9)
    itxt = b"Comment\x00\x01\x00\x00\x00" + bomb
    return raw[:33] + _chunk(b"iTXt", itxt) + raw[33:]


def png_many_text_chunks() -> bytes:
    raw = _encoded("PNG", (200, 200))
    chunks = b"".join(_chunk(b"zTXt", b"k%d\x00\x00" % i + zlib.compress(b"x" * 900_000, 9))
                      for i in range(80))
    return raw[:33] + chunks + raw[33:]


def apng_multi_frame() -> bytes:
    frames = [Image.new("RGB", (300, 300), (i * 40, 0, 0)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:])
    return out.getvalue()


def jpeg_huge_dimensions() -> bytes:
    raw = bytearray(_encoded("JPEG", (64, 64)))
    sof = raw.index(b"\xff\xc0")
    raw[sof + 5:sof + 9] = struct.pack(">HH", 65500, 65500)
    return bytes(raw)


def jpeg_truncated() -> bytes:
    data = faces()[0].read_bytes()
    return data[: len(data) // 3]


def jpeg_face_zip_polyglot() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("payload.sh", "#!/bin/sh\necho owned\n" * 100)
    return faces()[0].read_bytes() + out.getvalue()


def jpeg_noise_zip_polyglot() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("payload.sh", "#!/bin/sh\necho owned\n" * 100)
    return _encoded("JPEG", (300, 300)) + out.getvalue()


def bmp_huge_dimensions() -> bytes:
    width = height = 50000
    header = b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return header + info + b"\x00" * 16


def tiff_huge_dimensions() -> bytes:
    entries = [(256, 4, 1, 100000), (257, 4, 1, 100000), (258, 3, 1, 8), (259, 3, 1, 1),
               (262, 3, 1, 1), (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, 100000),
               (279, 4, 1, 16)]
    ifd_offset = 8 + 16
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, typ, count, value) for tag, typ, count, value in entries
    ) + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", ifd_offset) + b"\x00" * 16 + ifd


def gif_image() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 300)).save(out, "GIF")
    return out.getvalue()


def svg_billion_laughs() -> bytes:
    return (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><svg>&b;</svg>')


def over_byte_limit() -> bytes:
    return b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024 + 10)


CORPUS: dict[str, Callable[[], bytes]] = {f.__name__: f for f in (
    png_bomb_over_pixel_limit, png_bomb_within_pixel_limit, png_huge_dimensions_tiny_file,
    png_zero_width, png_truncated, png_face_with_huge_itxt,
    png_face_with_compressed_itxt_bomb, png_many_text_chunks, apng_multi_frame,
    jpeg_huge_dimensions, jpeg_truncated, jpeg_face_zip_polyglot, jpeg_noise_zip_polyglot,
    bmp_huge_dimensions, tiff_huge_dimensions, gif_image, svg_billion_laughs, over_byte_limit,
)}


@pytest.fixture(scope="module")
def corpus_results(runtime: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    corpus = tmp_path_factory.mktemp("hostile")
    for name, make in CORPUS.items():
        (corpus / name).write_bytes(make())
    worker = Path(__file__).with_name("hostile_worker.py")
    # A wrapper process runs the worker and reports the worker's own peak RSS, so that
    # earlier children of the test process do not count.
    wrapper = ("import json, resource, subprocess, sys\n"
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "print(json.dumps({'rc': p.returncode, 'out': p.stdout, 'err': p.stderr[-3000:],"
               " 'maxrss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n")
    proc = subprocess.run(
        [sys.executable, "-c", wrapper, sys.executable, str(worker), str(corpus),
         runtime.db.dsn, str(tmp_path_factory.mktemp("hostile-data"))],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["rc"] == 0, report["err"]
    results: dict[str, Any] = json.loads(report["out"].strip().splitlines()[-1])
    results["__maxrss_mb__"] = report["maxrss_kb"] / 1024
    # the same from the test process' side, as the issue asks (all children so far)
    results["__children_maxrss_mb__"] = (
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    return results




@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_image_is_rejected_with_a_4xx(corpus_results: dict[str, Any],
                                              name: str) -> None:
    status, ptype, reason, _ = corpus_results[name]
    assert 400 <= status < 500, (name, status, ptype, reason)
    assert ptype and ptype.startswith("/problems/")


def test_peak_memory_of_the_upload_process_stays_bounded(corpus_results: dict[str, Any]
                                                         ) -> None:
    growth = [f"{name}: {v[3]} MB" for name, v in corpus_results.items()
              if isinstance(v, list) and len(v) == 4]
    assert corpus_results["__maxrss_mb__"] < RSS_LIMIT_MB, (
        corpus_results["__maxrss_mb__"], " ".join(growth))
    workers_peak = corpus_results["__workers__"][3]
    assert 0 < workers_peak < RSS_LIMIT_MB, workers_peak  # > 0: the workers did decode


def test_errors_are_guardreg_errors() -> None:
    for exc in INTAKE_ERRORS:
        assert issubclass(exc, GuardregError)
