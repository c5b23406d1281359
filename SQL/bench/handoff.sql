-- Named queries of the handoff scenarios of conveyor-bench (enum BenchQueries).

-- name: add_bench_teams :exec
-- Three teams of account managers (half with customs), capacity $2, $3 managers each, and one hunter per team; $1 the team names.
with teams as (
    insert into conveyor.teams (name) select unnest($1::text[]) returning id
), hunters as (
    insert into conveyor.reps (team_id, ref, role) select id, 'hunter', 'closer' from teams
)
insert into conveyor.reps (team_id, ref, role, capacity, skills)
select t.id, 'am-' || n, 'account_manager', $2,
       case when n % 2 = 0 then '{customs,rail}'::text[] else '{rail}'::text[] end
from teams t cross join generate_series(1, $3) as n

-- name: add_won_accounts :exec
-- $1 won accounts spread over the teams, a quarter needing customs, as conveyor.record_win leaves them (without their jobs).
with hunters as (
    select r.team_id, r.id, row_number() over (order by r.team_id) - 1 as slot
    from conveyor.reps r where r.ref = 'hunter'
)
insert into conveyor.accounts (team_id, ref, stage, hunter_id, won_at, needs)
select h.team_id, 'acc-' || n, 'won', h.id, now(),
       case when n % 4 = 0 then '{customs}'::text[] else '{}'::text[] end
from generate_series(1, $1) as n
join hunters h on h.slot = n % 3

-- name: enqueue_handoffs :exec
-- One handoff job per won account, in account order, as conveyor.record_win enqueues them.
insert into conveyor.jobs (kind, payload, unique_key, team_id)
select 'handoff', jsonb_build_object('account_id', id), 'handoff:' || id, team_id
from conveyor.accounts where stage = 'won' order by id

-- name: handoff_totals :one
-- What verification counts: active accounts, handoffs, managers over capacity.
select (select count(*) from conveyor.accounts where stage = 'active')::int as active,
       (select count(*) from conveyor.handoffs)::int as handoffs,
       (select count(*) from conveyor.reps r where r.capacity <
           (select count(*) from conveyor.accounts a where a.owner_id = r.id and a.stage = 'active'))::int as over

-- name: raw_handoff_batch :one
-- handoff-raw: one batch of $1 by hand-written set-based SQL (see HandoffScenarios.handoffRaw).
with due as (
    select id, (payload ->> 'account_id')::bigint as account_id from conveyor.jobs
    where state in ('available', 'retryable') and run_at <= now()
    order by priority, run_at, id limit $1 for update skip locked
), accounts as (
    select a.id, a.team_id, a.hunter_id, a.needs,
           row_number() over (partition by a.team_id, a.needs order by a.id) as n
    from conveyor.accounts a join due on due.account_id = a.id
), managers as (
    select r.id, r.ref, r.team_id, r.skills, r.capacity, coalesce(l.owned, 0) as owned
    from conveyor.reps r left join conveyor.rep_loads l on l.rep_id = r.id
    where r.role = 'account_manager' and r.active and r.team_id in (select team_id from accounts)
), groups as (
    select g.team_id, g.needs, array_agg(m.id order by m.owned, m.id) as reps
    from (select distinct team_id, needs from accounts) as g
    join managers m on m.team_id = g.team_id and m.skills @> g.needs and m.owned < m.capacity
    group by g.team_id, g.needs
), chosen as (
    select a.id as account_id, a.team_id, a.hunter_id, g.reps[(a.n - 1) % cardinality(g.reps) + 1] as rep_id
    from accounts a join groups g on g.team_id = a.team_id and g.needs = a.needs
), lists as (
    select team_id, jsonb_agg(m.id || ' ' || m.owned || ' ' || m.capacity || ' - -' order by m.id) as candidates
    from managers m group by team_id
), moved as (
    update conveyor.accounts a set owner_id = c.rep_id, stage = 'active', handed_off_at = now(), updated_at = now()
    from chosen c where a.id = c.account_id returning a.id
), written as (
    insert into conveyor.handoffs (account_id, from_rep_id, to_rep_id, kind, explanation)
    select c.account_id, c.hunter_id, c.rep_id, 'auto', jsonb_build_object(
        'kind', 'auto', 'account_id', c.account_id, 'chosen_rep_id', c.rep_id,
        'rule', 'lowest_utilization', 'fallback_used', false, 'decided_at', now(),
        'candidate_fields', '["rep_id","owned","capacity","last_assigned_ms_ago","excluded_because"]'::jsonb,
        'candidates', l.candidates)
    from chosen c join lists l on l.team_id = c.team_id
    returning 1
), completed as (
    update conveyor.jobs j set state = 'succeeded', attempts = j.attempts + 1, attempted_at = now(), finished_at = now()
    from due where j.id = due.id
    returning 1
)
select (select count(*) from completed)::int as done, (select count(*) from written)::int as written

-- name: reset_handoff_data :exec
-- Every scenario starts from empty teams and an empty queue.
truncate conveyor.teams, conveyor.jobs, conveyor.probes cascade

-- name: analyze_all :script
-- Fresh statistics once the data is in.
vacuum analyze

-- name: record_bench_win :one
-- handoff-latency: one win through the public function.
select conveyor.record_win($1, $2, 'hunter')

-- name: handoff_storage :one
-- What handoffs cost on disk: their explanations (pg_column_size, as stored),
-- the handoffs table with its indexes and TOAST, and the candidate snapshots.
select (select count(*) from conveyor.handoffs) as handoffs,
       (select coalesce(sum(pg_column_size(explanation)), 0) from conveyor.handoffs)::bigint as explanation_bytes,
       (select coalesce(max(pg_column_size(explanation)), 0) from conveyor.handoffs)::bigint as largest_explanation_bytes,
       pg_total_relation_size('conveyor.handoffs') as handoffs_bytes,
       pg_total_relation_size('conveyor.candidate_snapshots') as snapshot_bytes,
       (select count(*) from conveyor.candidate_snapshots) as snapshots

-- name: latest_handoffs :many
-- The newest handoffs: the ones whose explanation replays the most.
select id from conveyor.handoffs order by id desc limit $1

-- name: explain_handoff :one
-- What account.explain runs for one handoff.
select conveyor.handoff_explanation($1)::text as explanation
