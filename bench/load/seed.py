"""Seed a running guardreg through its HTTP API: company, guards, biometrics, certificates."""

from __future__ import annotations

import datetime as dt
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = ROOT / "tests" / "fixtures" / "people"
FINGERS = ROOT.parent / "shared" / "data" / "fingerprints" / "fvc2002" / "DB1_B"


def faces() -> list[Path]:
    return sorted(PEOPLE.glob("*_x2.jpg"))


def finger_images() -> list[Path]:
    return sorted(FINGERS.glob("*.png"))


def credit_code() -> str:
    sys.path.insert(0, str(ROOT))
    from registry.validation import make_credit_code

    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    return make_credit_code("120101", "".join(secrets.choice(alphabet) for _ in range(8)))


def id_number() -> str:
    sys.path.insert(0, str(ROOT))
    from registry.validation import make_resident_id

    today = dt.date.today()
    birth = dt.date(today.year - 30, 1, 1) + dt.timedelta(days=secrets.randbelow(300))
    return make_resident_id("120101", birth, secrets.randbelow(1000))


@dataclass
class Seeded:
    company_id: int
    guards: list[int] = field(default_factory=list)
    certificates: list[dict[str, Any]] = field(default_factory=list)
    held_reviews: int = 0


class Seeder:
    def __init__(self, client: httpx.Client, regulator_key: str) -> None:
        self.c = client
        self.h = {"Authorization": f"Bearer {regulator_key}"}
        self.held = 0

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.c.post(path, headers=self.h, **kw)

    def company(self) -> int:
        r = self.post("/v1/companies", json={
            "name": f"压测保安服务公司{secrets.token_hex(3)}", "credit_code": credit_code(),
            "kind": "security_service", "licence_number": f"津公保{secrets.randbelow(10**8):08d}",
            "district": "和平区"})
        r.raise_for_status()
        return int(r.json()["id"])

    def guard(self, company_id: int) -> str:
        r = self.post("/v1/guards", json={"name": "王" + secrets.choice("明强伟芳娜静"),
                                          "id_number": id_number(), "company_id": company_id,
                                          "phone": f"139{secrets.randbelow(10**8):08d}"})
        r.raise_for_status()
        return str(r.json()["id"])  # the guard's public id (issue 14)

    def background_check(self, guard_id: str) -> None:
        r = self.post(f"/v1/guards/{guard_id}/background-checks",
                      json={"result": "clear", "checked_on": dt.date.today().isoformat()})
        r.raise_for_status()
        # Issue 15: a certificate needs a passed exam too.
        r = self.post(f"/v1/guards/{guard_id}/exam-results",
                      json={"passed": True, "evidence": "load seed"})
        r.raise_for_status()

    def _approve_if_held(self, r: httpx.Response) -> None:
        if r.status_code == 202:
            self.held += 1
            review = r.json()["review_id"]
            d = self.post(f"/v1/biometrics/reviews/{review}/decision", json={"approve": True})
            d.raise_for_status()
        elif r.status_code != 201:
            raise RuntimeError(f"enrollment failed: {r.status_code} {r.text[:300]}")

    def face(self, guard_id: str, photo: Path) -> httpx.Response:
        r = self.post(f"/v1/guards/{guard_id}/face",
                      files={"photo": (photo.name, photo.read_bytes(), "image/jpeg")})
        self._approve_if_held(r)
        return r

    def finger(self, guard_id: str, position: int, image: Path) -> httpx.Response:
        r = self.post(f"/v1/guards/{guard_id}/fingers/{position}",
                      files={"image": (image.name, image.read_bytes(), "image/png")},
                      data={"dpi": "500"})
        self._approve_if_held(r)
        return r

    def issue(self, guard_id: str) -> httpx.Response:
        r = self.post(f"/v1/guards/{guard_id}/certificate")
        if r.status_code not in (200, 201):
            raise RuntimeError(f"issue failed: {r.status_code} {r.text[:300]}")
        return r

    def enrolled_guard(self, company_id: int, n: int) -> str:
        """A guard with a face and two fingers (chosen by ``n`` among the fixtures)."""
        gid = self.guard(company_id)
        self.background_check(gid)
        fs, fp = faces(), finger_images()
        self.face(gid, fs[n % len(fs)])
        impression = (n // 5) % 8  # 10 fingers x 8 impressions in FVC2002 DB1_B
        self.finger(gid, 1, fp[((2 * n) % 10) * 8 + impression])
        self.finger(gid, 2, fp[((2 * n + 1) % 10) * 8 + impression])
        return gid


def seed(client: httpx.Client, regulator_key: str, guards: int) -> Seeded:
    s = Seeder(client, regulator_key)
    out = Seeded(company_id=s.company())
    for n in range(guards):
        gid = s.enrolled_guard(out.company_id, n)
        out.guards.append(gid)
        out.certificates.append(s.issue(gid).json())
    out.held_reviews = s.held
    return out
