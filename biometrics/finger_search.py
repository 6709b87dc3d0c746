"""1:N fingerprint search from PostgreSQL (docs/fingerprint.md, "1:N search").

The gallery lives in the database only: each enrolled finger is indexed by its MCC
cylinders' codes (:mod:`biometrics.fingerprint.index`, tables of migrations 0110/0111)
when it is enrolled (:func:`index_finger`, in the enrollment's transaction), or in bulk
by ``guardreg biometrics finger-index`` (:func:`index_fingers` staged, then
:func:`merge_staged`). :func:`search_fingers` reads the posting lists of the probe's
codes, ranks fingers by per-cylinder votes (:func:`index.rank_votes`), decrypts the
templates of the best ``shortlist`` and scores them with the full matcher.
Every search reads committed data, so a finger enrolled through one API process is
found by every other one at once; no process holds the gallery. Prepared templates may
be kept in a bounded :class:`TemplateCache` that the caller owns (the API runtime has
one per process) and passes in.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from biometrics import finger_repository, repository
from biometrics.fingerprint import index
from biometrics.fingerprint.matcher import PreparedTemplate, match_many, prepare
from biometrics.sealing import Sealer
from registry.db import Cursor, Database

DEFAULT_SHORTLIST = 100  # fingers scored with the full matcher (bench/bench_finger_index.py)
# Ranked ids read beyond the shortlist, so that stale (re-enrolled), rejected and
# excluded fingers do not leave the shortlist short.
_SPARE = 32


def finger_aad(subject: str, position: int) -> bytes:
    return f"finger-template:{subject}:{position}".encode()


@dataclass(frozen=True)
class FingerHit:
    subject: str
    position: int
    score: float  # full matcher score, matcher.match(probe, enrolled)


class TemplateCache:
    """A bounded, thread-safe LRU of prepared (decrypted) templates keyed by
    ``(subject, position, change_seq)``: a re-enrolled or re-reviewed finger has a new
    ``change_seq``, so an entry never outlives the template it was made from. About
    150 KB per entry (the cylinders)."""

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, int, int], PreparedTemplate] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple[str, int, int]) -> PreparedTemplate | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: tuple[str, int, int], prepared: PreparedTemplate) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._items[key] = prepared
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)


_PARALLEL_FROM = 16  # shortlists at least this long are prepared on PREPARE_THREADS
PREPARE_THREADS = 2
_POOL: list[ThreadPoolExecutor] = []
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(PREPARE_THREADS,
                                            thread_name_prefix="finger-prepare"))
        return _POOL[0]


def prepared_template(row: dict[str, Any], sealer: Sealer, cache: TemplateCache | None,
                      ) -> PreparedTemplate:
    """The prepared template of a stored finger row (``subject``, ``position``,
    ``change_seq``, ``template_sealed``), from ``cache`` when it holds it."""
    subject, position = str(row["subject"]), int(row["position"])
    key = (subject, position, int(row["change_seq"]))
    found = cache.get(key) if cache is not None else None
    if found is None:
        found = prepare(sealer.open(bytes(row["template_sealed"]),
                                    aad=finger_aad(subject, position)))
        if cache is not None:
            cache.put(key, found)
    return found


def _score(probe: PreparedTemplate, rows: list[dict[str, Any]], sealer: Sealer,
           cache: TemplateCache | None, limit: int) -> list[FingerHit]:
    if not rows:
        return []
    if len(rows) >= _PARALLEL_FROM:
        # decrypting and preparing (cylinders) is most of a search's CPU; OpenCV and
        # the larger numpy steps release the GIL, so two threads use both cores
        prepared = list(_pool().map(lambda r: prepared_template(r, sealer, cache), rows))
    else:
        prepared = [prepared_template(r, sealer, cache) for r in rows]
    scores = match_many(probe, prepared)
    hits = [FingerHit(str(r["subject"]), int(r["position"]), float(s))
            for r, s in zip(rows, scores, strict=True)]
    hits.sort(key=lambda h: (-h.score, h.subject, h.position))
    return hits[:limit]


def shortlist_ids(cur: Cursor, probe: PreparedTemplate, *, k: int,
                  db: Database | None = None) -> list[tuple[int, float]]:
    """The ``k`` best ``(finger_id, index score)`` for ``probe`` from the database index
    (:func:`index.rank_votes`), best first (stale, rejected and excluded fingers not yet
    removed). With ``db``, the posting lists are read in two halves at the same time
    (:meth:`Database.fan_out`)."""
    codes = index.minutia_codes(probe)
    distinct = np.unique(codes)
    if distinct.size == 0:
        return []
    parts = ([distinct] if db is None
             else [distinct[: distinct.size // 2], distinct[distinct.size // 2:]])

    def read(part: Any) -> Any:
        return lambda c: finger_repository.posting_lists(
            c, part.tolist(), max_postings=index.MAX_POSTINGS)

    found: dict[int, Any] = {}
    for lists in (db.fan_out(cur, [read(p) for p in parts]) if db is not None
                  else [read(parts[0])(cur)]):
        found.update(lists)
    if not found:
        return []
    return index.rank_votes(codes, found, gallery_size=finger_repository.gallery_size(cur),
                            top=k)


def search_fingers(cur: Cursor, probe: PreparedTemplate, *, sealer: Sealer,
                   exclude_subject: str | None = None,
                   subjects: Sequence[str] | None = None,
                   limit: int = 10, shortlist: int | None = None,
                   db: Database | None = None,
                   cache: TemplateCache | None = None) -> list[FingerHit]:
    """subjects=None: the whole gallery through the database shortlist then the full matcher;
    subjects given: every enrolled (non-rejected) finger of those subjects scored in full.
    Best first, at most `limit` hits.

    ``shortlist`` (default ``DEFAULT_SHORTLIST``) is how many fingers the full matcher
    scores; ``db`` lets the index read use two connections; ``cache`` keeps prepared
    templates between searches. Fingers that ``cur``'s own transaction indexed are
    searched only without ``db`` (the other connections see committed data only)."""
    if subjects is not None:
        rows = finger_repository.fingers_of(cur, list(subjects), exclude_subject=exclude_subject)
        return _score(probe, rows, sealer, cache, limit)
    k = shortlist if shortlist is not None else DEFAULT_SHORTLIST
    ranked = shortlist_ids(cur, probe, k=k + _SPARE, db=db)
    if not ranked:
        return []
    rows = finger_repository.indexed_fingers(cur, [i for i, _ in ranked],
                                             exclude_subject=exclude_subject)
    order = {fid: n for n, (fid, _) in enumerate(ranked)}
    rows.sort(key=lambda r: order[int(r["finger_id"])])
    return _score(probe, rows[:k], sealer, cache, limit)


def index_finger(cur: Cursor, *, subject: str, position: int, prepared: PreparedTemplate,
                 ) -> None:
    """Write the finger's index rows (called in the same transaction as the upsert)."""
    codes, slots = index.finger_postings(prepared)
    finger_repository.index_finger(
        cur, subject=subject, position=position, scheme=index.SCHEME, codes=codes,
        slots=slots, max_postings=index.MAX_POSTINGS)


def unindex_subject(cur: Cursor, *, subject: str, sealer: Sealer) -> int:
    """Remove the subject's fingers from the posting lists (retention purge): the codes
    are recomputed from each stored template, so exactly the lists naming the finger
    change. Call before the finger rows are deleted; returns the lists changed."""
    from biometrics.errors import TemplateRejected

    changed = 0
    templates = {int(f["position"]): f for f in repository.get_fingers(cur, subject)}
    for row in finger_repository.index_rows_of(cur, subject):
        position = int(row["position"])
        finger = templates.get(position)
        if finger is None:
            continue
        try:
            prep = prepare(sealer.open(bytes(finger["template_sealed"]),
                                       aad=finger_aad(subject, position)))
        except TemplateRejected:
            continue  # never indexed from this template; a rebuild drops stale postings
        changed += finger_repository.remove_from_postings(
            cur, int(row["finger_id"]), [int(c) for c in index.finger_postings(prep)[0]])
    return changed


@dataclass
class IndexReport:
    indexed: int
    failed: list[tuple[str, int]]  # templates that no longer parse (left unindexed)
    last: tuple[str, int] | None  # where the next batch starts; None when done


def index_fingers(cur: Cursor, *, sealer: Sealer, after: tuple[str, int] | None,
                  limit: int, staged: bool = False) -> IndexReport:
    """Index up to ``limit`` not yet indexed fingers after ``after`` in (subject,
    position) order, in one bulk write (``guardreg biometrics finger-index``).
    ``staged``: the postings wait in the stage until :func:`merge_staged` (the CLI's
    bulk build); otherwise they are searchable when the transaction commits."""
    from biometrics.errors import TemplateRejected

    rows = finger_repository.fingers_to_index(cur, scheme=index.SCHEME, after=after,
                                              limit=limit)
    items: list[finger_repository.Postings] = []
    failed: list[tuple[str, int]] = []
    for row in rows:
        subject, position = str(row["subject"]), int(row["position"])
        try:
            prep = prepare(sealer.open(bytes(row["template_sealed"]),
                                       aad=finger_aad(subject, position)))
        except TemplateRejected:
            failed.append((subject, position))
            continue
        items.append((subject, position, *index.finger_postings(prep)))
    finger_repository.index_fingers_bulk(cur, items, scheme=index.SCHEME,
                                         max_postings=index.MAX_POSTINGS, staged=staged)
    last = (str(rows[-1]["subject"]), int(rows[-1]["position"])) if len(rows) == limit else None
    return IndexReport(len(items), failed, last)


def merge_staged(cur: Cursor, *, keep_stage: bool = False) -> int:
    """Make the staged postings of a bulk build searchable (one write per list)."""
    return finger_repository.merge_staged_postings(cur, max_postings=index.MAX_POSTINGS,
                                                   keep_stage=keep_stage)
