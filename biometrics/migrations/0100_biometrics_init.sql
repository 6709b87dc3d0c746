-- Biometrics live apart from identity: keyed by the guard's opaque biometric_subject.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE biometrics_face (
    subject         uuid PRIMARY KEY REFERENCES registry_guard(biometric_subject),
    status          text NOT NULL CHECK (status IN ('enrolled', 'held', 'rejected')),
    model           text NOT NULL,               -- model@version that made the template
    -- The 128-d encoding after the secret orthogonal transform (distances preserved).
    embedding       vector(128) NOT NULL,
    photo_sealed    bytea NOT NULL,              -- AES-GCM (or SM4-GCM) sealed JPEG
    photo_sha256    bytea NOT NULL,              -- dedups identical re-uploads
    quality         jsonb NOT NULL,
    transform_kid   text NOT NULL,               -- which transform key protected the vector
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- Approximate search; every hit is re-ranked exactly.
CREATE INDEX biometrics_face_embedding_hnsw ON biometrics_face
    USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 128);

CREATE TABLE biometrics_finger (
    subject         uuid NOT NULL REFERENCES registry_guard(biometric_subject),
    position        smallint NOT NULL CHECK (position BETWEEN 1 AND 10),  -- ISO finger codes
    status          text NOT NULL CHECK (status IN ('enrolled', 'held', 'rejected')),
    model           text NOT NULL,
    template_sealed bytea NOT NULL,              -- sealed ISO 19794-2 record; no image is kept
    quality         smallint NOT NULL,
    minutiae        smallint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, position)
);

-- Enrollments held as a possible duplicate identity, for the regulator to decide.
CREATE TABLE biometrics_review (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject         uuid NOT NULL REFERENCES registry_guard(biometric_subject),
    modality        text NOT NULL CHECK (modality IN ('face', 'finger')),
    candidates      jsonb NOT NULL,              -- [{subject, score, banned}]
    banned_match    boolean NOT NULL DEFAULT false,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by      text,
    decided_at      timestamptz,
    decision_note   text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX biometrics_review_pending_idx ON biometrics_review (status, id);
CREATE UNIQUE INDEX biometrics_review_one_pending ON biometrics_review (subject, modality)
    WHERE status = 'pending';

-- Lets each API process keep its in-memory fingerprint index in step with the table.
CREATE SEQUENCE biometrics_finger_change_seq;
ALTER TABLE biometrics_finger ADD COLUMN change_seq bigint NOT NULL
    DEFAULT nextval('biometrics_finger_change_seq');
CREATE INDEX biometrics_finger_change_idx ON biometrics_finger (change_seq);
