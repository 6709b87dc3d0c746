-- Key compromise: find the live certificates signed with a given key (re-issuance) and
-- what a key signed after a given time (the compromise report) without a full scan.
CREATE INDEX certificates_kid_live_idx ON certificates_certificate (kid)
    WHERE status IN ('valid', 'suspended');
CREATE INDEX certificates_kid_issued_idx ON certificates_certificate (kid, issued_at);
