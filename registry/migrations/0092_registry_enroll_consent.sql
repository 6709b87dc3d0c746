-- A company operator's enrollment is confirmed by the person (issue 14, takeover and
-- enumeration): without a valid code the answer is always the same 202
-- "awaiting-confirmation", and a one-time code goes to the phone on the person's record
-- (or, for a person new to the registry, to the phone the company gave). See
-- registry/enroll_consent.py.
--
-- One row per code sent. The code is bound to the ID number's blind index (the same key
-- as registry_guard.id_number_bidx, so a person and a never-seen ID number are handled
-- alike) and to the company; only a keyed hash of it is kept. The rows also count the
-- codes sent per ID number and per company (the rate limits).
CREATE TABLE registry_enroll_code (
    id            bigserial PRIMARY KEY,
    id_number_bidx bytea NOT NULL CHECK (octet_length(id_number_bidx) = 32),
    company_id    bigint NOT NULL REFERENCES registry_company(id),
    code_hash     bytea CHECK (octet_length(code_hash) = 32),  -- NULL: no phone, none sent
    attempts      int NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz
);
CREATE INDEX registry_enroll_code_subject ON registry_enroll_code (id_number_bidx, company_id,
                                                                  created_at);
CREATE INDEX registry_enroll_code_company ON registry_enroll_code (company_id, created_at);

-- Text messages to people's phones, delivered by the job `registry.sms-outbox` to the SMS
-- gateway (GUARDREG_SMS_GATEWAY_URL), a peer outside the system. The phone and the text
-- (which holds a code) are sealed at rest (registry/pii.py) bound to the message's ref,
-- which is also the gateway's de-duplication key. Messages are deleted a day after they
-- were queued, sent or not (the code in them is long dead by then).
CREATE TABLE registry_sms_outbox (
    id              bigserial PRIMARY KEY,
    ref             uuid NOT NULL UNIQUE,
    phone_sealed    bytea NOT NULL,
    text_sealed     bytea NOT NULL,
    created_at      timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'gave-up')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    sent_at         timestamptz,
    last_error      text
);
CREATE INDEX registry_sms_outbox_due ON registry_sms_outbox (next_attempt_at)
    WHERE status = 'pending';
