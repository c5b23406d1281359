-- 004: queue support.
--
-- probes: the effect of the built-in `probe` job kind, a health check that
-- proves a job ran end to end (enqueue → worker → commit). Each probe job
-- inserts one row here and notifies `conveyor_probe` with its id, in the same
-- transaction that completes it; tests use it to prove exactly-once
-- processing and conveyor-bench to measure pickup latency.
create table conveyor.probes (
    id      bigserial primary key,
    job_id  bigint not null,
    done_at timestamptz not null default now()
);
create index probes_job_id on conveyor.probes (job_id);

-- Waiting jobs that should be looked at again at a time (a rep back from away).
create index jobs_waiting_run_at on conveyor.jobs (run_at) where state = 'waiting';
