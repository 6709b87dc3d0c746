"""Start and stop the stack under test: a TCP PostgreSQL (tools/pg_tcp.py) and guardreg.

Everything listens on 127.0.0.1 only and lives in one temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
GUARDREG = str(Path(PY).with_name("guardreg"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Stack:
    workdir: Path
    database_url: str
    base_url: str
    env: dict[str, str]
    server: subprocess.Popen[bytes] | None = None
    server_pid: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str) -> str:
        out = subprocess.run([GUARDREG, *args], env=self.env, check=True, capture_output=True,
                             text=True, timeout=120)
        return out.stdout.strip()

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (children of the serving process)."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.server_pid)],
                             capture_output=True, text=True, check=False)
        pids = [int(p) for p in out.stdout.split()]
        workers = []
        for pid in pids:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes() if Path(
                f"/proc/{pid}/cmdline").exists() else b""
            if b"spawn_main" in cmd:
                workers.append(pid)
        return workers or pids


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"guardreg exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError("guardreg did not become ready")


@contextlib.contextmanager
def running_stack(*, workers: int, env_overrides: dict[str, str] | None = None,
                  keep: bool = False) -> Iterator[Stack]:
    sys.path.insert(0, str(ROOT))
    from tools import pg_tcp

    workdir = Path(tempfile.mkdtemp(prefix="guardreg-bench-load-"))
    pgdata = workdir / "pgdata"
    port = free_port()
    dsn = pg_tcp.start(pgdata, port)
    api_port = free_port()
    env = {**os.environ,
           "DATABASE_URL": dsn,
           "GUARDREG_DATA_DIR": str(workdir / "data"),
           "GUARDREG_MODE": "development",
           "GUARDREG_PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
           # One bench officer key drives thousands of verifications per second.
           "GUARDREG_RATE_LIMIT_VERIFY_PER_MIN": "100000000",
           "GUARDREG_RATE_LIMIT_ENROLL_PER_MIN": "100000",
           "GUARDREG_DB_POOL_MAX": "16",
           "PYTHONWARNINGS": "ignore"}
    env.update(env_overrides or {})
    stack = Stack(workdir=workdir, database_url=dsn,
                  base_url=f"http://127.0.0.1:{api_port}", env=env)
    proc: subprocess.Popen[bytes] | None = None
    try:
        stack.cli("db", "upgrade")
        # Generate the signing keys once, before the workers start (each worker would
        # otherwise race to create its own on an empty key directory).
        stack.cli("keys", "generate")
        log = (workdir / "server.log").open("wb")
        proc = subprocess.Popen([GUARDREG, "serve", "--host", "127.0.0.1", "--port",
                                 str(api_port), "--workers", str(workers)],
                                env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        stack.server = proc
        stack.server_pid = proc.pid
        _wait_ready(stack.base_url, proc)
        yield stack
    finally:
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        with contextlib.suppress(Exception):
            pg_tcp.stop(pgdata)
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
