"""Routers are parse -> call -> view (issue 19): no SQL, no audit writes, no rules.

What a router may not import is what would let it hold a use case: a repository module
(SQL), the audit log or the event bus (writes and their side effects), the database's
transaction tools (savepoints: the shape of a use case's writes). Types are fine:
``Actor`` and ``Cursor`` only name what a use case takes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROUTERS = sorted((ROOT / "api" / "routers").glob("*.py"))

TYPE_ONLY = {"registry.audit": {"Actor"}, "registry.db": {"Cursor"}}
FORBIDDEN_MODULES = {"registry.audit", "registry.events", "registry.db", "psycopg2"}


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []

    def check(module: str, names: list[str], line: int) -> None:
        last = module.rsplit(".", 1)[-1]
        if last.endswith("repository"):
            found.append(f"line {line}: imports {module}")
            return
        for name in names:
            full = f"{module}.{name}"
            if name.endswith("repository") or full in FORBIDDEN_MODULES:
                found.append(f"line {line}: imports {full}")
        if module in FORBIDDEN_MODULES:
            extra = [n for n in names if n not in TYPE_ONLY.get(module, set())]
            if extra or not names:
                found.append(f"line {line}: imports {module} ({', '.join(extra) or '*'})")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check(alias.name, [], node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            check(node.module, [a.name for a in node.names], node.lineno)
        elif isinstance(node, ast.Attribute) and node.attr in {"execute", "executemany"}:
            found.append(f"line {node.lineno}: calls .{node.attr}")
    return found


@pytest.mark.parametrize("path", ROUTERS, ids=lambda p: p.stem)
def test_router_holds_no_sql_audit_or_rules(path: Path) -> None:
    assert _violations(path) == []


def test_the_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from registry import audit, repository\n"
                   "from registry.audit import Actor, record\n"
                   "from registry.db import Cursor, savepoint\n"
                   "from api import reviews_repository\n"
                   "def f(cur):\n    cur.execute('SELECT 1')\n", encoding="utf-8")
    good = tmp_path / "good.py"
    good.write_text("from registry.audit import Actor\nfrom registry.db import Cursor\n"
                    "from registry import service\n", encoding="utf-8")
    assert len(_violations(bad)) == 6
    assert _violations(good) == []


def _router_imports(path: Path) -> list[str]:
    """The other routers ``path`` imports (shared views live outside api/routers)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("api.routers") or (
                    node.level == 1 and node.module is not None):
                found.append(f"line {node.lineno}: imports {node.module}")
            elif node.module == "api" and any(a.name == "routers" for a in node.names):
                found.append(f"line {node.lineno}: imports api.routers")
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: imports {a.name}" for a in node.names
                      if a.name.startswith("api.routers")]
    return found


@pytest.mark.parametrize("path", ROUTERS, ids=lambda p: p.stem)
def test_no_router_imports_another_router(path: Path) -> None:
    assert _router_imports(path) == []


def test_the_router_import_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from api.routers.biometrics import capture_face\n"
                   "import api.routers.exams\nfrom .biometrics import x\n", encoding="utf-8")
    assert len(_router_imports(bad)) == 3
    good = tmp_path / "good.py"
    good.write_text("from api.capture_views import capture_face\n", encoding="utf-8")
    assert _router_imports(good) == []
