-- Named queries of the work queue (conveyor.jobs). Each block becomes a
-- prepared statement `Queries.<camelCaseName>` in ConveyorStore.

-- name: tune_worker_session :one
-- Workers touch rows by key or walk an index in order, on tables that stay
-- in memory: an index page costs about what a sequential one does
-- (random_page_cost 1.1), not four times as much (the default, for spinning
-- disks). With the default, stale statistics (a burst after a quiet spell)
-- made the planner sort every due job instead of walking jobs_claim in
-- order: 30 to 60 ms instead of 1 ms per batch.
--
-- temp_buffers: the attachment scan (conveyor.scan_team) keeps its tally of
-- a team's interactions in temporary tables, a million rows for a big team;
-- with the default 8 MB they spill to files and the scan takes half as long
-- again. Only sessions that create temporary tables use it, and it must be
-- set before the first one.
select set_config('random_page_cost', '1.1', false), set_config('temp_buffers', '256MB', false)

-- name: claim_jobs :many
-- Locks up to $1 due jobs for this transaction; other workers skip them.
-- The claim, the jobs' effects and their completion commit together.
--
-- Jobs scoped to a team come from one team per batch: of the teams whose
-- routing lock (see lock_team_routing) no other transaction holds, the one
-- whose oldest due job comes first. The claim keeps that lock until commit,
-- so workers take different teams and route them in parallel instead of
-- queueing on one team's lock. Jobs without a team go to any batch. The
-- team test is a coalesce rather than `team_id is null or team_id = …`: on
-- stale statistics the planner's estimate of that OR is tiny, and it then
-- sorts every due job instead of walking jobs_claim (see tune_worker_session).
with team as (
    select e.team_id
    from conveyor.routing_epochs e
    join lateral (
        select j.priority, j.run_at, j.id
        from conveyor.jobs j
        where j.team_id = e.team_id and j.state in ('available', 'retryable') and j.run_at <= now()
        order by j.priority, j.run_at, j.id
        limit 1
    ) as oldest on true
    order by oldest.priority, oldest.run_at, oldest.id
    limit 1
    for update of e skip locked
)
select id, kind, payload::text as payload, attempts, max_attempts, team_id,
       extract(epoch from now() - run_at)::float8 as due_seconds, extract(epoch from now() - created_at)::float8 as age_seconds
from conveyor.jobs
where state in ('available', 'retryable') and run_at <= now()
  and coalesce(team_id = (select team_id from team), team_id is null)
  and kind not in ('scan', 'webhook')   -- the long lane's (claim_long_jobs)
order by priority, run_at, id
limit $1
for update skip locked

-- name: claim_long_jobs :many
-- The long lane: scans and webhook deliveries, which run for seconds, are
-- claimed only here (through jobs_claim_long, migration 012), by a worker of
-- their own, so they never share a batch, or its team routing lock, with
-- handoffs.
select id, kind, payload::text as payload, attempts, max_attempts, team_id,
       extract(epoch from now() - run_at)::float8 as due_seconds, extract(epoch from now() - created_at)::float8 as age_seconds
from conveyor.jobs
where state in ('available', 'retryable') and run_at <= now()
  and kind in ('scan', 'webhook')
order by priority, run_at, id
limit $1
for update skip locked

-- name: complete_jobs :exec
-- The ids are compared as `(select $1::bigint[])`, a value the planner
-- cannot see, so the plan (by jobs_pkey) is made once per connection. Seen
-- as a parameter, an array of one (a single win) always beat the generic
-- plan's estimate of ten, and every call planned afresh.
update conveyor.jobs
set state = 'succeeded', attempts = attempts + 1, attempted_at = now(),
    finished_at = now(), last_error = null
where id = any((select $1::bigint[])::bigint[])

-- name: set_job_outputs :exec
-- $1 ids, $2 outputs (JSON text): what jobs that succeeded in this batch
-- answered, for the commands waiting for them (job_result).
update conveyor.jobs j
set output = o.output::jsonb
from unnest($1::bigint[], $2::text[]) as o(id, output)
where j.id = o.id

-- name: job_result :optional
-- Where job $1 stands, for a command waiting for it: its kind, state, last
-- error and, once it succeeded, its output.
select kind, state, last_error, output::text as output
from conveyor.jobs
where id = $1

-- name: fail_jobs :exec
-- $1 ids, $2 retry delays in seconds, $3 errors. The caller buries jobs that
-- are out of attempts instead (bury_jobs). The delay counts from the end of
-- the batch's attempts (attempted_at), not from its start: a webhook (the
-- long lane runs one at a time) that took its whole timeout would otherwise
-- be retried at once.
update conveyor.jobs as j
set state = 'retryable', attempts = j.attempts + 1, attempted_at = c.failed_at,
    last_error = f.error, run_at = c.failed_at + make_interval(secs => f.delay)
from unnest($1::bigint[], $2::float8[], $3::text[]) as f(id, delay, error),
     (select clock_timestamp() as failed_at) as c
where j.id = f.id

-- name: bury_jobs :exec
-- Jobs that can never succeed (malformed payload, missing row, unknown kind,
-- out of attempts). A dead handoff job of an existing account also opens
-- (or refreshes) that account's `handoff_failed` alert, so the won client
-- left without a manager is seen (sorted by the account's value among the
-- alerts); its handoff resolves it. The account id is read only when it is
-- a plain integer, so no payload can fail this statement, and one alert is
-- written per account however many of its jobs die at once.
with buried as (
    update conveyor.jobs as j
    set state = 'dead', attempts = j.attempts + 1, attempted_at = now(),
        finished_at = now(), last_error = f.error
    from unnest($1::bigint[], $2::text[]) as f(id, error)
    where j.id = f.id
    returning j.id, j.kind, j.payload ->> 'account_id' as account_id, f.error
)
insert into conveyor.alerts (team_id, account_id, kind, severity, details)
select distinct on (a.id) a.team_id, a.id, 'handoff_failed', 'high',
       jsonb_build_object('job_id', b.id, 'error', b.error, 'money_at_stake', a.value)
from buried b
join conveyor.accounts a on a.id = case when b.account_id ~ '^[0-9]{1,18}$' then b.account_id::bigint end
where b.kind = 'handoff'
order by a.id, b.id desc
on conflict (team_id, coalesce(account_id, 0), kind) where status <> 'resolved'
do update set last_seen_at = now(), details = excluded.details

-- name: park_jobs :exec
-- Jobs that wait for an event (capacity, a rep back, a team resumed); $2 is
-- when to look again even without an event (null: only on an event).
update conveyor.jobs as j
set state = 'waiting', attempted_at = now(), last_error = f.reason,
    run_at = coalesce(f.wake_at, 'infinity')
from unnest($1::bigint[], $2::timestamptz[], $3::text[]) as f(id, wake_at, reason)
where j.id = f.id

-- name: next_run_at :one
-- When a worker must look again without a notification: the next scheduled
-- job, or a waiting job's wake-up time (due: wake_due_waiting). Due jobs
-- that other batches hold will be finished by them: waiting for those would
-- spin. A due team job that no batch holds is one whose team lock someone
-- holds for a moment (an admin's reassignment, an integration's update of
-- reps): look again shortly rather than at the next poll. The probe takes
-- FOR KEY SHARE, which a batch's FOR UPDATE claim excludes but another
-- worker's probe does not: with FOR UPDATE, two idle workers probing at
-- once each saw the other's probe as a batch and slept a whole poll.
with unclaimed_team_job as (
    select 1 from conveyor.jobs
    where state in ('available', 'retryable') and run_at <= now() and team_id is not null
    limit 1
    for key share skip locked
)
select least(
    (select min(run_at) from conveyor.jobs where state in ('available', 'retryable') and run_at > now()),
    (select min(run_at) from conveyor.jobs where state = 'waiting'),
    (select now() + interval '50 milliseconds' from unclaimed_team_job)
) as next_run_at

-- name: wake_due_waiting :one
with due as (
    update conveyor.jobs set state = 'available', run_at = now()
    where state = 'waiting' and run_at <= now()
    returning 1
)
select count(*)::int as woken, case when count(*) > 0 then pg_notify('conveyor_jobs', '') end
from due

-- name: enqueue_job :optional
-- $1 kind, $2 payload, $3 unique key (null: none), $4 priority, $5 run_at
-- (null: now), $6 team id, $7 max attempts (null: default). A second enqueue
-- with the same unique key returns the first job's id.
with inserted as (
    insert into conveyor.jobs (kind, payload, unique_key, priority, run_at, team_id, max_attempts)
    values ($1, $2::jsonb, $3, coalesce($4::smallint, 0), coalesce($5::timestamptz, now()), $6,
            coalesce($7::int, 20))
    on conflict (unique_key) where unique_key is not null do nothing
    returning id
)
select id from inserted
union all
select id from conveyor.jobs where unique_key = $3 and not exists (select 1 from inserted)

-- name: queue_counts :many
select kind, state, count(*)::bigint as jobs,
       extract(epoch from now() - min(run_at) filter (
           where state in ('available', 'retryable') and run_at <= now()))::float8 as oldest_due_seconds
from conveyor.jobs
group by kind, state
order by kind, state

-- name: list_jobs :many
-- $1 state (null: all), $2 limit.
select id, kind, state, priority, attempts, max_attempts, run_at, created_at,
       finished_at, last_error, payload::text as payload, team_id
from conveyor.jobs
where $1::text is null or state = $1
order by id desc
limit $2

-- name: retry_job :optional
-- A dead, cancelled, retryable or waiting job back to available now (and
-- wake the workers). Returns the job as it was left (as list_jobs does):
-- read back later, a worker might already have run it.
with retried as (
    update conveyor.jobs
    set state = 'available', run_at = now(), finished_at = null,
        max_attempts = greatest(max_attempts, attempts + 1)
    where id = $1 and state in ('dead', 'cancelled', 'retryable', 'waiting')
    returning id, kind, state, priority, attempts, max_attempts, run_at, created_at,
              finished_at, last_error, payload::text as payload, team_id
)
select retried.*, pg_notify('conveyor_jobs', '') from retried

-- name: cancel_job :optional
update conveyor.jobs
set state = 'cancelled', finished_at = now()
where id = $1 and state in ('available', 'retryable', 'waiting')
returning id, kind, state, priority, attempts, max_attempts, run_at, created_at,
          finished_at, last_error, payload::text as payload, team_id

-- name: job_state :optional
select state from conveyor.jobs where id = $1

-- name: prune_jobs :exec
-- Deletes up to $2 finished jobs older than $1 seconds; dead jobs stay.
delete from conveyor.jobs
where id in (
    select id from conveyor.jobs
    where state in ('succeeded', 'cancelled')
      and finished_at < now() - make_interval(secs => $1)
    limit $2
)

-- name: record_probes :one
-- The effect of `probe` jobs: one row each, and a notification after commit.
with inserted as (
    insert into conveyor.probes (job_id) select unnest($1::bigint[]) returning job_id
)
select count(pg_notify('conveyor_probe', job_id::text)) as notified from inserted

-- name: job_team :optional
-- The name of the team job $1 acts on (no row: no such job, or none): its
-- team_id, or for the long lane's scans and webhook deliveries, which leave
-- that empty, the team_id of their payload.
select t.name
from conveyor.jobs j
join conveyor.teams t on t.id = coalesce(
    j.team_id,
    case when j.kind in ('scan', 'webhook') and jsonb_typeof(j.payload -> 'team_id') = 'number'
         then (j.payload ->> 'team_id')::numeric end)
where j.id = $1
