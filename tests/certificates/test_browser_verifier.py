"""The browser verifier and its offline store (api/static/lib) on the shared vectors,
under Node's test runner (tests/js/verifier.test.mjs): one vector file, both verifiers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_browser_verifier_passes_the_shared_vectors_and_refuses_rollbacks() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    run = subprocess.run([node, "--test", str(ROOT / "tests" / "js")], capture_output=True,
                         text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout
