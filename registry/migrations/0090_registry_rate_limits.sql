-- Rate limits shared by every API process and host (api/rate_limits.py): one row per
-- (kind, key) holding the GCRA's theoretical arrival time, advanced by ONE conditional
-- upsert per request (registry/rate_limit_repository.py).
--
-- UNLOGGED on purpose: the rows are disposable counters, rewritten on nearly every
-- request. Unlogged, an update writes no WAL, so a request pays no WAL flush and no
-- synchronous-replication wait, and the replicas receive none of this churn. What it
-- costs: after a crash of the primary the table comes back empty, i.e. every limit
-- starts afresh once (one burst more per key), which is harmless.
CREATE UNLOGGED TABLE registry_rate_limit (
    kind text NOT NULL,
    key bigint NOT NULL,
    tat timestamptz NOT NULL,
    PRIMARY KEY (kind, key)
) WITH (fillfactor = 70);  -- room on each page for HOT updates
