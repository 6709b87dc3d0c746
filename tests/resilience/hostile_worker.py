"""Subprocess of test_hostile_input.py: upload every file of a corpus as a face photo.

    python tests/resilience/hostile_worker.py CORPUS_DIR DATABASE_URL DATA_DIR

Prints one JSON object: {file name: [status, problem type, reason, peak RSS MB so far]}.
Runs in its own process so that the parent can measure its peak RSS (RUSAGE_CHILDREN).
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.runtime import Runtime
    from registry.db import Database
    from registry.settings import Settings
    from tests.conftest import make_principal

    corpus, dsn, data_dir = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    settings = Settings(mode="test", database_url=dsn, data_dir=data_dir)
    db = Database(dsn, max_size=2)
    rt = Runtime(settings=settings, db=db, embedded=None)
    out: dict[str, list[object]] = {}
    with TestClient(create_app(runtime=rt), raise_server_exceptions=False) as client:
        out["__baseline__"] = [0, None, None, resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss // 1024]
        reg = make_principal(rt, client, "regulator")
        guard = reg.make_guard(reg.make_company()["id"])
        for path in sorted(corpus.iterdir()):
            resp = reg.post(f"/v1/guards/{guard['id']}/face",
                            files={"photo": (path.name, path.read_bytes(),
                                             "application/octet-stream")})
            body = resp.json() if resp.headers.get("content-type", "").endswith("json") else {}
            out[path.name] = [resp.status_code, body.get("type"),
                              body.get("reason") or body.get("check"),
                              resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024]
        # Decoding happens in the image workers: their peak counts as much as ours.
        out["__workers__"] = [0, None, None,
                              round(rt.work.peak_rss_mb()) if rt.work is not None else 0]
        if rt.work is not None:
            rt.work.close()
    db.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
