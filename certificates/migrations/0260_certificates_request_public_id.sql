-- Opaque identifiers for issuance requests (issue 14, enumeration).
ALTER TABLE certificates_issuance_request
    ADD COLUMN public_id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX certificates_issuance_request_public_id_key
    ON certificates_issuance_request (public_id);
