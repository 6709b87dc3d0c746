-- Issue 16, second part: credit consequences (enrollment holds), clients, contracts and
-- deployments (§3), armed-escort records (§3), labour rights (§11), supervision alerts,
-- reserve force and incident reports (§15 §16). Policy numbers live in
-- registry_supervision_policy (defaults in registry/annual_reports.py, docs/SUPERVISION.md).

-- A black-listed company's new enrollment waits for the regulator (beside biometric holds).
CREATE TABLE registry_enrollment_hold (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guard_id        bigint NOT NULL REFERENCES registry_guard(id),
    company_id      bigint NOT NULL REFERENCES registry_company(id),
    reason          text NOT NULL CHECK (reason IN ('black-list')),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by      text,
    decided_at      timestamptz,
    decision_note   text,
    created_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX registry_enrollment_hold_one_pending ON registry_enrollment_hold (guard_id)
    WHERE status = 'pending';
CREATE INDEX registry_enrollment_hold_status_idx ON registry_enrollment_hold (status, id);

-- Clients of security services (§3).
CREATE TABLE registry_client (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind            text NOT NULL CHECK (kind IN ('school', 'hospital', 'bank',
                        'entertainment_venue', 'property_management', 'public_transport',
                        'large_event', 'key_unit', 'other')),
    district        text NOT NULL CHECK (length(district) BETWEEN 1 AND 64),
    floor_area_m2   integer CHECK (floor_area_m2 > 0),
    expected_attendance integer CHECK (expected_attendance > 0),
    event_on        date,
    -- Set when the client is the premises of a self-recruiting unit itself.
    own_company_id  bigint REFERENCES registry_company(id),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL,
    CHECK (kind <> 'entertainment_venue' OR floor_area_m2 IS NOT NULL),
    CHECK (kind <> 'large_event' OR expected_attendance IS NOT NULL)
);
CREATE INDEX registry_client_district_idx ON registry_client (district, kind);

-- A contract is a service project with a client.
ALTER TABLE registry_service_project ADD COLUMN client_id bigint REFERENCES registry_client(id);
CREATE INDEX registry_service_project_client_idx ON registry_service_project (client_id)
    WHERE client_id IS NOT NULL;

CREATE TABLE registry_deployment (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id      bigint NOT NULL REFERENCES registry_service_project(id),
    guard_id        bigint NOT NULL REFERENCES registry_guard(id),
    post            text NOT NULL CHECK (length(post) BETWEEN 1 AND 200),
    starts_on       date NOT NULL,
    ended_on        date,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL,
    CHECK (ended_on IS NULL OR ended_on >= starts_on)
);
-- One post at a time per guard.
CREATE UNIQUE INDEX registry_deployment_one_active ON registry_deployment (guard_id)
    WHERE ended_on IS NULL;
CREATE INDEX registry_deployment_project_idx ON registry_deployment (project_id)
    WHERE ended_on IS NULL;

-- Armed-escort companies (§3): firearms, their custody and inspections, ammunition,
-- vault records and emergency drills. Psychological assessments are qualifications.
CREATE TABLE registry_firearm (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id      bigint NOT NULL REFERENCES registry_company(id),
    serial          text NOT NULL UNIQUE CHECK (length(serial) BETWEEN 1 AND 64),
    model           text NOT NULL CHECK (length(model) BETWEEN 1 AND 100),
    status          text NOT NULL DEFAULT 'vault' CHECK (status IN ('vault', 'issued', 'repair', 'retired')),
    custodian_guard_id bigint REFERENCES registry_guard(id),
    last_inspected_on date,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL,
    CHECK ((status = 'issued') = (custodian_guard_id IS NOT NULL))
);
CREATE INDEX registry_firearm_company_idx ON registry_firearm (company_id);

CREATE TABLE registry_firearm_event (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    firearm_id      bigint NOT NULL REFERENCES registry_firearm(id),
    kind            text NOT NULL CHECK (kind IN ('issue', 'return', 'inspection', 'repair', 'retire')),
    guard_id        bigint REFERENCES registry_guard(id),
    detail          text,
    occurred_at     timestamptz NOT NULL,
    recorded_by     text NOT NULL
);
CREATE INDEX registry_firearm_event_firearm_idx ON registry_firearm_event (firearm_id, id);

CREATE TABLE registry_ammunition_entry (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id      bigint NOT NULL REFERENCES registry_company(id),
    calibre         text NOT NULL CHECK (length(calibre) BETWEEN 1 AND 40),
    delta           integer NOT NULL CHECK (delta <> 0),
    reason          text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_by     text NOT NULL
);
CREATE INDEX registry_ammunition_entry_company_idx ON registry_ammunition_entry (company_id, calibre);

CREATE TABLE registry_vault_record (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id      bigint NOT NULL REFERENCES registry_company(id),
    vault           text NOT NULL CHECK (length(vault) BETWEEN 1 AND 100),
    kind            text NOT NULL CHECK (kind IN ('check', 'access', 'incident')),
    detail          text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_by     text NOT NULL
);
CREATE INDEX registry_vault_record_company_idx ON registry_vault_record (company_id, id);

CREATE TABLE registry_emergency_drill (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id      bigint NOT NULL REFERENCES registry_company(id),
    held_on         date NOT NULL,
    scenario        text NOT NULL CHECK (length(scenario) BETWEEN 1 AND 500),
    participants    integer NOT NULL CHECK (participants > 0),
    notes           text,
    recorded_by     text NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX registry_emergency_drill_company_idx ON registry_emergency_drill (company_id, held_on);

-- Alerts raised by supervision jobs; one open alert per subject and kind.
CREATE TABLE registry_supervision_alert (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('psych-assessment-overdue')),
    company_id      bigint NOT NULL REFERENCES registry_company(id),
    guard_id        bigint REFERENCES registry_guard(id),
    detail          text NOT NULL,
    raised_at       timestamptz NOT NULL,
    resolved_at     timestamptz
);
CREATE UNIQUE INDEX registry_supervision_alert_one_open
    ON registry_supervision_alert (kind, company_id, coalesce(guard_id, 0))
    WHERE resolved_at IS NULL;

-- Labour rights (§11): per employment.
ALTER TABLE registry_employment
    ADD COLUMN labour_contract text NOT NULL DEFAULT 'unknown'
        CHECK (labour_contract IN ('signed', 'none', 'unknown')),
    ADD COLUMN contract_signed_on date,
    ADD COLUMN social_insurance text NOT NULL DEFAULT 'unknown'
        CHECK (social_insurance IN ('insured', 'none', 'unknown')),
    ADD COLUMN insured_since date,
    ADD COLUMN labour_updated_at timestamptz;

-- Reserve force (§15) and incident reports from guards on duty (§16).
CREATE TABLE registry_reserve_member (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guard_id        bigint NOT NULL UNIQUE REFERENCES registry_guard(id),
    district        text NOT NULL CHECK (length(district) BETWEEN 1 AND 64),
    skills          text[] NOT NULL DEFAULT '{}',
    active          boolean NOT NULL DEFAULT true,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX registry_reserve_member_district_idx ON registry_reserve_member (district) WHERE active;

CREATE TABLE registry_callup (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    district        text NOT NULL,
    skill           text,
    reason          text NOT NULL,
    assemble_at     text,
    called_by       text NOT NULL,
    called_at       timestamptz NOT NULL,
    closed_at       timestamptz
);

CREATE TABLE registry_callup_notice (
    callup_id       bigint NOT NULL REFERENCES registry_callup(id),
    guard_id        bigint NOT NULL REFERENCES registry_guard(id),
    notified_at     timestamptz NOT NULL,
    acknowledged_at timestamptz,
    PRIMARY KEY (callup_id, guard_id)
);
CREATE INDEX registry_callup_notice_guard_idx ON registry_callup_notice (guard_id);

CREATE TABLE registry_incident_report (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guard_id        bigint NOT NULL REFERENCES registry_guard(id),
    company_id      bigint REFERENCES registry_company(id),
    deployment_id   bigint REFERENCES registry_deployment(id),
    kind            text NOT NULL CHECK (kind IN ('theft', 'violence', 'fire', 'suspicious',
                        'traffic', 'public-order', 'other')),
    location        text NOT NULL CHECK (length(location) BETWEEN 1 AND 200),
    description     text NOT NULL CHECK (length(description) BETWEEN 1 AND 5000),
    occurred_at     timestamptz NOT NULL,
    reported_at     timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'acknowledged')),
    acknowledged_by text,
    acknowledged_at timestamptz
);
CREATE INDEX registry_incident_report_status_idx ON registry_incident_report (status, id);
