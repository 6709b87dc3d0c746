-- Re-hire by another company needs the person's consent (issue 14): a one-time hire code
-- the guard reads on their own page. Only a hash is kept (SHA-256 over the guard's public
-- id and the code); the code is consumed by the hire it allows and expires.
CREATE TABLE registry_hire_consent (
    guard_id    bigint PRIMARY KEY REFERENCES registry_guard(id),
    code_hash   bytea NOT NULL CHECK (octet_length(code_hash) = 32),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
