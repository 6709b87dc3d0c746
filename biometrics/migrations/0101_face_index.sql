-- 1:N face search at scale (docs/face.md, "1:N search"): an HNSW index on a 48-d
-- principal-component projection of the protected embedding, every hit re-ranked
-- exactly on the full vector(128) column by search_faces().
--
-- The projection cannot be written in a migration: its axes are the principal axes
-- of the *protected* vectors, which depend on this deployment's vector key, and they
-- are fitted on enrolled templates. Once there are enough of them (a few thousand),
-- an operator fits the axes (numpy, recipe in docs/face.md) and runs, in one
-- transaction with a large maintenance_work_mem:
--
--     SELECT biometrics_face_install_projection(axes => '{...}'::vector[],
--                                               centre => '[...]'::vector);
--
-- which (re)defines biometrics_face_proj() and (re)builds biometrics_face_proj_hnsw.
-- search_faces() uses that index as soon as it exists and the HNSW index of 0100
-- until then. Re-running the installer (new key after rekey, refit) replaces both.
-- Nothing here touches existing rows; the migration only adds the installer.
CREATE OR REPLACE FUNCTION biometrics_face_install_projection(
    axes vector[], centre vector DEFAULT NULL, m integer DEFAULT 24,
    ef_construction integer DEFAULT 96) RETURNS integer
LANGUAGE plpgsql AS $install$
DECLARE
    n integer := coalesce(array_length(axes, 1), 0);
    ext text;
    terms text;
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
    -- coordinate i = <v, axis_i> - <centre, axis_i>; distances do not depend on the
    -- centre, it only keeps the half-precision coordinates small.
    SELECT string_agg(format('%s.inner_product(v, %L::%s.vector(128)) - (%s)', ext, a::text,
                             ext, coalesce(inner_product(centre, a), 0)), ', ' ORDER BY i)
      INTO terms FROM unnest(axes) WITH ORDINALITY AS t(a, i);
    DROP INDEX IF EXISTS biometrics_face_proj_hnsw;
    EXECUTE format('CREATE OR REPLACE FUNCTION biometrics_face_proj(v %s.vector)'
                   ' RETURNS %s.halfvec LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE'
                   ' AS $proj$ SELECT (ARRAY[%s])::%s.halfvec(48) $proj$',
                   ext, ext, terms, ext);
    EXECUTE format('CREATE INDEX biometrics_face_proj_hnsw ON biometrics_face USING hnsw'
                   ' ((biometrics_face_proj(embedding)::halfvec(48)) halfvec_l2_ops)'
                   ' WITH (m = %s, ef_construction = %s)', m, ef_construction);
    RETURN n;
END
$install$;
