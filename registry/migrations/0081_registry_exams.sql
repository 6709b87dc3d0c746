-- The unified guard exam (notice §4 §6; issue 15): sessions, registrations (online by the
-- person or by a company on their behalf), refused applications (the reason stays with
-- the regulator), attendance checks at the venue and results. A person who applies is a
-- registry_guard row with no employment: the person exists before the guard.

CREATE TABLE registry_exam_session (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sits_on     date NOT NULL,
    venue       text NOT NULL CHECK (length(venue) BETWEEN 1 AND 200),
    district    text NOT NULL CHECK (length(district) BETWEEN 1 AND 64),
    capacity    integer NOT NULL CHECK (capacity BETWEEN 1 AND 100000),
    -- Seats taken, counted by one conditional UPDATE so that concurrent applications
    -- never exceed the capacity.
    registered  integer NOT NULL DEFAULT 0 CHECK (registered >= 0 AND registered <= capacity),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX registry_exam_session_day ON registry_exam_session (sits_on);

CREATE TABLE registry_exam_registration (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id   bigint NOT NULL REFERENCES registry_exam_session(id),
    guard_id     bigint NOT NULL REFERENCES registry_guard(id),
    -- HMAC-SHA256 of the registration code (shown once); never the code itself.
    code_hmac    bytea NOT NULL UNIQUE CHECK (octet_length(code_hmac) = 32),
    applied_by   text NOT NULL CHECK (applied_by IN ('self', 'company', 'regulator')),
    company_id   bigint REFERENCES registry_company(id),
    status       text NOT NULL DEFAULT 'registered'
                 CHECK (status IN ('registered', 'cancelled')),
    attended_at  timestamptz,
    created_at   timestamptz NOT NULL
);
CREATE UNIQUE INDEX registry_exam_registration_once
    ON registry_exam_registration (session_id, guard_id) WHERE status = 'registered';
CREATE INDEX registry_exam_registration_guard ON registry_exam_registration (guard_id);

-- Applications refused before the exam: the applicant is told "not eligible, contact the
-- bureau"; the reasons are kept here for the regulator only.
CREATE TABLE registry_exam_refusal (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id       bigint NOT NULL REFERENCES registry_exam_session(id),
    id_number_bidx   bytea NOT NULL CHECK (octet_length(id_number_bidx) = 32),
    id_number_sealed bytea NOT NULL,
    name             text NOT NULL,
    guard_id         bigint REFERENCES registry_guard(id),
    applied_by       text NOT NULL,
    reasons          text[] NOT NULL,
    created_at       timestamptz NOT NULL
);

-- Every attendance check at the venue (a proxy test-taker's attempt is kept too).
CREATE TABLE registry_exam_attendance (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    registration_id  bigint NOT NULL REFERENCES registry_exam_registration(id),
    admitted         boolean NOT NULL,
    fused_llr        double precision NOT NULL,
    threshold        double precision NOT NULL,
    face_distance    double precision NOT NULL,
    finger_score     double precision NOT NULL,
    checked_by       text NOT NULL,
    checked_at       timestamptz NOT NULL
);
CREATE INDEX registry_exam_attendance_reg ON registry_exam_attendance (registration_id);

-- Results: of a sitting (registration_id), or recorded by the regulator from elsewhere
-- ('external': another city's exam) or for certificates older than the exam records
-- ('legacy', migration 0240).
CREATE TABLE registry_exam_result (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guard_id         bigint NOT NULL REFERENCES registry_guard(id),
    registration_id  bigint UNIQUE REFERENCES registry_exam_registration(id),
    passed           boolean NOT NULL,
    score            numeric(5, 1) CHECK (score IS NULL OR score BETWEEN 0 AND 1000),
    source           text NOT NULL CHECK (source IN ('exam', 'external', 'legacy')),
    evidence         text,
    recorded_by      text NOT NULL,
    recorded_at      timestamptz NOT NULL,
    CHECK ((source = 'exam') = (registration_id IS NOT NULL))
);
CREATE INDEX registry_exam_result_guard ON registry_exam_result (guard_id) WHERE passed;
