-- Named queries of the work-queue scenarios of conveyor-bench (enum BenchQueries).

-- name: any_due :one
-- Whether any job is still to run (an index probe: polling must not load the server).
select exists (select 1 from conveyor.jobs where state in ('available', 'retryable')) as due

-- name: raw_noop_batch :exec
-- noop-raw: completes up to $1 due jobs by hand.
with due as (
    select id from conveyor.jobs
    where state in ('available', 'retryable') and run_at <= now()
    order by priority, run_at, id
    limit $1
    for update skip locked
)
update conveyor.jobs j
set state = 'succeeded', attempts = j.attempts + 1, attempted_at = now(), finished_at = now()
from due where j.id = due.id

-- name: transactions :one
-- Transactions of this database so far (pg_stat_database).
select (xact_commit + xact_rollback)::bigint as n from pg_stat_database where datname = current_database()

-- name: reset_queue :exec
-- Every queue scenario starts from an empty queue...
truncate conveyor.jobs, conveyor.probes

-- name: analyze_jobs :script
-- ...with fresh statistics (VACUUM runs outside any transaction block).
vacuum analyze conveyor.jobs

-- name: enqueue_noops :exec
-- $1 no-op jobs in one statement.
insert into conveyor.jobs (kind) select 'noop' from generate_series(1, $1)

-- name: succeeded_jobs :one
-- How many jobs succeeded.
select count(*)::int as n from conveyor.jobs where state = 'succeeded'

-- name: flush_statistics :one
-- Makes this backend publish its statistics now.
select pg_stat_force_next_flush()

-- name: jobs_table_figures :one
-- The jobs table's size with its indexes, and its dead rows as the statistics count them.
select pg_total_relation_size('conveyor.jobs')::float8 as bytes, n_dead_tup::float8 as dead
from pg_stat_user_tables where relid = 'conveyor.jobs'::regclass
