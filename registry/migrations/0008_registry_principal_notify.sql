-- Every API-key worker caches authenticated keys. A change to a principal (revocation,
-- deletion, a new role) is announced on the channel 'guardreg_principal' with the
-- principal's id, at commit, whatever path made it (API, CLI, plain SQL); workers that
-- LISTEN drop that principal's cached keys (api/principal_cache.py).
CREATE FUNCTION registry_principal_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('guardreg_principal',
                      (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER registry_principal_changed AFTER UPDATE OR DELETE ON registry_principal
    FOR EACH ROW EXECUTE FUNCTION registry_principal_notify();
