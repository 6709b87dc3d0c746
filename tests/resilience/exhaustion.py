"""Inputs that cost a lot of work for few bytes (issue 14), built on demand."""

from __future__ import annotations

import io
import json
from functools import lru_cache

import numpy as np
from PIL import Image

from tests.conftest import FIXTURES


@lru_cache(maxsize=2)
def finder_pattern_mosaic(side: int = 2000, module: int = 1) -> bytes:
    """A PNG tiled with QR finder patterns (1:1:3:1:1): every one is a candidate for the
    QR decoder, which tries their combinations (6 CPU-seconds for this 3 KiB file when
    measured; the issue's 73 KiB variant cost 40)."""
    pattern = np.full((9, 9), 255, np.uint8)
    core = np.zeros((7, 7), np.uint8)
    core[1:6, 1:6] = 255
    core[2:5, 2:5] = 0
    pattern[1:8, 1:8] = core
    tiles = side // (9 * module)
    grid = np.tile(pattern, (tiles, tiles))
    pixels = np.repeat(np.repeat(grid, module, 0), module, 1)
    out = io.BytesIO()
    Image.fromarray(pixels).convert("1").save(out, "PNG", optimize=True)
    return out.getvalue()


@lru_cache(maxsize=4)
def finger_mosaic(side: int) -> bytes:
    """A real fingerprint tiled to ``side`` x ``side`` pixels (PNG): extraction works on
    every pixel, so its cost grows with the area (the issue's 4000x4000: 32 s)."""
    finger = np.asarray(Image.open(FIXTURES / "fingers" / "101_1.png").convert("L"))
    reps = (side // finger.shape[0] + 1, side // finger.shape[1] + 1)
    pixels = np.tile(finger, reps)[:side, :side]
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def unknown_keys_body(size: int) -> bytes:
    """A JSON object of about ``size`` bytes, every key unknown."""
    keys = max(1, size // 16)  # '"k00000000": 0, ' is 16 bytes
    return json.dumps({f"k{i:08d}": 0 for i in range(keys)}).encode()
