"""The architecture is visible and checked (STYLE.md habit 11)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("registry", "biometrics", "certificates", "api")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_layers_import_only_downwards() -> None:
    allowed = {
        "registry": {"registry"},
        "biometrics": {"registry", "biometrics"},
        "certificates": {"registry", "certificates"},
    }
    problems = []
    for package, ok in allowed.items():
        for path in _files(package):
            for imported in _imports(path) & set(PACKAGES):
                if imported not in ok:
                    problems.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not problems, problems


def test_nothing_imports_api() -> None:
    offenders = [str(p.relative_to(ROOT)) for pkg in ("registry", "biometrics", "certificates")
                 for p in _files(pkg) if "api" in _imports(p)]
    assert not offenders


def test_only_certificates_signing_loads_private_keys() -> None:
    pattern = re.compile(r"load_(pem|der|ssh)_private_key|Ed25519PrivateKey\.from_private_bytes")
    offenders = [str(p.relative_to(ROOT)) for pkg in PACKAGES for p in _files(pkg)
                 if pattern.search(p.read_text(encoding="utf-8"))
                 and "certificates/signing" not in p.as_posix()]
    assert not offenders, offenders


def test_sql_lives_in_repository_modules() -> None:
    # The database plumbing (pool, savepoints, migrations) and the audit log's own store
    # are the only other places that speak SQL.
    plumbing = {"registry/db.py", "registry/migrate.py", "registry/audit.py"}
    offenders = []
    for pkg in PACKAGES:
        for path in _files(pkg):
            rel = path.relative_to(ROOT).as_posix()
            if rel in plumbing or rel.endswith("repository.py"):
                continue
            if re.search(r"\.execute\(", path.read_text(encoding="utf-8")):
                offenders.append(rel)
    assert not offenders, offenders


def test_other_packages_read_the_registry_through_typed_records() -> None:
    # certificates and biometrics get guards as registry.records.GuardRecord from
    # registry.service, never rows from the registry's repositories (issue 19).
    offenders = []
    for pkg in ("certificates", "biometrics"):
        for path in _files(pkg):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [a.name for a in node.names]
                    if node.module.startswith("registry") and (
                            node.module.endswith("repository")
                            or any(n.endswith("repository") for n in names)):
                        offenders.append(f"{path.relative_to(ROOT)}: {node.module} {names}")
    assert not offenders, offenders
