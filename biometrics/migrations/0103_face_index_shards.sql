-- 1:N face search at 1M and beyond (docs/face.md, "1:N search"): the projection index
-- of 0101, split into shards that the service searches at the same time, one
-- connection each, so that one search uses several cores of the database host.
--
-- A shard is the set of subjects with (uuid_hash(subject) & 2147483647) % shards = i;
-- each has a partial HNSW index on the 48-d projection. No table rewrite: the table
-- stays one table, only the indexes are split. search_faces() reads the layout from
-- biometrics_face_projection (one row, written by the installer) and sends one query
-- per shard, each carrying the shard's predicate so that the planner picks its index.
--
-- `guardreg biometrics face-index` fits the axes on enrolled templates and calls the
-- installer; it is re-run after a rekey or a face-model change.
CREATE TABLE biometrics_face_projection (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    shards          integer NOT NULL CHECK (shards BETWEEN 1 AND 16),
    m               integer NOT NULL,
    ef_construction integer NOT NULL,
    installed_at    timestamptz NOT NULL DEFAULT now()
);

-- A projection installed with 0101's installer is one unsharded index: keep using it.
INSERT INTO biometrics_face_projection (shards, m, ef_construction)
SELECT 1, 24, 96 WHERE to_regclass('biometrics_face_proj_hnsw') IS NOT NULL;

DROP FUNCTION biometrics_face_install_projection(vector[], vector, integer, integer);

CREATE FUNCTION biometrics_face_install_projection(
    axes vector[], centre vector DEFAULT NULL, m integer DEFAULT 32,
    ef_construction integer DEFAULT 128, shards integer DEFAULT 2) RETURNS integer
LANGUAGE plpgsql AS $install$
DECLARE
    n integer := coalesce(array_length(axes, 1), 0);
    ext text;
    terms text;
    old text;
    i integer;
BEGIN
    -- Index expressions run with search_path = pg_catalog (PostgreSQL 17+): the
    -- function body names pgvector's schema explicitly.
    SELECT extnamespace::regnamespace::text INTO ext  -- quoted if need be
      FROM pg_extension WHERE extname = 'vector';
    IF n <> 48 THEN
        RAISE EXCEPTION 'expected 48 projection axes, got %', n;
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(axes) AS a WHERE a IS NULL OR vector_dims(a) <> 128)
       OR (centre IS NOT NULL AND vector_dims(centre) <> 128) THEN
        RAISE EXCEPTION 'projection axes and centre must be 128-d vectors';
    END IF;
    IF shards IS NULL OR shards NOT BETWEEN 1 AND 16 THEN
        RAISE EXCEPTION 'shards must be between 1 and 16, got %', shards;
    END IF;
    IF m IS NULL OR m NOT BETWEEN 4 AND 100
       OR ef_construction IS NULL OR ef_construction NOT BETWEEN 2 * m AND 1000 THEN
        RAISE EXCEPTION 'need 4 <= m <= 100 and 2m <= ef_construction <= 1000';
    END IF;
    -- coordinate i = <v, axis_i> - <centre, axis_i>; distances do not depend on the
    -- centre, it only keeps the half-precision coordinates small.
    SELECT string_agg(format('%s.inner_product(v, %L::%s.vector(128)) - (%s)', ext, a::text,
                             ext, coalesce(inner_product(centre, a), 0)), ', ' ORDER BY o)
      INTO terms FROM unnest(axes) WITH ORDINALITY AS t(a, o);
    -- Every earlier projection index goes, whatever its layout.
    FOR old IN SELECT c.relname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
                WHERE x.indrelid = 'biometrics_face'::regclass
                  AND c.relname LIKE 'biometrics\_face\_proj\_hnsw%' LOOP
        EXECUTE format('DROP INDEX %I', old);
    END LOOP;
    EXECUTE format('CREATE OR REPLACE FUNCTION biometrics_face_proj(v %s.vector)'
                   ' RETURNS %s.halfvec LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE'
                   ' AS $proj$ SELECT (ARRAY[%s])::%s.halfvec(48) $proj$',
                   ext, ext, terms, ext);
    IF shards = 1 THEN
        EXECUTE format('CREATE INDEX biometrics_face_proj_hnsw ON biometrics_face USING hnsw'
                       ' ((biometrics_face_proj(embedding)::halfvec(48)) halfvec_l2_ops)'
                       ' WITH (m = %s, ef_construction = %s)', m, ef_construction);
    ELSE
        FOR i IN 0 .. shards - 1 LOOP
            EXECUTE format('CREATE INDEX biometrics_face_proj_hnsw_%s ON biometrics_face'
                           ' USING hnsw ((biometrics_face_proj(embedding)::halfvec(48))'
                           ' halfvec_l2_ops) WITH (m = %s, ef_construction = %s)'
                           ' WHERE (uuid_hash(subject) & 2147483647) %% %s = %s',
                           i, m, ef_construction, shards, i);
        END LOOP;
    END IF;
    -- 0100's index on the full vector is not searched any more once a projection is
    -- installed (search_faces uses the projection from then on); it would only cost
    -- every enrollment an index insert and compete for shared_buffers (0.5 GB at 1M).
    DROP INDEX IF EXISTS biometrics_face_embedding_hnsw;
    DELETE FROM biometrics_face_projection;
    INSERT INTO biometrics_face_projection (shards, m, ef_construction)
    VALUES (shards, m, ef_construction);
    RETURN n;
END
$install$;
