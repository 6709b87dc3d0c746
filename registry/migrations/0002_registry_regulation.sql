-- The municipal notice's regulator workflows: lists, credit ledger, service projects,
-- service-scope policy and guard qualifications.

CREATE TABLE registry_company_list_entry (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id  bigint NOT NULL REFERENCES registry_company(id),
    list        text NOT NULL CHECK (list IN ('red', 'black', 'abnormal')),
    reason      text NOT NULL,
    added_on    date NOT NULL,
    added_by    text NOT NULL,
    removed_on  date,
    removed_by  text,
    removal_reason text
);
CREATE UNIQUE INDEX registry_company_list_one_open ON registry_company_list_entry (company_id, list)
    WHERE removed_on IS NULL;

-- Yearly points ledger (Tianjin credit measures): 1000 + signed points per year.
CREATE TABLE registry_credit_entry (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id  bigint NOT NULL REFERENCES registry_company(id),
    year        smallint NOT NULL,
    points      integer NOT NULL CHECK (points BETWEEN -1000 AND 1000 AND points <> 0),
    kind        text NOT NULL,
    reason      text NOT NULL,
    evidence    text,
    occurred_on date NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    dispute     text NOT NULL DEFAULT 'none' CHECK (dispute IN ('none', 'pending', 'upheld', 'dismissed')),
    dispute_reason text,
    disputed_by text,
    ruled_by    text,
    ruled_at    timestamptz
);
CREATE INDEX registry_credit_entry_company_idx ON registry_credit_entry (company_id, year);

CREATE TABLE registry_service_project (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id  bigint NOT NULL REFERENCES registry_company(id),
    name        text NOT NULL,
    service     text NOT NULL,
    client      text NOT NULL,
    starts_on   date NOT NULL,
    ends_on     date,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Versioned policy: each edit writes a whole new version; the highest version rules.
CREATE TABLE registry_service_policy (
    version     integer NOT NULL,
    service     text NOT NULL,
    lowest_level smallint NOT NULL CHECK (lowest_level BETWEEN 1 AND 5),
    min_age     smallint,
    requires    jsonb NOT NULL DEFAULT '[]'::jsonb,   -- extra conditions by name
    description text,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (version, service)
);
INSERT INTO registry_service_policy (version, service, lowest_level, min_age, requires, description, created_by) VALUES
 (1, 'ordinary-patrol', 5, NULL, '[]', '门卫、巡逻 ordinary guarding and patrol', 'migration'),
 (1, 'technical-prevention', 4, NULL, '[]', '安全技术防范 technical prevention systems', 'migration'),
 (1, 'large-event-security', 3, NULL, '[]', '大型活动安保 large-event security', 'migration'),
 (1, 'key-target-protection', 2, NULL, '["no-detention-or-record"]', '重点目标守护 key-target protection', 'migration'),
 (1, 'armed-escort', 3, 20, '["firearm-licence", "no-detention-or-record", "psych-assessment-1y", "employer-armed-escort"]', '武装守护押运 armed escort', 'migration');

CREATE TABLE registry_guard_qualification (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guard_id    bigint NOT NULL REFERENCES registry_guard(id),
    kind        text NOT NULL CHECK (kind IN ('firearm-licence', 'psych-assessment')),
    reference   text,
    valid_from  date NOT NULL,
    valid_until date,
    recorded_by text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registry_guard_qualification_guard_idx ON registry_guard_qualification (guard_id, kind);
