-- Read leases of the streaming replicas that serve online verification (issue 19,
-- api/replicas.py). The steward (one API host at a time) renews a replica's lease while
-- the replica applies WAL, and takes it out of synchronous_standby_names only once its
-- lease (plus a margin) has ended; API processes read from a replica only inside a lease
-- they saw here. So a status change committed with synchronous_commit = remote_apply is
-- applied on every replica that may still serve a read.
--
-- UNLOGGED: renewals are frequent and must never wait for a standby (with a replica
-- down, a logged renewal would queue behind synchronous replication like any commit).
-- After a crash of the primary the table is empty: no replica holds a lease, reads go
-- to the primary until the steward grants new ones. That is the safe direction.
CREATE UNLOGGED TABLE registry_read_replica (
    name text PRIMARY KEY,          -- the standby's cluster_name = its application_name
    state text NOT NULL CHECK (state IN ('joining', 'serving', 'draining', 'out')),
    lease_until timestamptz,
    fence_lsn pg_lsn,               -- joining: serve once replay has passed this
    replay_lsn pg_lsn,
    behind_bytes double precision,  -- how far its replay was behind the primary's WAL
    changed_at timestamptz NOT NULL DEFAULT now(),
    checked_at timestamptz NOT NULL DEFAULT now()
);
