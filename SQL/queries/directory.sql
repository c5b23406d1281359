-- Named queries behind the admin commands for teams, reps and accounts.

-- name: list_teams :many
select id, name, time_zone, scan_local_time::text as scan_local_time, paused, skills_fallback
from conveyor.teams
order by name

-- name: add_team :one
insert into conveyor.teams (name, time_zone, scan_local_time)
values ($1, coalesce($2, 'UTC'), coalesce($3::time, '02:00'))
returning id, name, time_zone, scan_local_time::text as scan_local_time, paused, skills_fallback

-- name: update_team :optional
-- $2/$3/$4 null: keep.
update conveyor.teams
set time_zone = coalesce($2, time_zone),
    scan_local_time = coalesce($3::time, scan_local_time),
    paused = coalesce($4, paused)
where name = $1
returning id, name, time_zone, scan_local_time::text as scan_local_time, paused, skills_fallback

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
-- The handoffs of one published batch, for watch subscribers.
select h.id, t.name as team, a.ref as account, f.ref as from_ref, r.ref as to_ref, h.kind, h.created_at
from conveyor.handoffs h
join conveyor.accounts a on a.id = h.account_id
join conveyor.teams t on t.id = a.team_id
left join conveyor.reps f on f.id = h.from_rep_id
join conveyor.reps r on r.id = h.to_rep_id
where h.id between $1 and $2 and a.team_id = $3
order by h.id
