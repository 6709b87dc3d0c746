-- The phone-ownership check (issue 14, the SMS side channel): a text message to a phone
-- the registry did not already have on record for the person goes out only once the
-- telecom real-name check (GUARDREG_PHONE_OWNER_CHECK_URL, a peer outside the system) says
-- the phone belongs to the holder of that ID number and name. The job
-- `registry.sms-outbox` asks it (api/sms.py, api/phone_owner.py), never the request, so
-- the request does the same work whatever the person.
--
-- owner_sealed: what the check needs (ID number and name, as JSON), sealed bound to the
-- message's ref like the phone and the text; NULL for a phone on the person's record, and
-- cleared once the check confirmed the phone. 'unconfirmed': the check did not confirm it
-- (or failed), so the message was never sent.
ALTER TABLE registry_sms_outbox ADD COLUMN owner_sealed bytea;
ALTER TABLE registry_sms_outbox DROP CONSTRAINT registry_sms_outbox_status_check;
ALTER TABLE registry_sms_outbox ADD CONSTRAINT registry_sms_outbox_status_check
    CHECK (status IN ('pending', 'sent', 'gave-up', 'unconfirmed'));

-- Confirmation codes serve the public exam application too (registry/exams.py
-- apply_self): the person confirms with a code texted to the phone on their record (or,
-- new to the registry, to their checked phone) before anything is registered, created or
-- refused. Such codes belong to no company; `purpose` keeps an exam code from replacing
-- an enrollment code for the same ID number and company.
ALTER TABLE registry_enroll_code ALTER COLUMN company_id DROP NOT NULL;
ALTER TABLE registry_enroll_code ADD COLUMN purpose text NOT NULL DEFAULT 'enroll'
    CHECK (purpose IN ('enroll', 'exam'));
DROP INDEX registry_enroll_code_subject;
CREATE INDEX registry_enroll_code_subject ON registry_enroll_code (id_number_bidx, purpose,
                                                                  company_id, created_at);
