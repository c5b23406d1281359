-- 009: each team's oldest due job, found without scanning other teams'.
-- A worker's batch takes one team's jobs (see claim_jobs in
-- SQL/queries/queue.sql); it picks the team whose oldest due job comes
-- first among the teams no other worker holds.
create index jobs_claim_team on conveyor.jobs (team_id, priority, run_at, id)
    where state in ('available', 'retryable') and team_id is not null;
