-- The notice's other actors (issues 15 and 16): training units (bound to their training
-- company), skill assessors, exam-venue staff, the industry association and partner
-- agencies (market regulation, human resources and social security, tax), read-only.
DO $$
DECLARE c record;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'registry_principal'::regclass AND contype = 'c'
               AND (pg_get_constraintdef(oid) LIKE '%role = ANY%'
                    OR pg_get_constraintdef(oid) LIKE '%company_id IS NOT NULL%')
    LOOP
        EXECUTE format('ALTER TABLE registry_principal DROP CONSTRAINT %I', c.conname);
    END LOOP;
END $$;

ALTER TABLE registry_principal ADD CONSTRAINT registry_principal_role_known CHECK (role IN (
    'regulator', 'company_operator', 'checkpoint_officer', 'guard', 'training_unit',
    'skill_assessor', 'exam_staff', 'association', 'market_regulation', 'human_resources',
    'tax'));
ALTER TABLE registry_principal ADD CONSTRAINT registry_principal_company_bound CHECK (
    (role IN ('company_operator', 'training_unit')) = (company_id IS NOT NULL));
