-- Complaints and reports from the public (notice §2 §4), labour-rights reports (§11)
-- included. The tracking code is stored only as an HMAC; contact details and attachments
-- are sealed (AES-GCM) and purged with the case after the retention period.

CREATE TABLE registry_complaint (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tracking_hash   bytea NOT NULL UNIQUE,
    category        text NOT NULL CHECK (category IN ('service-quality', 'unlicensed-service',
                    'guard-misconduct', 'wage-arrears', 'work-injury', 'no-labour-contract',
                    'no-social-insurance', 'other')),
    company_id      bigint REFERENCES registry_company(id),
    company_text    text,            -- what the complainant wrote, when no company matched
    guard_id        bigint REFERENCES registry_guard(id),
    certificate_number text,
    description     text,
    contact_sealed  bytea,           -- null for anonymous complaints
    status          text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'triaged',
                    'investigating', 'closed')),
    priority        text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high')),
    assigned_to     text,
    outcome         text CHECK (outcome IN ('upheld', 'not-upheld', 'referred')),
    public_summary  text,            -- what the complainant sees of the outcome
    created_at      timestamptz NOT NULL,
    closed_at       timestamptz,
    purged_at       timestamptz
);
CREATE INDEX registry_complaint_status ON registry_complaint (status, created_at);

CREATE TABLE registry_complaint_event (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    complaint_id bigint NOT NULL REFERENCES registry_complaint(id),
    kind         text NOT NULL,      -- received, triaged, assigned, note, closed, action
    public       boolean NOT NULL DEFAULT false,   -- shown to the complainant
    detail       text,
    ref_type     text,               -- an action's link: credit-entry, list-entry, ban, ...
    ref_id       bigint,
    actor        text NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX registry_complaint_event_case ON registry_complaint_event (complaint_id, id);

CREATE TABLE registry_complaint_attachment (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    complaint_id bigint NOT NULL REFERENCES registry_complaint(id),
    media_type   text NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png', 'application/pdf')),
    size         integer NOT NULL,
    sha256       bytea NOT NULL,
    sealed       bytea NOT NULL
);
