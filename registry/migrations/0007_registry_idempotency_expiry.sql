-- Idempotency records expire (setting idempotency_ttl_s, default 24 h): stored responses
-- are not kept forever. Expired rows are purged a few at a time by later requests; this
-- index makes finding them cheap.
CREATE INDEX registry_idempotency_created_at ON registry_idempotency (created_at);
