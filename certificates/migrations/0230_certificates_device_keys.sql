-- Device binding (issue 18): the guard phone's P-256 public key (x, y), put in the
-- certificate as the cnf claim. One active key per guard; re-binding ends the previous
-- key (revoked_at) and re-issues the certificate, so the certificate that carried the
-- old key is revoked in the signed status list.
CREATE TABLE certificates_device_key (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guard_id    bigint NOT NULL REFERENCES registry_guard(id),
    x           bytea NOT NULL CHECK (length(x) = 32),
    y           bytea NOT NULL CHECK (length(y) = 32),
    bound_at    timestamptz NOT NULL,
    bound_by    text NOT NULL,
    revoked_at  timestamptz,
    revoked_by  text
);
CREATE UNIQUE INDEX certificates_device_key_active_idx
    ON certificates_device_key (guard_id) WHERE revoked_at IS NULL;
