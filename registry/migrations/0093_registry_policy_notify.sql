-- Issue 19: the checkpoint's service-scope policy is cached by every API process
-- (api/principal_cache.py PolicyCache). A new policy version is announced on the channel
-- 'guardreg_policy' at commit, whatever path wrote it; listeners drop their copy at once
-- (no polling interval), and every copy is dropped while a listener is down.
CREATE FUNCTION registry_policy_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('guardreg_policy', '');
    RETURN NULL;
END $$;
CREATE TRIGGER registry_policy_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON registry_service_policy FOR EACH STATEMENT EXECUTE FUNCTION registry_policy_notify();
