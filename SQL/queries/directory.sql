-- Named queries behind the admin commands for teams, reps and accounts.

-- name: list_teams :many
-- The secret itself is never read here: only whether there is one.
select id, name, time_zone, scan_local_time::text as scan_local_time, paused, skills_fallback,
       webhook_url, webhook_secret is not null as webhook_secret_set,
       conveyor.team_settings(teams)::text as settings
from conveyor.teams
order by name

-- name: add_team :one
insert into conveyor.teams (name, time_zone, scan_local_time)
values ($1, coalesce($2, 'UTC'), coalesce($3::time, '02:00'))
returning id, name, time_zone, scan_local_time::text as scan_local_time, paused, skills_fallback,
          webhook_url, webhook_secret is not null as webhook_secret_set,
          conveyor.team_settings(teams)::text as settings

-- name: update_team :optional
-- $2 time zone, $3 scan time, $4 paused, $5 skills fallback, $6 the scan
-- settings to change as a JSON object (see conveyor.team_settings), $7
-- webhook_url and $8 webhook_secret (empty: remove); null or absent: keep.
update conveyor.teams
set time_zone = coalesce($2, time_zone),
    scan_local_time = coalesce($3::time, scan_local_time),
    paused = coalesce($4, paused),
    skills_fallback = coalesce($5, skills_fallback),
    window_days = coalesce(($6::jsonb ->> 'window_days')::int, window_days),
    min_interactions = coalesce(($6::jsonb ->> 'min_interactions')::int, min_interactions),
    hunter_grace_days = coalesce(($6::jsonb ->> 'hunter_grace_days')::int, hunter_grace_days),
    hunter_share = coalesce(($6::jsonb ->> 'hunter_share')::numeric, hunter_share),
    single_threaded_share = coalesce(($6::jsonb ->> 'single_threaded_share')::numeric, single_threaded_share),
    no_backup_days = coalesce(($6::jsonb ->> 'no_backup_days')::int, no_backup_days),
    bow_tie_share = coalesce(($6::jsonb ->> 'bow_tie_share')::numeric, bow_tie_share),
    bow_tie_min_interactions = coalesce(($6::jsonb ->> 'bow_tie_min_interactions')::int, bow_tie_min_interactions),
    high_severity_share = coalesce(($6::jsonb ->> 'high_severity_share')::numeric, high_severity_share),
    low_value_threshold = coalesce(($6::jsonb ->> 'low_value_threshold')::numeric, low_value_threshold),
    webhook_url = case when $7::text is null then webhook_url else nullif($7, '') end,
    webhook_secret = case when $8::text is null then webhook_secret else nullif($8, '') end
where name = $1
returning id, name, time_zone, scan_local_time::text as scan_local_time, paused, skills_fallback,
          webhook_url, webhook_secret is not null as webhook_secret_set,
          conveyor.team_settings(teams)::text as settings

-- name: team_id :optional
select id from conveyor.teams where name = $1

-- name: list_reps :many
-- $1 team name (null: all teams).
select r.id, t.name as team, r.ref, r.name, r.role, r.capacity, r.skills, r.active, r.away_until,
       coalesce(l.owned, 0) as owned
from conveyor.reps r
join conveyor.teams t on t.id = r.team_id
left join conveyor.rep_loads l on l.rep_id = r.id
where $1::text is null or t.name = $1
order by t.name, r.ref

-- name: add_rep :one
insert into conveyor.reps (team_id, ref, name, role, capacity, skills)
values ($1, $2, coalesce($3, $2), $4, coalesce($5::int, 0), coalesce($6::text[], '{}'))
returning id

-- name: update_rep :optional
-- $3..$8 null: keep. $7 away: 'keep' | 'set' | 'clear', $8 its time.
update conveyor.reps
set name = coalesce($3, name),
    role = coalesce($4, role),
    capacity = coalesce($5::int, capacity),
    skills = coalesce($6::text[], skills),
    away_until = case $7 when 'set' then $8::timestamptz when 'clear' then null else away_until end
where team_id = $1 and ref = $2
returning id

-- name: rep_by_ref :optional
select r.id, t.name as team, r.ref, r.name, r.role, r.capacity, r.skills, r.active, r.away_until,
       coalesce(l.owned, 0) as owned
from conveyor.reps r
join conveyor.teams t on t.id = r.team_id
left join conveyor.rep_loads l on l.rep_id = r.id
where r.team_id = $1 and r.ref = $2

-- name: deactivate_rep :exec
update conveyor.reps set active = false where id = $1

-- name: owned_accounts :many
-- The accounts a rep ($1) of team $2 owns in stage active, oldest handoff first.
select id from conveyor.accounts
where team_id = $2 and owner_id = $1 and stage = 'active'
order by handed_off_at nulls first, id

-- name: release_account :exec
-- An account that lost its owner and found no new one goes back to won
-- (its own statement, so the requeue trigger it fires runs before its job is parked).
update conveyor.accounts set owner_id = null, stage = 'won' where id = $1

-- name: park_account_job :exec
-- ...and its handoff job waits (re-armed, or created) for capacity to appear.
insert into conveyor.jobs (kind, payload, unique_key, team_id, state, run_at, last_error)
select 'handoff', jsonb_build_object('account_id', id, 'kind', 'redistribution', 'from_rep_id', $2::bigint),
       'handoff:' || id, team_id, 'waiting', coalesce($4::timestamptz, 'infinity'), $3
from conveyor.accounts where id = $1
on conflict (unique_key) where unique_key is not null do update
set state = 'waiting', payload = excluded.payload, attempts = 0, finished_at = null,
    run_at = excluded.run_at, last_error = excluded.last_error

-- name: settle_account_job :exec
-- A manual handoff settles the account's pending handoff job, unless a
-- worker holds it (that worker rereads the account and finds it routed).
update conveyor.jobs set state = 'succeeded', finished_at = now(), last_error = null
where id in (
    select id from conveyor.jobs
    where unique_key = 'handoff:' || $1::bigint and state in ('available', 'retryable', 'waiting')
    for update skip locked
)

-- name: record_win :one
select conveyor.record_win($1, $2, $3, $4, coalesce($5::text[], '{}'), coalesce($6::numeric, 0)) as job_id

-- name: account_by_ref :optional
select a.id, a.ref, a.name, a.stage, a.needs, a.value::text as value, a.won_at, a.handed_off_at,
       h.ref as hunter, o.ref as owner, t.name as team
from conveyor.accounts a
join conveyor.teams t on t.id = a.team_id
left join conveyor.reps h on h.id = a.hunter_id
left join conveyor.reps o on o.id = a.owner_id
where a.team_id = $1 and a.ref = $2

-- name: latest_explanation :optional
-- The full explanation of an account's latest handoff (see conveyor.handoff_explanation).
select conveyor.handoff_explanation(h.id)::text as explanation
from conveyor.handoffs h
where h.account_id = $1
order by h.created_at desc, h.id desc
limit 1

-- name: handoff_events :many
-- The handoffs of one published batch, for watch subscribers. The batch is
-- read first, by its id range: with stale statistics, starting from the
-- team's accounts instead cost one index probe per account of the team.
with batch as materialized (
    select id, account_id, from_rep_id, to_rep_id, kind, created_at
    from conveyor.handoffs
    where id between $1 and $2
)
select h.id, t.name as team, a.ref as account, f.ref as from_ref, r.ref as to_ref, h.kind, h.created_at
from batch h
join conveyor.accounts a on a.id = h.account_id
join conveyor.teams t on t.id = a.team_id
left join conveyor.reps f on f.id = h.from_rep_id
join conveyor.reps r on r.id = h.to_rep_id
where a.team_id = $3
order by h.id
