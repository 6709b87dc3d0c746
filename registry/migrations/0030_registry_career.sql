-- The career after the certificate (notice §6 §7): training by training units, rotation
-- training due dates, skill-level evaluations that drive the level.

CREATE TABLE registry_training_course (
    code        text PRIMARY KEY,
    title       text NOT NULL,
    rotation    boolean NOT NULL DEFAULT false   -- counts as the periodic rotation training
);
INSERT INTO registry_training_course (code, title, rotation) VALUES
 ('rotation', '保安员轮训 rotation training', true),
 ('technical-prevention', '安全检查与技术防范 security inspection and technical prevention', false),
 ('armed-escort', '武装守护押运 armed escort', false),
 ('close-protection', '随身护卫 close protection', false),
 ('emergency-response', '应急处置 emergency response', false),
 ('overseas-security', '境外安保 overseas security', false),
 ('incident-handling', '突发事件处置 incident handling', false);

CREATE TABLE registry_training_session (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id  bigint NOT NULL REFERENCES registry_company(id),   -- the training unit
    course      text NOT NULL REFERENCES registry_training_course(code),
    starts_on   date NOT NULL,
    ends_on     date NOT NULL CHECK (ends_on >= starts_on),
    hours       integer NOT NULL CHECK (hours BETWEEN 1 AND 2000),
    location    text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE registry_training_attendance (
    session_id     bigint NOT NULL REFERENCES registry_training_session(id),
    guard_id       bigint NOT NULL REFERENCES registry_guard(id),
    completed      boolean NOT NULL,
    certificate_no text,
    recorded_by    text NOT NULL,
    recorded_at    timestamptz NOT NULL,
    PRIMARY KEY (session_id, guard_id)
);
CREATE INDEX registry_training_attendance_guard ON registry_training_attendance (guard_id);

CREATE TABLE registry_skill_evaluation (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guard_id      bigint NOT NULL REFERENCES registry_guard(id),
    kind          text NOT NULL CHECK (kind IN ('exam', 'appraisal', 'competition')),
    passed        boolean NOT NULL,
    level_before  smallint NOT NULL CHECK (level_before BETWEEN 1 AND 5),
    level_after   smallint NOT NULL CHECK (level_after BETWEEN 1 AND 5),
    evidence      text NOT NULL,
    evaluated_on  date NOT NULL,
    recorded_by   text NOT NULL,
    recorded_at   timestamptz NOT NULL
);
CREATE INDEX registry_skill_evaluation_guard ON registry_skill_evaluation (guard_id, id);
