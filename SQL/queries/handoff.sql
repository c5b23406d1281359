-- Named queries of routing: handoffs, redistributions, manual reassignments.

-- name: lock_team_routing :optional
-- Serializes routing within a team (across workers and daemons) until commit,
-- and orders it against conveyor.requeue_waiting (see 003_queue_triggers.sql).
-- `now_us` is the decision time: the transaction's, which its handoffs'
-- created_at also take, in microseconds since the Unix epoch. A handoff
-- job's batch sends it with routing_accounts and routing_candidates in one
-- round trip (HandoffRouter.lockTeam(_:id:reading:)); they run after it.
select t.id, t.name, t.paused, t.skills_fallback, conveyor.unix_us(now()) as now_us
from conveyor.routing_epochs e
join conveyor.teams t on t.id = e.team_id
where e.team_id = $1
for update of e

-- name: routing_accounts :many
-- The accounts to route, with their hunter and current owner. The ids are
-- hidden from the planner as in complete_jobs, so this is planned once per
-- connection, not on every single win.
select id, team_id, ref, stage, hunter_id, owner_id, needs
from conveyor.accounts
where id = any((select $1::bigint[])::bigint[])

-- name: routing_candidates :many
-- The team's account managers as routing sees them: load (accounts owned in
-- stage active, see 007_rep_loads.sql) and when each was last handed an
-- account (see 022_last_assigned.sql); times in microseconds since the Unix
-- epoch (exact, as snapshots store them; see conveyor.unix_us). Every row
-- also carries the team's candidate snapshot, the fingerprint of the
-- candidates as the last routed batch left them, and the handoffs routed
-- since the snapshot (see 011_explanation_snapshots.sql), read under the
-- caller's lock.
--
-- The team is compared as `(select $1::bigint)`, a value the planner cannot
-- see, so every team gets the plan of an average team and the plan is made
-- once per connection. Compared with $1 itself, the estimate for a team
-- smaller than the average always beat the reusable plan's, and every call
-- planned afresh (0.3 to 0.5 ms, as long as running it at 20 managers).
select r.id, r.ref, r.role, r.active, r.capacity, r.skills,
       conveyor.unix_us(r.away_until) as away_until_us,
       coalesce(l.owned, 0) as owned,
       conveyor.unix_us(la.last_assigned_at) as last_assigned_us,
       e.snapshot_id, e.snapshot_fingerprint, e.handoffs_since_snapshot
from conveyor.reps r
left join conveyor.rep_loads l on l.rep_id = r.id
left join conveyor.rep_last_assigned la on la.rep_id = r.id
left join conveyor.routing_epochs e on e.team_id = r.team_id
where r.team_id = (select $1::bigint) and r.role = 'account_manager'
order by r.id

-- name: apply_handoffs :optional
-- Moves each account to its new owner and writes one handoffs row each, in
-- decision order, with its explanation. $1 accounts, $2 from reps
-- (nullable), $3 to reps, $4 the explanations in the same order, one JSON
-- object per line, $5 kind. The candidate snapshot of team $7: $6 the
-- current one, or, when $8 (the candidates as JSON) is given, a new one;
-- the team's routing_epochs row keeps it with $9, the fingerprint of the
-- candidates after this batch, and $10, the handoffs routed since the
-- snapshot. The accounts' no_eligible_manager and handoff_failed alerts
-- resolve, and one notification tells listeners the range of handoff ids
-- to read (see handoff_events). One statement, so a single win's handoff
-- is one round trip. Returns that range and its count; no row when no
-- account moved. The moves are one zipped unnest: its generic plan expects
-- a few rows and finds each account by its key (a join of the arrays with
-- the split explanations was expected to give 50, and the plan read every
-- account of the table, 0.6 ms of a single win's 1.8 ms at 3,000 accounts).
with moves as (
    select m.account_id, m.from_rep_id, m.to_rep_id, m.n, m.explanation::jsonb as explanation
    from unnest($1::bigint[], $2::bigint[], $3::bigint[], string_to_array($4, E'\n'))
         with ordinality as m(account_id, from_rep_id, to_rep_id, explanation, n)
), taken as (
    insert into conveyor.candidate_snapshots (team_id, candidates)
    select $7, $8::jsonb where $8::text is not null
    returning id
), snapshot as (
    select coalesce((select id from taken), $6::bigint) as id
), kept as (
    update conveyor.routing_epochs
    set snapshot_id = (select id from snapshot), snapshot_fingerprint = $9, handoffs_since_snapshot = $10
    where team_id = $7
), moved as (
    update conveyor.accounts a
    set owner_id = m.to_rep_id, stage = 'active', handed_off_at = now(), updated_at = now()
    from moves m
    where a.id = m.account_id
    returning a.id
), resolved as (
    update conveyor.alerts
    set status = 'resolved', resolved_at = now()
    where kind in ('no_eligible_manager', 'handoff_failed') and status <> 'resolved' and account_id = any($1::bigint[])
), inserted as (
    insert into conveyor.handoffs (account_id, from_rep_id, to_rep_id, kind, explanation, snapshot_id)
    select m.account_id, m.from_rep_id, m.to_rep_id, $5, m.explanation, (select id from snapshot)
    from moves m join moved on moved.id = m.account_id
    order by m.n
    returning id
), batch as (
    select min(id) as first_id, max(id) as last_id, count(*)::int as count from inserted
)
select b.first_id, b.last_id, b.count, pg_notify('conveyor_events', json_build_object(
    'type', 'handoffs', 'team_id', $7::bigint, 'first_id', b.first_id, 'last_id', b.last_id,
    'count', b.count)::text) as notified
from batch b
where b.count > 0

-- name: open_no_eligible_alerts :exec
-- One open no_eligible_manager alert per waiting account; a repeat refreshes it.
insert into conveyor.alerts as al (team_id, account_id, kind, severity, details)
select $1, w.account_id, 'no_eligible_manager', 'medium', jsonb_build_object('reason', w.reason)
from unnest($2::bigint[], $3::text[]) as w(account_id, reason)
on conflict (team_id, coalesce(account_id, 0), kind) where status <> 'resolved'
do update set last_seen_at = now(), details = excluded.details

-- name: next_return_from_away :one
-- When the next away manager of the team comes back (a waiting job's wake-up).
select min(away_until) as next_return
from conveyor.reps
where team_id = $1 and role = 'account_manager' and active and away_until > now()

-- name: enqueue_forgotten_wins :many
-- Accounts in stage won that have no handoff job (set won by plain SQL, not
-- by record_win): enqueues each one's handoff job as record_win does (key
-- handoff:<account id>) and records it on the account (and won_at, when
-- the integration left it empty), at most $1 per call.
-- Rows another transaction holds are left for the next call; the unique key
-- makes two daemons' calls harmless. A sequential pass over accounts (35 ms
-- for 200,000 on a busy 2-core machine), on purpose without an index: any
-- index on `stage` would make every handoff's account update a non-HOT one.
with forgotten as (
    select a.id, a.team_id
    from conveyor.accounts a
    where a.stage = 'won' and a.handoff_job_id is null
      and not exists (select 1 from conveyor.jobs j where j.unique_key = 'handoff:' || a.id)
    order by a.id
    limit $1
    for update of a skip locked
), enqueued as (
    insert into conveyor.jobs (kind, payload, unique_key, team_id)
    select 'handoff', jsonb_build_object('account_id', f.id), 'handoff:' || f.id, f.team_id
    from forgotten f
    on conflict (unique_key) where unique_key is not null do nothing
    returning id, (payload ->> 'account_id')::bigint as account_id
)
update conveyor.accounts a
set handoff_job_id = e.id, won_at = coalesce(a.won_at, now())
from enqueued e
where a.id = e.account_id
returning a.id

-- name: prune_unused_snapshots :one
-- Looks at the next $2 candidate snapshots after id $1 and deletes those
-- that nothing reads any more: no handoff names them (deleting an account
-- deletes its handoffs) and no team routes on them now. A batch names only
-- its team's current snapshot, read under the team's routing lock, so a
-- snapshot that is not current and that no handoff names is never named
-- again. Returns how many it looked at and deleted, and the last id it
-- looked at (null when it looked at none). Each snapshot is looked up in
-- the partial index handoffs_snapshot, never by a scan of the handoffs
-- with their explanations.
with looked as (
    select id from conveyor.candidate_snapshots where id > $1 order by id limit $2
), gone as (
    delete from conveyor.candidate_snapshots s
    using looked l
    where s.id = l.id
      and not exists (select 1 from conveyor.routing_epochs e where e.snapshot_id = s.id)
      and not exists (select 1 from conveyor.handoffs h where h.snapshot_id = s.id)
    returning 1
)
select (select count(*) from looked)::integer as looked, (select count(*) from gone)::integer as deleted,
       (select max(id) from looked) as last_id
