from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from certfixtures import Pki, make_pki


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "keys")


@pytest.fixture
def pki_factory(tmp_path: Path) -> Callable[[str], Pki]:
    return lambda alg: make_pki(tmp_path / f"keys-{alg}", alg)
