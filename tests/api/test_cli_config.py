"""The command line finds the service from any directory; URLs follow the served port."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from api.cli import main
from api.cli_config import served_url
from api.cli_text import display_width, table
from certificates.credential import inspect
from registry.settings import reset_settings_cache
from tests.api.live_server import free_port
from tests.conftest import Api, _create_database, make_issuable_guard, make_principal

ROOT = Path(__file__).resolve().parents[2]


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from api.cli import main; main()", *args],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=300,
                          check=False)


@contextlib.contextmanager
def _serve(pg_server: str, template_db: str, tmp_path: Path, *extra: str,
           scheme: str = "http", verify: Any = True) -> Iterator[dict[str, Any]]:
    """`guardreg serve --port P` as a newcomer runs it: no GUARDREG_PUBLIC_BASE_URL."""
    dsn = _create_database(pg_server, f"guardreg_serve_{uuid.uuid4().hex[:8]}", template_db)
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GUARDREG_", "XDG_")) and k != "DATABASE_URL"}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT), GUARDREG_MODE="development")
    server_env = {**env, "DATABASE_URL": dsn, "GUARDREG_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port),
         *extra], env=server_env, cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    base = f"{scheme}://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60, verify=verify) as http:
            for _ in range(600):
                if proc.poll() is not None:
                    err = proc.stderr.read() if proc.stderr else ""
                    raise AssertionError(f"serve exited: {err}")
                try:
                    if http.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            yield {"port": port, "base": base, "env": env, "server_env": server_env,
                   "http": http, "home": home}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def served(pg_server: str, template_db: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with _serve(pg_server, template_db, tmp_path) as s:
        yield s


def _self_signed(directory: Path) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "guardreg test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_serve_over_https_names_https_and_marks_cookies_secure(
        pg_server: str, template_db: str, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    with _serve(pg_server, template_db, tmp_path, "--tls-cert", str(cert), "--tls-key",
                str(key), scheme="https", verify=str(cert)) as s:
        recorded = json.loads((s["home"] / ".local/state/guardreg/server.json").read_text())
        assert recorded["url"] == s["base"] and s["base"].startswith("https://")
        made = _cli(["account", "create", "--username", "tlschief", "--role",
                     "checkpoint_officer"], s["server_env"], tmp_path)
        assert made.returncode == 0, made.stderr
        password = made.stdout.split("first sign-in): ")[1].split()[0]
        signed = s["http"].post("/v1/session", json={"username": "tlschief",
                                                     "password": password})
        assert signed.status_code == 200, signed.text
        cookies = signed.headers.get_list("set-cookie")
        assert cookies and all("Secure" in c for c in cookies), cookies


def test_certificates_name_the_served_port_and_sync_needs_no_server_flag(
        served: dict[str, Any], tmp_path: Path) -> None:
    created = _cli(["apikey", "create", "--role", "regulator", "--name", "t"],
                   served["server_env"], tmp_path)
    assert created.returncode == 0, created.stderr
    reg = Api(served["http"], created.stdout.strip(), None)  # type: ignore[arg-type]
    company = reg.make_company()
    guard = make_issuable_guard(reg, company["id"])
    issued = reg.post(f"/v1/guards/{guard['id']}/certificate")
    assert issued.status_code == 201, issued.text
    _, claims = inspect(issued.json()["text"])
    assert claims.status.uri.startswith(f"{served['base']}/v1/status-lists/"), claims.status.uri

    # From a directory with nothing of guardreg's, with no database and no data dir:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    synced = _cli(["sync"], served["env"], elsewhere)
    assert synced.returncode == 0, synced.stderr
    cache = served["home"] / ".cache" / "guardreg" / "offline-cache"
    assert cache.is_dir() and any(cache.iterdir()), "the cache lives in the per-user directory"
    assert not any(elsewhere.iterdir()), "nothing written to the current directory"
    verified = _cli(["verify", "--offline", "--json", issued.json()["text"]], served["env"],
                    elsewhere)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["verdict"] == "valid"


def test_sync_error_names_the_fix_when_no_service_answers(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUARDREG_", "XDG_"))}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(ROOT),
               GUARDREG_PUBLIC_BASE_URL=f"http://127.0.0.1:{free_port()}")
    no_anchor = _cli(["sync"], env, tmp_path)
    assert no_anchor.returncode == 1 and "--anchor" in no_anchor.stderr
    result = _cli(["sync", "--anchor", "AAAA"], env, tmp_path)
    assert result.returncode == 1
    assert "--server" in result.stderr and "guardreg serve" in result.stderr


def test_a_wildcard_host_warns_and_names_the_machine() -> None:
    url, warning = served_url("0.0.0.0", 8123)
    assert warning is not None and "GUARDREG_PUBLIC_BASE_URL" in warning
    assert url.endswith(":8123") and "0.0.0.0" not in url
    assert served_url("127.0.0.1", 8123) == ("http://127.0.0.1:8123", None)
    assert served_url("::1", 8123)[0] == "http://[::1]:8123"


def test_apikey_list_and_revoke(runtime: Any, client: Any, monkeypatch: pytest.MonkeyPatch
                                ) -> None:
    monkeypatch.setenv("DATABASE_URL", runtime.db.dsn)
    monkeypatch.setenv("GUARDREG_MODE", "test")
    monkeypatch.setenv("GUARDREG_DATA_DIR", str(runtime.settings.data_dir))
    reset_settings_cache()
    try:
        officer = make_principal(runtime, client, "checkpoint_officer")
        listed = CliRunner().invoke(main, ["apikey", "list", "--json"])
        assert listed.exit_code == 0, listed.output
        ids = {r["id"]: r for r in json.loads(listed.output)}
        assert ids[officer.principal.id]["role"] == "checkpoint_officer"
        assert "key_hash" not in ids[officer.principal.id]
        text = CliRunner().invoke(main, ["apikey", "list"]).output
        assert text.splitlines()[0].split() == ["id", "role", "name", "bound", "to", "prefix",
                                                "created", "revoked"]
        assert "checkpoint_officer" in text
        revoked = CliRunner().invoke(main, ["apikey", "revoke", str(officer.principal.id)])
        assert revoked.exit_code == 0, revoked.output
        again = CliRunner().invoke(main, ["apikey", "revoke", str(officer.principal.id)])
        assert again.exit_code == 1 and "no active key" in again.output
        after = {r["id"] for r in json.loads(
            CliRunner().invoke(main, ["apikey", "list", "--json"]).output)}
        assert officer.principal.id not in after
    finally:
        reset_settings_cache()


def test_tables_line_up_with_chinese_names() -> None:
    out = table(["name", "n"], [["天津市保安服务总公司", "12"], ["ACME", "3"]],
                right=[False, True]).splitlines()
    assert len({display_width(line) for line in out}) == 1, out
    assert display_width("张伟") == 4
    clipped = table(["name"], [["很" * 40]], max_width=10).splitlines()[1]
    assert display_width(clipped) <= 10 and clipped.endswith("…")
