-- 1:N fingerprint index, scheme 2 (docs/fingerprint.md, "1:N search"): posting lists
-- name the *cylinder* that has a code, not only the finger, so that a search can count
-- how many hash tables each probe cylinder shares with each enrolled cylinder (votes)
-- instead of how many codes two fingers share overall. Measured in bench/
-- bench_finger_index.py: the mate reaches the shortlist far more often (docs/BENCHMARKS.md).
--
-- The scheme-1 postings cannot be converted (they do not say which cylinder had a
-- code), so they go, with the index rows that point into them: every enrolled finger
-- is unsearchable until `guardreg biometrics finger-index` has indexed it again from its
-- stored template (no image is needed; templates of any earlier extractor version are
-- indexed the same way). Run it right after this migration.

DROP TABLE biometrics_finger_posting;
TRUNCATE biometrics_finger_index RESTART IDENTITY;

-- code -> entries, each int32 big-endian `finger_id << 6 | slot` (slot: the cylinder of
-- that finger that has the code). A list that reaches index.MAX_POSTINGS entries stops
-- growing and is ignored by searches. Enrollment appends to the lists of its finger's
-- codes; `finger-index` writes whole lists at once (below).
CREATE TABLE biometrics_finger_posting (
    code        integer PRIMARY KEY,
    entries     bytea NOT NULL
);
-- Random ids do not compress: keep long lists out of line, uncompressed.
ALTER TABLE biometrics_finger_posting ALTER COLUMN entries SET STORAGE EXTERNAL;

-- Bulk builds (`guardreg biometrics finger-index`): each batch COPYs its postings here
-- (no update of a list per batch, so no dead list versions), and the end of the run
-- merges them into biometrics_finger_posting with one statement per run (into an empty
-- table: loaded first, primary key built after). Transient; not worth WAL.
CREATE UNLOGGED TABLE biometrics_finger_posting_stage (
    code        integer NOT NULL,
    entries     bytea NOT NULL
);
