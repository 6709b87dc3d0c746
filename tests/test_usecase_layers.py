"""Use cases sit below the routers (issue 19): a use case never imports a router, so a
router can call any use case without an import circle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _router_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return [n for n in names if n == "api.routers" or n.startswith("api.routers.")]


def test_use_cases_do_not_import_routers() -> None:
    offenders = {str(p.relative_to(ROOT)): found
                 for p in sorted((ROOT / "api" / "usecases").glob("*.py"))
                 if (found := _router_imports(p))}
    assert offenders == {}


def test_the_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from api.routers.biometrics import dedup_policy\n"
                   "from api import routers\n", encoding="utf-8")
    assert set(_router_imports(bad)) == {"api.routers.biometrics",
                                         "api.routers.biometrics.dedup_policy", "api.routers"}
