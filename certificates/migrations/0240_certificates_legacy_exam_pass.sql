-- Issue 15: a certificate now requires a passed exam (registry migration 0082). Guards
-- certified before exam results were recorded keep their eligibility through a 'legacy'
-- pass, so no re-issue (level, name, new hire) is refused for want of an exam record.
INSERT INTO registry_exam_result (guard_id, passed, source, evidence, recorded_by, recorded_at)
SELECT DISTINCT c.guard_id, true, 'legacy',
       'certificate issued before exam results were recorded (migration 0240)',
       'migration:0240', now()
FROM certificates_certificate c
WHERE c.status IN ('valid', 'suspended', 'revoked')
  AND NOT EXISTS (SELECT 1 FROM registry_exam_result x WHERE x.guard_id = c.guard_id
                  AND x.passed);
