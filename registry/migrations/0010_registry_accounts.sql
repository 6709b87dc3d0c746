-- Accounts for people (username + password, a second factor), beside API keys for machines.
-- An account acts through a principal of its own, so every rule that reads a principal
-- (roles, company and guard scope, audit labels) applies unchanged. The principal of an
-- account has no usable API key: its key_hash is random bytes no key hashes to.

CREATE TABLE registry_account (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username            text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{2,39}$'),
    principal_id        bigint NOT NULL UNIQUE REFERENCES registry_principal(id),
    password_hash       text NOT NULL,
    -- One-time passwords (new accounts, resets) must be changed at the first sign-in.
    must_change_password boolean NOT NULL DEFAULT true,
    -- TOTP (RFC 6238) secret, sealed with a key derived from the API-key pepper.
    totp_sealed         bytea,
    totp_last_step      bigint,          -- a code is accepted once (no replay in its window)
    failed_attempts     integer NOT NULL DEFAULT 0,
    locked_until        timestamptz,
    created_by          text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    disabled_at         timestamptz
);

CREATE TABLE registry_recovery_code (
    account_id  bigint NOT NULL REFERENCES registry_account(id) ON DELETE CASCADE,
    code_hash   bytea NOT NULL,
    used_at     timestamptz,
    PRIMARY KEY (account_id, code_hash)
);

CREATE TABLE registry_session (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id       text NOT NULL UNIQUE,            -- shown in session lists; not the secret
    account_id      bigint NOT NULL REFERENCES registry_account(id) ON DELETE CASCADE,
    token_hash      bytea NOT NULL UNIQUE,           -- HMAC of the cookie's secret
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    user_agent      text NOT NULL DEFAULT '',
    address         text NOT NULL DEFAULT ''
);
CREATE INDEX registry_session_account ON registry_session (account_id) WHERE revoked_at IS NULL;

-- One-time codes with which a guard activates their own page (shown once, expiring).
CREATE TABLE registry_activation_code (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guard_id    bigint NOT NULL REFERENCES registry_guard(id),
    code_hash   bytea NOT NULL UNIQUE,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX registry_activation_code_guard ON registry_activation_code (guard_id);
