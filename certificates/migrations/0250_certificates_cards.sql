-- The printed card as its own credential (issue 18): a row of certificates_certificate
-- with kind 'card', its own number (<certificate number>-C<n>), its own status-list
-- entry (so it is revoked on its own), and card_of = the certificate it was printed for.
-- One live card per guard; a certificate's live card follows it (revoked when the
-- certificate is revoked or superseded, suspended and reinstated with it).
ALTER TABLE certificates_certificate
    ADD COLUMN kind text NOT NULL DEFAULT 'certificate' CHECK (kind IN ('certificate', 'card')),
    ADD COLUMN card_of bigint REFERENCES certificates_certificate(id),
    ADD COLUMN card_serial integer,
    ADD CONSTRAINT certificates_card_shape CHECK (
        (kind = 'certificate' AND card_of IS NULL AND card_serial IS NULL)
        OR (kind = 'card' AND card_of IS NOT NULL AND card_serial BETWEEN 1 AND 9999));

DROP INDEX certificates_one_live;
CREATE UNIQUE INDEX certificates_one_live ON certificates_certificate (guard_id)
    WHERE status IN ('valid', 'suspended') AND kind = 'certificate';
DROP INDEX certificates_one_pending;
CREATE UNIQUE INDEX certificates_one_pending ON certificates_certificate (guard_id)
    WHERE status = 'pending' AND kind = 'certificate';
CREATE UNIQUE INDEX certificates_one_live_card ON certificates_certificate (guard_id)
    WHERE status IN ('valid', 'suspended') AND kind = 'card';
CREATE UNIQUE INDEX certificates_card_serial ON certificates_certificate (card_of, card_serial)
    WHERE kind = 'card';
