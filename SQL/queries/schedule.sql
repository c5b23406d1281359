-- Named queries of the nightly scan's schedule (conveyor.scan_schedule) and
-- of what `status` says about each team's scans (conveyor.scan_runs).

-- name: scan_schedule_teams :many
-- Every team with what its schedule needs: the zone, the local time of day
-- in whole seconds, and the latest local date scheduled, as days since
-- 1970-01-01 (null: none yet).
select t.id, t.name, t.time_zone, t.paused,
       extract(hour from t.scan_local_time)::int as scan_hour,
       extract(minute from t.scan_local_time)::int as scan_minute,
       floor(extract(second from t.scan_local_time))::int as scan_second,
       t.created_at,
       (select max(s.local_date) from conveyor.scan_schedule s where s.team_id = t.id)
           - date '1970-01-01' as last_scheduled_day
from conveyor.teams t
order by t.id

-- name: claim_scan_date :optional
-- $1 team id, $2 local date, $3 due at. The primary key lets one
-- transaction claim a team's local date, however many daemons try; the
-- claim's job id is set (set_scan_job) before it commits.
insert into conveyor.scan_schedule (team_id, local_date, due_at, job_id)
values ($1, $2::date, $3, 0)
on conflict do nothing
returning team_id

-- name: set_scan_job :exec
update conveyor.scan_schedule set job_id = $3 where team_id = $1 and local_date = $2::date

-- name: last_scan_runs :many
-- Each team's newest scan run (teams without one are left out).
select t.id as team_id, r.trigger, r.started_at, r.finished_at, r.outcome::text as outcome
from conveyor.teams t
join lateral (
    select trigger, started_at, finished_at, outcome
    from conveyor.scan_runs
    where team_id = t.id
    order by finished_at desc, id desc
    limit 1
) as r on true
