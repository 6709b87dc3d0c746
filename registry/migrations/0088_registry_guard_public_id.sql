-- Opaque guard identifiers (issue 14, enumeration): URLs and responses name a guard by a
-- random public id; the sequential integer id stays inside the database.
ALTER TABLE registry_guard ADD COLUMN public_id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX registry_guard_public_id_key ON registry_guard (public_id);
