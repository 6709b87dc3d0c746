"""The architecture is checked: certificates imports only registry and itself, and
only certificates/signing loads private keys."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "certificates"
STDLIB_OK = {"__future__"}
THIRD_PARTY_OK = {"cbor2", "cryptography", "qrcode", "zxingcpp", "PIL", "numpy", "cv2",
                  "pydantic", "pydantic_settings", "gmssl"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def test_no_forbidden_imports() -> None:
    import sys

    for path in PKG.rglob("*.py"):
        for mod in _imports(path):
            top = mod.split(".")[0]
            assert top not in {"api", "biometrics"}, f"{path.name} imports {mod}"
            assert (
                top in {"certificates", "registry"} | STDLIB_OK | THIRD_PARTY_OK
                or top in sys.stdlib_module_names
            ), f"{path.name} imports {mod}"


def test_private_keys_loaded_only_in_signing() -> None:
    needles = ("load_pem_private_key", "load_der_private_key", "PrivateFormat",
               "generate_private_key", "Ed25519PrivateKey.generate", "generate_sm2_scalar",
               "Sm2SoftwareSigner(", ".key.sm2")
    for path in PKG.rglob("*.py"):
        if "signing" in path.relative_to(PKG).parts:
            continue
        text = path.read_text()
        for needle in needles:
            assert needle not in text, f"{path} uses {needle}"
