-- "Double random, one public" inspections (notice §2): a roster of inspectors, frozen
-- plans, commit-reveal draws by several parties, inspection records and their results.

CREATE TABLE registry_inspector (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    agency      text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE registry_inspection_plan (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title           text NOT NULL,
    state           text NOT NULL DEFAULT 'committing'
                    CHECK (state IN ('committing', 'revealing', 'drawn')),
    plan_canonical  text,               -- the frozen plan, byte for byte as hashed
    plan_hash       bytea,
    seed            bytea,
    draw            jsonb,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    drawn_at        timestamptz
);

CREATE TABLE registry_draw_party (
    plan_id       bigint NOT NULL REFERENCES registry_inspection_plan(id),
    party         text NOT NULL,
    commitment    bytea,
    committed_at  timestamptz,
    secret        bytea,
    revealed_at   timestamptz,
    PRIMARY KEY (plan_id, party)
);

CREATE TABLE registry_inspection (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id         bigint NOT NULL REFERENCES registry_inspection_plan(id),
    company_id      bigint NOT NULL REFERENCES registry_company(id),
    inspectors      jsonb NOT NULL,
    position        integer NOT NULL,
    status          text NOT NULL DEFAULT 'drawn' CHECK (status IN ('drawn', 'done')),
    outcome         text CHECK (outcome IN ('pass', 'minor-findings', 'major-findings')),
    findings        text,
    inspected_on    date,
    credit_entry_id bigint REFERENCES registry_credit_entry(id),
    recorded_by     text,
    recorded_at     timestamptz,
    UNIQUE (plan_id, company_id)
);
