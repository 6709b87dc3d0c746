-- Registry: companies, guards, employment, checks, bans, principals, audit, idempotency.

CREATE TABLE registry_company (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    credit_code     char(18) NOT NULL UNIQUE,
    kind            text NOT NULL CHECK (kind IN ('security_service', 'self_recruiting', 'training')),
    armed_escort    boolean NOT NULL DEFAULT false,
    entertainment_venue boolean NOT NULL DEFAULT false,
    licence_number  text NOT NULL CHECK (length(licence_number) BETWEEN 1 AND 64),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked')),
    district        text NOT NULL CHECK (length(district) BETWEEN 1 AND 64),
    credit_grade    char(1) NOT NULL DEFAULT 'A' CHECK (credit_grade IN ('A','B','C','D','E')),
    red_list        boolean NOT NULL DEFAULT false,
    black_list      boolean NOT NULL DEFAULT false,
    abnormal_operations boolean NOT NULL DEFAULT false,
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT (kind = 'self_recruiting' AND entertainment_venue)),
    CHECK (NOT armed_escort OR kind = 'security_service')
);
CREATE INDEX registry_company_district_idx ON registry_company (district);
CREATE INDEX registry_company_name_idx ON registry_company (lower(name));

CREATE TABLE registry_company_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id  bigint NOT NULL REFERENCES registry_company(id),
    changed_at  timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    changes     jsonb NOT NULL
);
CREATE INDEX registry_company_history_company_idx ON registry_company_history (company_id, id);

CREATE TABLE registry_guard (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    id_number       char(18) NOT NULL UNIQUE,
    birth_date      date NOT NULL,
    sex             char(1) NOT NULL CHECK (sex IN ('M', 'F')),
    phone           text CHECK (phone IS NULL OR phone ~ '^\+?[0-9]{5,20}$'),
    education       text NOT NULL DEFAULT 'unknown',
    skill_level     smallint NOT NULL DEFAULT 5 CHECK (skill_level BETWEEN 1 AND 5),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    -- Facts from background checks that the national regulation (Art. 17) turns into rules.
    intentional_crime boolean NOT NULL DEFAULT false,
    administrative_detentions smallint NOT NULL DEFAULT 0 CHECK (administrative_detentions >= 0),
    -- Opaque id that keys the biometric records: biometrics live apart from identity.
    biometric_subject uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registry_guard_level_idx ON registry_guard (skill_level);

CREATE TABLE registry_employment (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guard_id    bigint NOT NULL REFERENCES registry_guard(id),
    company_id  bigint NOT NULL REFERENCES registry_company(id),
    started_on  date NOT NULL,
    ended_on    date,
    end_reason  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (ended_on IS NULL OR ended_on >= started_on)
);
-- At most one active employer per guard, enforced by the database itself.
CREATE UNIQUE INDEX registry_employment_one_active ON registry_employment (guard_id) WHERE ended_on IS NULL;
CREATE INDEX registry_employment_company_idx ON registry_employment (company_id) WHERE ended_on IS NULL;

CREATE TABLE registry_background_check (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guard_id    bigint NOT NULL REFERENCES registry_guard(id),
    result      text NOT NULL CHECK (result IN ('clear', 'failed')),
    reason      text,
    checked_on  date NOT NULL,
    recorded_by text NOT NULL,
    source      text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registry_background_check_guard_idx ON registry_background_check (guard_id, checked_on DESC, id DESC);

CREATE TABLE registry_ban (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id_number   char(18) NOT NULL,
    reason      text NOT NULL,
    until_on    date,            -- NULL: for life
    company_id  bigint REFERENCES registry_company(id),  -- set when banned as a company's responsible person
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    lifted_at   timestamptz
);
CREATE INDEX registry_ban_id_number_idx ON registry_ban (id_number);

-- Certificate revocations for cause, kept forever (Art. 17: three-year bar, twice = never).
CREATE TABLE registry_revocation_record (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guard_id    bigint NOT NULL REFERENCES registry_guard(id),
    revoked_at  timestamptz NOT NULL,
    reason      text NOT NULL,
    certificate_number text
);
CREATE INDEX registry_revocation_record_guard_idx ON registry_revocation_record (guard_id);

CREATE TABLE registry_principal (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    role        text NOT NULL CHECK (role IN ('regulator', 'company_operator', 'checkpoint_officer', 'guard')),
    company_id  bigint REFERENCES registry_company(id),
    guard_id    bigint REFERENCES registry_guard(id),
    key_prefix  text NOT NULL UNIQUE,
    key_hash    bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK ((role = 'company_operator') = (company_id IS NOT NULL)),
    CHECK ((role = 'guard') = (guard_id IS NOT NULL))
);

CREATE TABLE registry_audit_event (
    seq         bigint PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    target_type text NOT NULL,
    target_id   text,
    request_id  text,
    data        jsonb NOT NULL DEFAULT '{}'::jsonb,
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL
);
CREATE INDEX registry_audit_event_target_idx ON registry_audit_event (target_type, target_id);

-- The chain head: one row, locked by each appender so the chain is strictly sequential.
CREATE TABLE registry_audit_head (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq         bigint NOT NULL,
    hash        bytea NOT NULL
);
INSERT INTO registry_audit_head (seq, hash) VALUES (0, decode(repeat('00', 32), 'hex'));

CREATE FUNCTION registry_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER registry_audit_event_no_update BEFORE UPDATE OR DELETE OR TRUNCATE
    ON registry_audit_event FOR EACH STATEMENT EXECUTE FUNCTION registry_audit_append_only();

CREATE TABLE registry_idempotency (
    principal_id    bigint NOT NULL REFERENCES registry_principal(id),
    key             text NOT NULL,
    request_hash    bytea NOT NULL,
    response_status smallint NOT NULL,
    response_body   jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal_id, key)
);
