-- Electronic guard certificates, their status-list entries and verification log.
CREATE SEQUENCE certificates_number_seq;

CREATE TABLE certificates_certificate (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number          text NOT NULL UNIQUE,
    guard_id        bigint NOT NULL REFERENCES registry_guard(id),
    -- pending: intent recorded, not yet signed; failed: signing never completed.
    status          text NOT NULL CHECK (status IN ('pending', 'valid', 'suspended', 'revoked', 'failed')),
    status_shard    integer NOT NULL,
    status_idx      integer NOT NULL,
    claims          jsonb NOT NULL,              -- what we are about to sign, written down first
    payload         bytea NOT NULL,              -- the exact CBOR claims bytes that get signed
    text            text,                        -- SG1:... once signed
    kid             bytea,
    alg             text,
    employer_id     bigint REFERENCES registry_company(id),
    skill_level     smallint NOT NULL,
    issued_at       timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    issued_by       text NOT NULL,
    status_reason   text,                        -- reason of the last suspension or revocation
    status_changed_at timestamptz,
    superseded_by   bigint REFERENCES certificates_certificate(id),
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (status_shard, status_idx)
);
-- One live certificate per guard, and one issuance in flight per guard.
CREATE UNIQUE INDEX certificates_one_live ON certificates_certificate (guard_id)
    WHERE status IN ('valid', 'suspended');
CREATE UNIQUE INDEX certificates_one_pending ON certificates_certificate (guard_id)
    WHERE status = 'pending';
CREATE INDEX certificates_shard_status_idx ON certificates_certificate (status_shard)
    WHERE status IN ('revoked', 'suspended');
CREATE INDEX certificates_guard_idx ON certificates_certificate (guard_id, id);

-- One row per status list shard: the latest signed token, re-signed on every change.
CREATE TABLE certificates_status_list (
    shard           integer PRIMARY KEY,
    uri             text NOT NULL,
    capacity        integer NOT NULL,
    allocated       integer NOT NULL DEFAULT 0,
    version         bigint NOT NULL DEFAULT 0,
    token           bytea,
    published_at    timestamptz
);

CREATE TABLE certificates_issuance_request (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guard_id        bigint NOT NULL REFERENCES registry_guard(id),
    company_id      bigint NOT NULL REFERENCES registry_company(id),
    requested_by    text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    note            text,
    decided_by      text,
    decided_at      timestamptz,
    certificate_id  bigint REFERENCES certificates_certificate(id),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX certificates_one_pending_request ON certificates_issuance_request (guard_id)
    WHERE status = 'pending';

CREATE TABLE certificates_verification_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    checked_at      timestamptz NOT NULL,
    principal_id    bigint REFERENCES registry_principal(id),
    certificate_number text,
    verdict         text NOT NULL,
    location        text,
    channel         text NOT NULL
);
CREATE INDEX certificates_verification_log_number_idx ON certificates_verification_log (certificate_number);
