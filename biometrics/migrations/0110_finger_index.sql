-- 1:N fingerprint search in PostgreSQL (docs/fingerprint.md, "1:N search"): MCC
-- indexing with locality-sensitive hashing. Every enrolled finger is the set of its
-- cylinder codes (biometrics/fingerprint/index.py); a code's posting list names the
-- fingers that have it. A search reads the posting lists of the probe's codes, ranks
-- fingers by the codes they share (weighted by rarity) and scores the best few with
-- the full matcher. No API process holds the gallery: each search reads the index, so
-- every process sees every committed enrollment at once.
--
-- Enrollment writes the finger's index rows in its own transaction
-- (biometrics.finger_search.index_finger). Fingers enrolled before this migration are
-- not searchable until `guardreg biometrics finger-index` has indexed them.

-- One row per indexed finger. A re-enrolled finger gets a new finger_id; the postings
-- of the old id are left behind and skipped (no row any more) until a rebuild.
CREATE TABLE biometrics_finger_index (
    finger_id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject     uuid NOT NULL,
    position    smallint NOT NULL,
    scheme      smallint NOT NULL,       -- index.SCHEME the codes were made with
    codes       integer NOT NULL,        -- how many codes were posted
    indexed_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subject, position),
    FOREIGN KEY (subject, position) REFERENCES biometrics_finger (subject, position)
        ON DELETE CASCADE
);

-- code -> finger ids (int32 little-endian, in enrollment order). Lists grow by
-- appending; a list that reaches index.MAX_POSTINGS stops growing and is ignored.
CREATE TABLE biometrics_finger_posting (
    code        integer PRIMARY KEY,
    fingers     bytea NOT NULL
);
-- Random ids do not compress: keep long lists out of line, uncompressed.
ALTER TABLE biometrics_finger_posting ALTER COLUMN fingers SET STORAGE EXTERNAL;
