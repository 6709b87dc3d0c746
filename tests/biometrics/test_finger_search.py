"""1:N fingerprint search from PostgreSQL (migration 0110) on a real database.

A gallery of a few hundred fingers: real FVC2002 impressions of a few guards among
distinct synthetic fingers (biometrics.fingerprint.synthetic), indexed by the same bulk
path `guardreg biometrics finger-index` uses; probes are other real impressions.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.biometric_context import sealer as sealer_of
from api.runtime import Runtime
from biometrics import finger_repository
from biometrics import repository as bio_repo
from biometrics.finger_search import (
    FingerHit,
    TemplateCache,
    finger_aad,
    index_finger,
    index_fingers,
    search_fingers,
)
from biometrics.fingerprint import index, matcher, synthetic
from biometrics.fingerprint.extraction import extract_from_bytes
from biometrics.sealing import Sealer
from registry.db import Cursor, Database
from tests.conftest import FINGERS, Api, isolated_stack, make_principal

DISTRACTOR_GUARDS = 30  # x 10 positions = 300 synthetic fingers


def prepared(name: str) -> matcher.PreparedTemplate:
    return matcher.prepare(extract_from_bytes((FINGERS / name).read_bytes()))


def store(cur: Cursor, sealer: Sealer, subject: str, position: int,
          prep: matcher.PreparedTemplate, *, index_it: bool = True) -> None:
    record = matcher.serialize(prep)
    bio_repo.upsert_finger(cur, subject=subject, position=position, status="enrolled",
                           model="test", template_sealed=sealer.seal(
                               record, aad=finger_aad(subject, position)),
                           quality=60, minutiae=prep.size)
    if index_it:
        index_finger(cur, subject=subject, position=position, prepared=matcher.prepare(record))


@pytest.fixture(scope="module")
def stack(pg_server: str, template_db: str, data_dir: Path, clock: Any) -> Any:
    with isolated_stack(pg_server, template_db, data_dir, clock) as s:
        yield s


@pytest.fixture(scope="module")
def gallery(stack: Any) -> dict[str, Any]:
    """Guards ``a`` (101_1 at position 2) and ``b`` (102_1 at position 7) with real
    fingers, and 300 synthetic fingers of other guards, indexed in batches of 64."""
    rt, client = stack
    regulator = make_principal(rt, client, "regulator")
    company = regulator.make_company()
    subjects = []
    for _ in range(DISTRACTOR_GUARDS + 2):
        guard = regulator.make_guard(company["id"])
        with rt.db.transaction(readonly=True) as cur:
            cur.execute("SELECT biometric_subject::text AS s FROM registry_guard"
                        " WHERE public_id = %s", (guard["id"],))
            subjects.append(cur.fetchone()["s"])
    a, b, others = subjects[0], subjects[1], subjects[2:]
    sealer = sealer_of(rt.settings)
    with rt.db.transaction() as cur:
        store(cur, sealer, a, 2, prepared("101_1.png"))
        store(cur, sealer, b, 7, prepared("102_1.png"))
        for g, subject in enumerate(others):
            for position in range(1, 11):
                seed = 1000 + 10 * g + position
                mins = synthetic.impression(synthetic.master_finger(seed), 0)
                store(cur, sealer, subject, position, matcher.prepare_minutiae(mins),
                      index_it=False)
    batches = 0
    after: tuple[str, int] | None = None
    indexed = 0
    while True:
        with rt.db.transaction() as cur:
            report = index_fingers(cur, sealer=sealer, after=after, limit=64)
        indexed += report.indexed
        batches += 1
        after = report.last
        if after is None:
            break
    return {"a": a, "b": b, "others": others, "sealer": sealer, "indexed": indexed,
            "batches": batches}


def search(rt: Runtime, probe: matcher.PreparedTemplate, sealer: Sealer,
           **kw: Any) -> list[FingerHit]:
    with rt.db.transaction(readonly=True) as cur:
        return search_fingers(cur, probe, sealer=sealer, **kw)


def test_the_bulk_build_indexes_every_finger_once(stack: Any, gallery: dict[str, Any]) -> None:
    rt, _ = stack
    assert gallery["indexed"] == 10 * DISTRACTOR_GUARDS
    assert gallery["batches"] == 5  # 300 in batches of 64, resumed after each
    with rt.db.transaction(readonly=True) as cur:
        status = finger_repository.finger_index_status(cur, scheme=index.SCHEME)
    assert status["fingers"] == status["indexed"] == 10 * DISTRACTOR_GUARDS + 2
    assert status["codes"] > 0 and status["bytes"] > 0


def test_search_finds_the_mate_of_a_real_impression(stack: Any,
                                                    gallery: dict[str, Any]) -> None:
    rt, _ = stack
    hits = search(rt, prepared("101_2.png"), gallery["sealer"], limit=5)
    assert 0 < len(hits) <= 5
    assert (hits[0].subject, hits[0].position) == (gallery["a"], 2)
    assert hits[0].score >= matcher.THRESHOLD_FMR_01
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    other = search(rt, prepared("102_2.png"), gallery["sealer"], limit=1, db=rt.db)
    assert (other[0].subject, other[0].position) == (gallery["b"], 7)
    # a finger nobody enrolled: the best candidate is not a match
    absent = search(rt, prepared("105_1.png"), gallery["sealer"], limit=1)
    assert absent and absent[0].score < matcher.THRESHOLD_FMR_01


def test_the_shortlist_bounds_how_many_fingers_are_scored(
        stack: Any, gallery: dict[str, Any]) -> None:
    rt, _ = stack
    probe = prepared("101_2.png")
    assert len(search(rt, probe, gallery["sealer"], limit=100, shortlist=3)) == 3
    assert len(search(rt, probe, gallery["sealer"], limit=100, shortlist=40)) == 40


def test_exclude_subject(stack: Any, gallery: dict[str, Any]) -> None:
    rt, _ = stack
    hits = search(rt, prepared("101_2.png"), gallery["sealer"], exclude_subject=gallery["a"],
                  limit=50)
    assert hits and gallery["a"] not in {h.subject for h in hits}
    assert hits[0].score < matcher.THRESHOLD_FMR_01


def test_subjects_mode_scores_every_finger_of_those_subjects(
        stack: Any, gallery: dict[str, Any]) -> None:
    rt, _ = stack
    probe = prepared("101_2.png")
    cache, small = TemplateCache(16), TemplateCache(4)
    chosen = [gallery["a"], gallery["others"][3]]
    hits = search(rt, probe, gallery["sealer"], subjects=chosen, limit=50, cache=cache)
    assert len(hits) == 11  # a's one finger and the ten of the other guard
    assert (hits[0].subject, hits[0].position) == (gallery["a"], 2)
    assert {h.subject for h in hits} == set(chosen)
    assert hits[0].score == pytest.approx(matcher.match(probe, prepared("101_1.png")),
                                          abs=0.02)
    assert len(cache) == 11 and cache.misses == 11 and cache.hits == 0
    again = search(rt, probe, gallery["sealer"], subjects=chosen, limit=50, cache=cache)
    assert again == hits and cache.hits == 11 and cache.misses == 11
    assert search(rt, probe, gallery["sealer"], subjects=chosen, limit=50, cache=small) == hits
    assert len(small) == 4  # bounded
    assert search(rt, probe, gallery["sealer"], subjects=chosen, exclude_subject=gallery["a"],
                  limit=50)[0].subject == gallery["others"][3]


def test_a_rejected_finger_is_not_returned(stack: Any, gallery: dict[str, Any]) -> None:
    rt, _ = stack
    probe = prepared("102_2.png")
    with rt.db.transaction() as cur:
        bio_repo.set_finger_status(cur, gallery["b"], "rejected")
        full = search_fingers(cur, probe, sealer=gallery["sealer"], limit=50)
        chosen = search_fingers(cur, probe, sealer=gallery["sealer"], subjects=[gallery["b"]])
        cur.connection.rollback()
    assert gallery["b"] not in {h.subject for h in full}
    assert chosen == []
    assert search(rt, probe, gallery["sealer"], limit=1)[0].subject == gallery["b"]


def test_reenrolling_a_position_replaces_its_index_rows(stack: Any,
                                                       gallery: dict[str, Any]) -> None:
    rt, _ = stack
    sealer = gallery["sealer"]
    with rt.db.transaction() as cur:
        store(cur, sealer, gallery["a"], 2, prepared("103_1.png"))  # another finger now
        cur.execute("SELECT count(*) AS n FROM biometrics_finger_index"
                    " WHERE subject = %s AND position = 2", (gallery["a"],))
        rows = cur.fetchone()["n"]
        old = search_fingers(cur, prepared("101_2.png"), sealer=sealer, limit=50)
        new = search_fingers(cur, prepared("103_1.png"), sealer=sealer, limit=1)
        cur.connection.rollback()
    assert rows == 1
    assert all(h.score < matcher.THRESHOLD_FMR_01 for h in old if h.subject == gallery["a"])
    assert (new[0].subject, new[0].position) == (gallery["a"], 2)
    assert new[0].score >= matcher.THRESHOLD_FMR_01


@pytest.fixture
def second_process(stack: Any, clock: Any) -> Iterator[TestClient]:
    """Another API process on the same database: its own Runtime, pool and caches."""
    rt, _ = stack
    other = Runtime(settings=rt.settings, db=Database(rt.db.dsn, max_size=4), embedded=None)
    try:
        with TestClient(create_app(runtime=other, clock=clock),
                        raise_server_exceptions=False) as c:
            yield c
    finally:
        other.close()


def enroll(api: Api, guard_id: int, position: int, name: str) -> Any:
    return api.post(f"/v1/guards/{guard_id}/fingers/{position}",
                    files={"image": (name, (FINGERS / name).read_bytes(), "image/png")})


def test_a_second_api_process_sees_a_finger_enrolled_by_the_first(
        stack: Any, gallery: dict[str, Any], second_process: TestClient) -> None:
    rt, client = stack
    first = make_principal(rt, client, "regulator")
    second = make_principal(rt, second_process, "regulator")
    company = first.make_company()
    g1, g2, g3 = (first.make_guard(company["id"]) for _ in range(3))
    # the second process searches (and caches) before the fingers exist
    assert enroll(second, g3["id"], 4, "104_1.png").status_code == 201
    assert enroll(first, g1["id"], 5, "106_1.png").status_code == 201
    assert enroll(first, g1["id"], 6, "104_1.png").status_code == 201
    # One finger alone never holds under the fused rule (docs/dedup.md); the second does.
    assert enroll(second, g2["id"], 5, "106_1.png").status_code == 201
    held = enroll(second, g2["id"], 6, "104_1.png")
    assert held.status_code == 202, held.text
    assert held.json()["candidates"][0]["guard_id"] == g1["id"]
    # and the other way round: the first process sees what the second enrolled
    g4 = first.make_guard(company["id"])
    assert enroll(first, g4["id"], 5, "106_1.png").status_code == 201
    back = enroll(first, g4["id"], 6, "104_1.png")
    assert back.status_code == 202, back.text
    assert g2["id"] in {c["guard_id"] for c in back.json()["candidates"]}
