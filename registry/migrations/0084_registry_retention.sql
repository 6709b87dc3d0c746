-- Retention (issue 15; docs/LIFECYCLE.md "Retention"): a person out of the industry for
-- the retention period (GUARDREG_RETENTION_YEARS, default 3) has the personal fields of
-- every table deleted or anonymised by the job `registry.retention`
-- (api/retention_repository.py lists the tables). What stays on the person's row: the
-- keyed blind index of the ID number (bans, re-hire and uniqueness still match it), the
-- flags the re-hire rules read, and, while a ban or a revocation bars the person, the
-- biometric templates. A purged row has no sealed ID number, phone, birth date or sex.

ALTER TABLE registry_guard
    ADD COLUMN purged_at timestamptz,
    -- 'kept-for-bar': templates kept while a ban or revocation bars the person;
    -- 'purged': nothing personal left
    ADD COLUMN retention text CHECK (retention IN ('kept-for-bar', 'purged')),
    ADD CONSTRAINT registry_guard_retention_marked CHECK ((purged_at IS NULL) = (retention IS NULL));

ALTER TABLE registry_guard DROP CONSTRAINT registry_guard_id_number_present;
ALTER TABLE registry_guard ADD CONSTRAINT registry_guard_id_number_present CHECK (
    (id_number_bidx IS NOT NULL AND (id_number_sealed IS NOT NULL OR purged_at IS NOT NULL))
    OR legacy_id_number IS NOT NULL);
ALTER TABLE registry_guard ALTER COLUMN birth_date DROP NOT NULL;
ALTER TABLE registry_guard ALTER COLUMN sex DROP NOT NULL;
ALTER TABLE registry_guard ADD CONSTRAINT registry_guard_person_present CHECK (
    purged_at IS NOT NULL OR (birth_date IS NOT NULL AND sex IS NOT NULL));
CREATE INDEX registry_guard_retention ON registry_guard (retention)
    WHERE retention IS NOT NULL;

-- A ban outlives the person's record: after the purge it keeps its blind index, reason
-- and dates, not the sealed ID number.
ALTER TABLE registry_ban ADD COLUMN purged_at timestamptz;
ALTER TABLE registry_ban DROP CONSTRAINT registry_ban_id_number_present;
ALTER TABLE registry_ban ADD CONSTRAINT registry_ban_id_number_present CHECK (
    (id_number_bidx IS NOT NULL AND (id_number_sealed IS NOT NULL OR purged_at IS NOT NULL))
    OR legacy_id_number IS NOT NULL);

-- The report: one row per person and decision (purged, kept for a bar, released when the
-- bar ended), with what was purged (table -> rows) and what is kept and why. It names
-- the guard id only: no personal data.
CREATE TABLE registry_retention_record (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guard_id    bigint NOT NULL REFERENCES registry_guard(id),
    outcome     text NOT NULL CHECK (outcome IN ('purged', 'kept-for-bar', 'released')),
    out_since   date,
    bars        text[] NOT NULL DEFAULT '{}',
    purged      jsonb NOT NULL DEFAULT '{}'::jsonb,
    kept        jsonb NOT NULL DEFAULT '[]'::jsonb,
    decided_at  timestamptz NOT NULL
);
CREATE INDEX registry_retention_record_guard ON registry_retention_record (guard_id, id);
CREATE INDEX registry_retention_record_time ON registry_retention_record (decided_at DESC, id DESC);

-- The purge finds a person's notifications by guard.
CREATE INDEX registry_notification_guard ON registry_notification (guard_id)
    WHERE guard_id IS NOT NULL;

-- The purge's activity dates and the archive read a person's employments by guard.
CREATE INDEX registry_employment_guard ON registry_employment (guard_id, id);
