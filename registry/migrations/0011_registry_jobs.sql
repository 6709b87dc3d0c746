-- Scheduled jobs that run once per cluster: whichever host takes a job's lease runs it;
-- the others see the lease and skip it. The row is also the job's visible status.
CREATE TABLE registry_job (
    name            text PRIMARY KEY,
    interval_s      integer NOT NULL CHECK (interval_s > 0),
    next_run_at     timestamptz NOT NULL,
    lease_owner     text,
    lease_until     timestamptz,
    runs            bigint NOT NULL DEFAULT 0,
    last_owner      text,
    last_started_at timestamptz,
    last_finished_at timestamptz,
    last_status     text CHECK (last_status IN ('ok', 'failed')),
    last_result     jsonb,
    last_error      text
);
