-- The audit transparency log: a Merkle tree (RFC 9162 hashing) over the audit events.
-- A leaf is the SHA-256 leaf hash of one event's digest: hashes only, no personal data.

-- Every complete subtree of the tree: (level, idx) covers leaves
-- [idx * 2^level, (idx + 1) * 2^level). Level 0 holds the leaf hashes; leaf idx is audit
-- event seq idx + 1. Any proof or root is a combination of O(log n) of these rows.
CREATE TABLE certificates_log_node (
    level   smallint NOT NULL CHECK (level BETWEEN 0 AND 62),
    idx     bigint NOT NULL CHECK (idx >= 0),
    hash    bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- Signed checkpoints as published, newest last.
CREATE TABLE certificates_log_checkpoint (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tree_size   bigint NOT NULL CHECK (tree_size >= 0),
    root_hash   bytea NOT NULL CHECK (length(root_hash) = 32),
    kid         bytea NOT NULL,
    signed_at   timestamptz NOT NULL,
    note        text NOT NULL
);
CREATE INDEX certificates_log_checkpoint_size_idx ON certificates_log_checkpoint (tree_size);

CREATE FUNCTION certificates_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the transparency log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER certificates_log_node_no_update BEFORE UPDATE OR DELETE OR TRUNCATE
    ON certificates_log_node FOR EACH STATEMENT EXECUTE FUNCTION certificates_log_append_only();
CREATE TRIGGER certificates_log_checkpoint_no_update BEFORE UPDATE OR DELETE OR TRUNCATE
    ON certificates_log_checkpoint FOR EACH STATEMENT
    EXECUTE FUNCTION certificates_log_append_only();
