"""The write side of the load mix, run as its own process during the mixed phase.

    python -m bench.load.writer PLAN.json RESULT.json

PLAN: base_url, regulator_key, company_id, fresh_guards (enrolled, no certificate yet),
cycle_numbers (certificates to suspend and reinstate), seconds, max_ops, pace_s.
Each cycle: enroll a guard record (+ a fingerprint every other cycle), issue one fresh
guard's certificate, revoke the previously issued one, suspend and reinstate a
certificate that officers keep verifying. Latencies are recorded per endpoint.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.load.seed import Seeder, finger_images


def run(plan: dict[str, Any]) -> dict[str, Any]:
    lat: dict[str, list[float]] = defaultdict(list)
    status: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    fresh = list(plan["fresh_guards"])
    cycle = list(plan["cycle_numbers"])
    fingers = finger_images()
    issued: list[str] = []
    deadline = time.monotonic() + float(plan["seconds"])
    ops = 0
    with httpx.Client(base_url=plan["base_url"], timeout=30) as client:
        s = Seeder(client, plan["regulator_key"])

        def call(name: str, method: str, path: str, **kw: Any) -> httpx.Response:
            nonlocal ops
            t0 = time.perf_counter()
            r = client.request(method, path, headers=s.h, **kw)
            lat[name].append((time.perf_counter() - t0) * 1000)
            status[name][r.status_code] += 1
            ops += 1
            return r

        n = 0
        while time.monotonic() < deadline and ops < int(plan["max_ops"]):
            start = time.monotonic()
            r = call("POST /v1/guards", "POST", "/v1/guards", json={
                "name": "赵" + "明强伟芳娜静"[n % 6], "id_number": _id(),
                "company_id": plan["company_id"], "phone": f"138{n:08d}"})
            if r.status_code == 201 and n % 2 == 0:
                gid = r.json()["id"]
                img = fingers[(n * 7) % len(fingers)]
                call("POST /v1/guards/{id}/fingers/{pos}", "POST",
                     f"/v1/guards/{gid}/fingers/3",
                     files={"image": (img.name, img.read_bytes(), "image/png")},
                     data={"dpi": "500"})
            if issued:
                call("POST /v1/certificates/{n}/revoke", "POST",
                     f"/v1/certificates/{issued.pop()}/revoke", json={"reason": "left-industry"})
            if fresh:
                r = call("POST /v1/guards/{id}/certificate", "POST",
                         f"/v1/guards/{fresh.pop()}/certificate")
                if r.status_code in (200, 201):
                    issued.append(r.json()["number"])
            if cycle:
                number = cycle[n % len(cycle)]
                call("POST /v1/certificates/{n}/suspend", "POST",
                     f"/v1/certificates/{number}/suspend", json={"reason": "investigation"})
                call("POST /v1/certificates/{n}/reinstate", "POST",
                     f"/v1/certificates/{number}/reinstate")
            n += 1
            time.sleep(max(0.0, float(plan["pace_s"]) - (time.monotonic() - start)))
    return {"latencies_ms": lat, "status": {k: dict(v) for k, v in status.items()},
            "cycles": n, "ops": ops}


def _id() -> str:
    from bench.load.seed import id_number

    return id_number()


if __name__ == "__main__":
    plan = json.loads(Path(sys.argv[1]).read_text())
    Path(sys.argv[2]).write_text(json.dumps(run(plan)))
