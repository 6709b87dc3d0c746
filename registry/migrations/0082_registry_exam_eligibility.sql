-- The one eligibility function (migrations 0031, 0080) with the certificate as a personal
-- credential (issue 15): a passed exam is required ('no-exam-pass'), an employer is not
-- ('no-employer' is gone). An employer whose licence is not active still bars a new
-- certificate naming it ('employer-not-active').
CREATE OR REPLACE FUNCTION registry_guard_bars(p_guard bigint, p_today date)
RETURNS text[] LANGUAGE sql STABLE AS $$
SELECT array_remove(ARRAY[
    CASE WHEN age(p_today, g.birth_date) < interval '18 years' THEN 'under-age' END,
    CASE WHEN EXISTS (SELECT 1 FROM registry_ban b WHERE b.id_number_bidx = g.id_number_bidx
                      AND b.lifted_at IS NULL AND (b.until_on IS NULL OR b.until_on >= p_today))
         THEN 'banned' END,
    CASE WHEN NOT EXISTS (SELECT 1 FROM registry_exam_result x WHERE x.guard_id = g.id
                          AND x.passed) THEN 'no-exam-pass' END,
    CASE WHEN lc.result IS NULL THEN 'no-background-check'
         WHEN lc.result <> 'clear' THEN 'background-check-failed' END,
    CASE WHEN g.intentional_crime THEN 'criminal-record' END,
    CASE WHEN g.administrative_detentions > 2 THEN 'administrative-detentions' END,
    CASE WHEN rv.n >= 2 THEN 'revoked-twice'
         WHEN rv.n = 1 AND (rv.last AT TIME ZONE 'UTC')::date + interval '3 years' > p_today
         THEN 'recently-revoked' END,
    CASE WHEN e.company_id IS NOT NULL AND c.status <> 'active' THEN 'employer-not-active' END,
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
