-- Supervision policy (regulator-editable numbers the notice does not give), versioned
-- like the service-scope policy, and companies' annual reports (notice §13).

CREATE TABLE registry_supervision_policy (
    version     integer PRIMARY KEY,
    settings    jsonb NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- Documented defaults (docs/SUPERVISION.md); tests and the regulator set their own.
INSERT INTO registry_supervision_policy (version, settings, created_by) VALUES (1,
 '{"annual_report_due": "06-30", "annual_report_reminder_days": 30}', 'migration');

CREATE TABLE registry_annual_report (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id      bigint NOT NULL REFERENCES registry_company(id),
    year            smallint NOT NULL,
    status          text NOT NULL DEFAULT 'filed' CHECK (status IN ('filed', 'accepted', 'rejected')),
    headcount       integer NOT NULL CHECK (headcount >= 0),
    labour_contracts integer NOT NULL CHECK (labour_contracts >= 0),
    insured         integer NOT NULL CHECK (insured >= 0),
    training_hours  integer NOT NULL CHECK (training_hours >= 0),
    incidents       integer NOT NULL CHECK (incidents >= 0),
    notes           text,
    filed_by        text NOT NULL,
    filed_at        timestamptz NOT NULL,
    reviewed_by     text,
    reviewed_at     timestamptz,
    review_note     text
);
-- One report per company and year that is not rejected (a rejected one may be refiled).
CREATE UNIQUE INDEX registry_annual_report_one ON registry_annual_report (company_id, year)
    WHERE status <> 'rejected';
