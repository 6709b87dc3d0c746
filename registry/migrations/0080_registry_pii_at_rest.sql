-- Personal fields at rest (issue 14, registry/pii.py): the ID number and the phone number
-- are sealed (AES-256-GCM, key outside the database) and one keyed blind index of the ID
-- number (HMAC-SHA256) serves look-ups, joins, bans and uniqueness. Names stay in clear
-- (searchable); the birth date the age rules need is already its own column.
--
-- SQL cannot seal (the key is not in the database), so this migration only makes room:
-- the clear columns are renamed legacy_* and emptied by the registry's post-upgrade step
-- (registry.pii_backfill.seal_legacy_rows, run by every `guardreg db upgrade` and at
-- start-up), which then validates the constraints that forbid clear values. A later
-- release drops the legacy columns.
ALTER TABLE registry_guard RENAME COLUMN id_number TO legacy_id_number;
ALTER TABLE registry_guard RENAME COLUMN phone TO legacy_phone;
ALTER TABLE registry_guard ALTER COLUMN legacy_id_number DROP NOT NULL;
ALTER TABLE registry_guard DROP CONSTRAINT IF EXISTS registry_guard_id_number_key;
ALTER TABLE registry_guard
    ADD COLUMN id_number_bidx bytea CHECK (octet_length(id_number_bidx) = 32),
    ADD COLUMN id_number_sealed bytea,
    ADD COLUMN phone_sealed bytea;
CREATE UNIQUE INDEX registry_guard_id_number_bidx_key ON registry_guard (id_number_bidx);
-- Every row has its ID number in exactly one form; new rows only in the sealed one.
ALTER TABLE registry_guard ADD CONSTRAINT registry_guard_id_number_present CHECK (
    (id_number_bidx IS NOT NULL AND id_number_sealed IS NOT NULL) OR legacy_id_number IS NOT NULL);
ALTER TABLE registry_guard ADD CONSTRAINT registry_guard_no_clear_pii
    CHECK (legacy_id_number IS NULL AND legacy_phone IS NULL) NOT VALID;

ALTER TABLE registry_ban RENAME COLUMN id_number TO legacy_id_number;
ALTER TABLE registry_ban ALTER COLUMN legacy_id_number DROP NOT NULL;
DROP INDEX IF EXISTS registry_ban_id_number_idx;
ALTER TABLE registry_ban
    ADD COLUMN id_number_bidx bytea CHECK (octet_length(id_number_bidx) = 32),
    ADD COLUMN id_number_sealed bytea;
CREATE INDEX registry_ban_id_number_bidx_idx ON registry_ban (id_number_bidx);
ALTER TABLE registry_ban ADD CONSTRAINT registry_ban_id_number_present CHECK (
    (id_number_bidx IS NOT NULL AND id_number_sealed IS NOT NULL) OR legacy_id_number IS NOT NULL);
ALTER TABLE registry_ban ADD CONSTRAINT registry_ban_no_clear_pii
    CHECK (legacy_id_number IS NULL) NOT VALID;

-- The one eligibility function (migration 0031) joins bans by the blind index.
CREATE OR REPLACE FUNCTION registry_guard_bars(p_guard bigint, p_today date)
RETURNS text[] LANGUAGE sql STABLE AS $$
SELECT array_remove(ARRAY[
    CASE WHEN age(p_today, g.birth_date) < interval '18 years' THEN 'under-age' END,
    CASE WHEN EXISTS (SELECT 1 FROM registry_ban b WHERE b.id_number_bidx = g.id_number_bidx
                      AND b.lifted_at IS NULL AND (b.until_on IS NULL OR b.until_on >= p_today))
         THEN 'banned' END,
    CASE WHEN lc.result IS NULL THEN 'no-background-check'
         WHEN lc.result <> 'clear' THEN 'background-check-failed' END,
    CASE WHEN g.intentional_crime THEN 'criminal-record' END,
    CASE WHEN g.administrative_detentions > 2 THEN 'administrative-detentions' END,
    CASE WHEN rv.n >= 2 THEN 'revoked-twice'
         WHEN rv.n = 1 AND (rv.last AT TIME ZONE 'UTC')::date + interval '3 years' > p_today
         THEN 'recently-revoked' END,
    CASE WHEN e.company_id IS NULL THEN 'no-employer'
         WHEN c.status <> 'active' THEN 'employer-not-active' END,
    CASE WHEN g.status <> 'active' THEN 'guard-inactive' END,
    CASE WHEN EXISTS (SELECT 1 FROM registry_enrollment_hold h WHERE h.guard_id = g.id
                      AND h.status = 'pending') THEN 'enrollment-held' END
], NULL)
FROM registry_guard g
LEFT JOIN registry_employment e ON e.guard_id = g.id AND e.ended_on IS NULL
LEFT JOIN registry_company c ON c.id = e.company_id
LEFT JOIN LATERAL (SELECT bc.result FROM registry_background_check bc
                   WHERE bc.guard_id = g.id ORDER BY bc.checked_on DESC, bc.id DESC LIMIT 1)
     lc ON true
LEFT JOIN LATERAL (SELECT count(*) AS n, max(r.revoked_at) AS last
                   FROM registry_revocation_record r WHERE r.guard_id = g.id) rv ON true
WHERE g.id = p_guard
$$;
